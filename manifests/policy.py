"""The licence policy: may these shards be used for this purpose?

A pure function over plain facts, so the registry, the API and the trainer all
reach the same verdict, and a verdict can be recomputed and audited later.

Rules (each yields a ``Violation`` with the code in brackets):

* The intended use must be one of ``INTENDED_USES`` [unknown-intended-use].
* Every shard's source must be known [unknown-source].
* A licence that forbids AI training blocks every use [no-ai-training].
* For ``commercial`` use, a non-commercial licence (``non_commercial`` set or
  ``commercial_use`` unset) [non-commercial] and a no-derivatives licence
  (``derivatives`` unset) [no-derivatives] block.
* ``LicenseRef-unknown`` blocks [unknown-licence]; a licence id with no facts
  blocks [unrecognised-licence].
* A revoked source [source-revoked], an opted-out source [source-opted-out] and
  a revoked shard [shard-revoked] block.
* A source with contributors but no compensation terms blocks
  [no-compensation-terms].
* Records that carry their own licence (``RecordLicenceFacts``: a source's
  records under one record licence expression, with their record and token
  counts) are judged by the same licence rules as the source's licence, each
  violation naming the source, the record licence and the records and tokens
  it covers (``Violation.record_licence``, ``records``, ``tokens``): a record
  under CC-BY-NC-4.0 blocks commercial use even if its source is MIT. Their
  obligations are reported per source and record licence in
  ``PolicyVerdict.record_obligations``.

Waivers are recorded risk acceptances, keyed by source name, each with a
non-empty reason. A waiver lifts only the violations that are about
uncertainty or withdrawal: unknown-licence, source-revoked, source-opted-out
and shard-revoked. It never lifts no-ai-training, non-commercial or
no-derivatives (those are the licensor's explicit terms, not a risk to
accept), nor unknown-source, unrecognised-licence or no-compensation-terms.
A waiver for a source that no shard uses [unused-waiver] and a waiver with an
empty reason [empty-waiver-reason] are violations themselves. Lifted
violations are reported in ``PolicyVerdict.waived``.

SPDX expressions are evaluated on their structure: ``A OR B`` is allowed if
either branch is, and then carries the obligations of the allowed branch with
the fewest (branches that need no waiver preferred); ``A AND B`` is allowed
only if both are, and carries the obligations of both; ``A WITH exception`` is
evaluated as ``A``.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, Final

import license_expression as lx

from manifests.digests import is_hex64
from manifests.errors import LicenceExpressionError, PolicyInputError

INTENDED_USES: Final = ("commercial", "research", "internal-evaluation", "education")
OBLIGATIONS: Final = ("attribution", "share-alike")
UNKNOWN_LICENCE: Final = "LicenseRef-unknown"
SOURCE_STATUSES: Final = ("active", "revoked")
CONSENT_STATUSES: Final = ("not-required", "consented", "opted-out", "unknown")
COMPENSATION_MODELS: Final = ("per-mtok", "flat", "pool", "none")
WAIVABLE: Final = frozenset(
    {"unknown-licence", "source-revoked", "source-opted-out", "shard-revoked"}
)

_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")


# --- SPDX expressions ------------------------------------------------------------------------


@cache
def _licensing() -> lx.Licensing:
    return lx.get_spdx_licensing()


def _parse(expression: str) -> Any:
    """Parse and validate; ``LicenseRef-*`` ids are allowed, other unknown ids are not."""
    if not isinstance(expression, str) or not expression.strip():
        raise LicenceExpressionError(f"licence expression {expression!r} is empty")
    licensing = _licensing()
    try:
        parsed = licensing.parse(expression, strict=True)
    except (lx.ExpressionError, lx.ParseError) as exc:
        raise LicenceExpressionError(
            f"licence expression {expression!r} is malformed: {exc}"
        ) from exc
    if parsed is None:
        raise LicenceExpressionError(f"licence expression {expression!r} is empty")
    unknown = [
        key for key in licensing.unknown_license_keys(parsed) if not _LICENSE_REF.fullmatch(key)
    ]
    if unknown:
        raise LicenceExpressionError(
            f"licence expression {expression!r} names unknown licence id(s) "
            f"{', '.join(sorted(unknown))}; use SPDX ids or LicenseRef-*"
        )
    return parsed


def parse_licence_expression(expression: str) -> str:
    """Return the normalised form of an SPDX expression (canonical ids and operators).

    Validate user input through this function; the result is what should be
    stored, so that equal expressions compare equal.

    Raises:
        LicenceExpressionError: the expression is empty, malformed, or names a
            licence id that is neither SPDX-listed nor ``LicenseRef-*``.
    """
    return str(_parse(expression))


def licence_ids(expression: str) -> frozenset[str]:
    """Return the licence ids an expression names (WITH exceptions excluded).

    Raises:
        LicenceExpressionError: as ``parse_licence_expression``.
    """
    return frozenset(_symbol_keys(_parse(expression)))


def _symbol_keys(node: Any) -> Iterable[str]:
    if isinstance(node, lx.LicenseWithExceptionSymbol):
        yield node.license_symbol.key
    elif isinstance(node, lx.LicenseSymbol):
        yield node.key
    else:
        for arg in node.args:
            yield from _symbol_keys(arg)


# --- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceFacts:
    """What a licence permits and requires, as recorded in the registry."""

    spdx_id: str
    commercial_use: bool
    derivatives: bool
    attribution: bool
    share_alike: bool
    non_commercial: bool
    no_ai_training: bool

    def __post_init__(self) -> None:
        if not isinstance(self.spdx_id, str) or not self.spdx_id:
            raise PolicyInputError(f"licence spdx_id must be a non-empty string: {self.spdx_id!r}")
        for name in (
            "commercial_use",
            "derivatives",
            "attribution",
            "share_alike",
            "non_commercial",
            "no_ai_training",
        ):
            if not isinstance(getattr(self, name), bool):
                raise PolicyInputError(f"licence {self.spdx_id}: {name} must be a bool")

    @property
    def obligations(self) -> frozenset[str]:
        """The obligations using data under this licence carries."""
        return frozenset(
            name
            for name, flag in (("attribution", self.attribution), ("share-alike", self.share_alike))
            if flag
        )


@dataclass(frozen=True)
class SourceFacts:
    """A source's licence, status, consent and compensation terms."""

    name: str
    licence_expression: str
    status: str
    consent_status: str
    contributor_count: int
    compensation_model: str | None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise PolicyInputError(f"source name must be a non-empty string: {self.name!r}")
        _check_choice(f"source {self.name}: status", self.status, SOURCE_STATUSES)
        _check_choice(f"source {self.name}: consent_status", self.consent_status, CONSENT_STATUSES)
        if self.compensation_model is not None:
            _check_choice(
                f"source {self.name}: compensation_model",
                self.compensation_model,
                COMPENSATION_MODELS,
            )
        if type(self.contributor_count) is not int or self.contributor_count < 0:
            raise PolicyInputError(
                f"source {self.name}: contributor_count must be a non-negative integer"
            )
        if not isinstance(self.licence_expression, str):
            raise PolicyInputError(f"source {self.name}: licence_expression must be a string")


@dataclass(frozen=True)
class ShardFacts:
    """A shard, the source it came from, and whether it is still usable."""

    shard_id: str
    source_name: str
    status: str

    def __post_init__(self) -> None:
        if not is_hex64(self.shard_id):
            raise PolicyInputError(f"shard id must be 64 lowercase hex: {self.shard_id!r}")
        _check_choice(f"shard {self.shard_id}: status", self.status, SOURCE_STATUSES)


@dataclass(frozen=True)
class RecordLicenceFacts:
    """A source's records under one record licence (summed over the shards at hand)."""

    source_name: str
    licence_expression: str
    records: int
    tokens: int

    def __post_init__(self) -> None:
        if not isinstance(self.source_name, str) or not self.source_name:
            raise PolicyInputError(f"source name must be a non-empty string: {self.source_name!r}")
        if not isinstance(self.licence_expression, str):
            raise PolicyInputError(f"source {self.source_name}: record licence must be a string")
        for name in ("records", "tokens"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise PolicyInputError(
                    f"source {self.source_name}: record licence {name} must be a "
                    "non-negative integer"
                )


@dataclass(frozen=True)
class Violation:
    """One reason a manifest may not be used; ``source`` is None for manifest-wide ones.
    A violation by records under their own licence names it and their counts."""

    code: str
    source: str | None
    message: str
    shard: str | None = None
    licence: str | None = None
    record_licence: str | None = None
    records: int | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class PolicyVerdict:
    """The whole answer: every violation, in a stable order, and what use obliges.

    ``obligations`` maps every known source used by the shards to its sorted
    obligations: those of the chosen licence branch when allowed, and all the
    expression's obligations (the conservative answer) when blocked.
    ``waived`` lists the violations that waivers lifted.
    """

    allowed: bool
    violations: tuple[Violation, ...]
    obligations: Mapping[str, tuple[str, ...]]
    waived: tuple[Violation, ...] = ()
    record_obligations: Mapping[tuple[str, str], tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """(source, record licence) -> the obligations of those records."""


def _check_choice(what: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise PolicyInputError(f"{what} must be one of {', '.join(choices)}; got {value!r}")


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """The evaluation of one (sub)expression for one source."""

    allowed: bool
    obligations: frozenset[str]
    problems: frozenset[tuple[str, str, str]]  # (code, licence id, message), blocking
    waived: frozenset[tuple[str, str, str]]  # problems lifted by a waiver
    text: str

    def rank(self) -> tuple[bool, int, tuple[str, ...], str]:
        return (
            bool(self.waived),
            len(self.obligations),
            tuple(sorted(self.obligations)),
            self.text,
        )


def _evaluate_node(
    node: Any, licences: Mapping[str, LicenceFacts], commercial: bool, waived: bool
) -> _Outcome:
    if isinstance(node, lx.LicenseWithExceptionSymbol):
        return _evaluate_leaf(node.license_symbol.key, licences, commercial, waived)
    if isinstance(node, lx.LicenseSymbol):
        return _evaluate_leaf(node.key, licences, commercial, waived)
    parts = [_evaluate_node(arg, licences, commercial, waived) for arg in node.args]
    if isinstance(node, lx.OR):
        allowed = [p for p in parts if p.allowed]
        if allowed:
            return min(allowed, key=_Outcome.rank)
        return _Outcome(
            False,
            frozenset().union(*(p.obligations for p in parts)),
            frozenset().union(*(p.problems for p in parts)),
            frozenset(),
            str(node),
        )
    return _Outcome(  # AND
        all(p.allowed for p in parts),
        frozenset().union(*(p.obligations for p in parts)),
        frozenset().union(*(p.problems for p in parts)),
        frozenset().union(*(p.waived for p in parts)),
        str(node),
    )


def _evaluate_leaf(
    key: str, licences: Mapping[str, LicenceFacts], commercial: bool, waived: bool
) -> _Outcome:
    problems: list[tuple[str, str, str]] = []
    obligations: frozenset[str] = frozenset()
    if key == UNKNOWN_LICENCE:
        problems.append(("unknown-licence", key, "the licence is unknown"))
    elif key not in licences:
        problems.append(("unrecognised-licence", key, f"licence {key} has no recorded terms"))
    else:
        facts = licences[key]
        obligations = facts.obligations
        if facts.no_ai_training:
            problems.append(("no-ai-training", key, f"{key} forbids AI training"))
        if commercial and (facts.non_commercial or not facts.commercial_use):
            problems.append(("non-commercial", key, f"{key} forbids commercial use"))
        if commercial and not facts.derivatives:
            problems.append(("no-derivatives", key, f"{key} forbids derivative works"))
    lifted = frozenset(p for p in problems if waived and p[0] in WAIVABLE)
    blocking = frozenset(problems) - lifted
    return _Outcome(not blocking, obligations, blocking, lifted, key)


def evaluate_policy(
    *,
    shards: Iterable[ShardFacts],
    sources: Mapping[str, SourceFacts],
    licences: Mapping[str, LicenceFacts],
    intended_use: str,
    waivers: Mapping[str, str],
    record_licences: Iterable[RecordLicenceFacts] = (),
) -> PolicyVerdict:
    """Evaluate the licence policy for a set of shards and an intended use.

    Lists every violation (never only the first), sorted: manifest-wide ones
    first, then by source, code, licence and shard. See the module docstring
    for the rules and what waivers can lift.

    Raises:
        PolicyInputError: a ``sources`` or ``licences`` key does not match the
            facts it maps to, or a waiver key or reason is not a string.
    """
    for key, facts in sources.items():
        if key != facts.name:
            raise PolicyInputError(f"sources key {key!r} maps to source {facts.name!r}")
    for key, licence in licences.items():
        if key != licence.spdx_id:
            raise PolicyInputError(f"licences key {key!r} maps to licence {licence.spdx_id!r}")
    for key, reason in waivers.items():
        if not isinstance(key, str) or not isinstance(reason, str):
            raise PolicyInputError(f"waiver {key!r}: source and reason must be strings")

    violations: list[Violation] = []
    lifted: list[Violation] = []
    if intended_use not in INTENDED_USES:
        violations.append(
            Violation(
                "unknown-intended-use",
                None,
                f"intended use {intended_use!r} is not one of {', '.join(INTENDED_USES)}",
            )
        )
    commercial = intended_use == "commercial"
    valid_waivers = {name for name, reason in waivers.items() if reason.strip()}

    def record(violation: Violation) -> None:
        waivable = violation.code in WAIVABLE and violation.source in valid_waivers
        (lifted if waivable else violations).append(violation)

    shard_counts: dict[str, int] = {}
    for shard in shards:
        shard_counts[shard.source_name] = shard_counts.get(shard.source_name, 0) + 1
        if shard.status == "revoked":
            record(
                Violation(
                    "shard-revoked",
                    shard.source_name,
                    f"shard {shard.shard_id} of source {shard.source_name!r} is revoked",
                    shard=shard.shard_id,
                )
            )

    obligations: dict[str, tuple[str, ...]] = {}
    for name in sorted(shard_counts):
        source = sources.get(name)
        if source is None:
            violations.append(
                Violation(
                    "unknown-source",
                    name,
                    f"{shard_counts[name]} shard(s) name source {name!r}, which is not known",
                )
            )
            continue
        obligations[name] = _check_source(
            source, licences, commercial, name in valid_waivers, record
        )

    record_obligations: dict[tuple[str, str], tuple[str, ...]] = {}
    for use in sorted(record_licences, key=lambda f: (f.source_name, f.licence_expression)):
        if use.source_name not in obligations:
            continue  # an unknown source is reported above, once
        record_obligations[(use.source_name, use.licence_expression)] = _check_records(
            use, licences, commercial, use.source_name in valid_waivers, record
        )

    for name in sorted(waivers):
        if name not in shard_counts:
            violations.append(
                Violation("unused-waiver", name, f"waiver for source {name!r}, which no shard uses")
            )
        elif name not in valid_waivers:
            violations.append(
                Violation("empty-waiver-reason", name, f"waiver for source {name!r} has no reason")
            )

    ordered = tuple(sorted(violations, key=_violation_order))
    return PolicyVerdict(
        allowed=not ordered,
        violations=ordered,
        obligations=MappingProxyType(obligations),
        waived=tuple(sorted(lifted, key=_violation_order)),
        record_obligations=MappingProxyType(record_obligations),
    )


def _check_records(
    facts: RecordLicenceFacts,
    licences: Mapping[str, LicenceFacts],
    commercial: bool,
    waived: bool,
    record: Callable[[Violation], None],
) -> tuple[str, ...]:
    """Record the violations of a source's records under their own licence; their obligations."""
    name, expression = facts.source_name, facts.licence_expression
    counted = f"{facts.records} record(s), {facts.tokens} tokens"

    def violation(code: str, licence: str | None, message: str) -> Violation:
        return Violation(
            code,
            name,
            f"source {name!r}: {counted} under record licence {expression}: {message}",
            licence=licence,
            record_licence=expression,
            records=facts.records,
            tokens=facts.tokens,
        )

    try:
        parsed = _parse(expression)
    except LicenceExpressionError as exc:
        record(violation("invalid-licence-expression", None, str(exc)))
        return ()
    outcome = _evaluate_node(parsed, licences, commercial, waived)
    for code, licence, message in sorted(outcome.problems | outcome.waived):
        record(violation(code, licence, message))
    return tuple(sorted(outcome.obligations))


def _check_source(
    source: SourceFacts,
    licences: Mapping[str, LicenceFacts],
    commercial: bool,
    waived: bool,
    record: Callable[[Violation], None],
) -> tuple[str, ...]:
    """Record the source's violations and return its obligations."""
    name = source.name
    if source.status == "revoked":
        record(Violation("source-revoked", name, f"source {name!r} is revoked"))
    if source.consent_status == "opted-out":
        record(Violation("source-opted-out", name, f"source {name!r} has opted out"))
    if source.contributor_count > 0 and source.compensation_model is None:
        record(
            Violation(
                "no-compensation-terms",
                name,
                f"source {name!r} has {source.contributor_count} contributor(s) "
                "but no compensation terms",
            )
        )
    try:
        parsed = _parse(source.licence_expression)
    except LicenceExpressionError as exc:
        record(Violation("invalid-licence-expression", name, str(exc)))
        return ()
    outcome = _evaluate_node(parsed, licences, commercial, waived)
    for code, licence, message in sorted(outcome.problems | outcome.waived):
        record(Violation(code, name, f"source {name!r}: {message}", licence=licence))
    return tuple(sorted(outcome.obligations))


def _violation_order(v: Violation) -> tuple[bool, str, str, str, str, str, str]:
    return (
        v.source is not None,
        v.source or "",
        v.code,
        v.record_licence or "",
        v.licence or "",
        v.shard or "",
        v.message,
    )
