"""The evaluator: what the observations known at a time say of a URL, for one crawler.

The combination rule (``docs/signals.md``), applied per URL:

1. The source's licence: a licence flagged ``no_ai_training`` on every choice disallows.
2. robots.txt in force: a path the crawler may not fetch is disallowed (the record should not
   have been collected); ``Content-Usage`` and ``Content-Signal`` apply only to the others.
3. Every other statement gives allow, disallow or unknown for AI training: the
   ``Content-Usage`` header of that URL, robots.txt ``Content-Usage`` (longest match, most
   restrictive on ties), TDMRep (file, then header, then HTML meta, each later one superseding;
   ``1`` reserved = disallow, ``0`` = allow) and Cloudflare's ``Content-Signal``.
4. They combine as draft-ietf-aipref-vocab section 7.1 combines statements: any disallow wins,
   else any allow, else unknown. The first statement with the winning state, in the order
   above, is the one that decided; every statement is kept beside it.

"In force at T" is the latest observation of its kind (per URL for headers and HTML) whose
``observed_at`` is at or before T: a newer robots.txt replaces an older one, it does not add.

``Judge`` compiles each origin once and caches each path's verdict, for bulk use at ingest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, Literal

from protego._urlpattern import _URLPattern
from protego._utils import _quote_path

from registry.signals import headers as header_fields
from registry.signals import tdmrep
from registry.signals.origins import parse_url
from registry.signals.robots import RobotsRules
from registry.signals.vocab import State, Vocabulary, parse_statement, vocabulary

Outcome = Literal["allowed", "disallowed", "unknown"]
ROBOTS: Final = "robots.txt"
TDMREP: Final = "tdmrep.json"
HEADER: Final = "http-header"
HTML: Final = "html"
KINDS: Final = (ROBOTS, TDMREP, HEADER, HTML)
URL_KINDS: Final = (HEADER, HTML)

# Signal names, as reports count them; ORDER is who decides when several agree.
LICENCE = "licence"
ROBOTS_DISALLOW = "robots-disallow"
CONTENT_USAGE_HEADER = "content-usage-header"
ROBOTS_CONTENT_USAGE = "robots-content-usage"
TDMREP_SIGNAL = "tdmrep"
CONTENT_SIGNAL = "robots-content-signal"
ORDER: Final = (
    LICENCE,
    ROBOTS_DISALLOW,
    CONTENT_USAGE_HEADER,
    ROBOTS_CONTENT_USAGE,
    TDMREP_SIGNAL,
    CONTENT_SIGNAL,
)
_OUTCOME: Final[dict[State, Outcome]] = {
    "allow": "allowed",
    "disallow": "disallowed",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class ObservationFact:
    """What the evaluator needs of one stored observation: its bytes and the vocabulary of its
    latest parse (``url_path`` is the path and query for header and HTML observations)."""

    id: int
    origin: str
    kind: str
    observed_at: datetime
    raw: bytes
    vocabulary: str
    url_path: str | None = None


@dataclass(frozen=True)
class Signal:
    """One statement about a URL: which signal, what it says, and the observation behind it."""

    signal: str
    state: State
    observation: int | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    state: Outcome
    decided_by: Signal | None
    signals: tuple[Signal, ...] = ()


def decide(signals: Sequence[Signal]) -> Verdict:
    """Combine statements (rule 4): any disallow wins, then any allow, in ``ORDER``."""
    ranked = sorted(signals, key=lambda s: ORDER.index(s.signal))
    for state in ("disallow", "allow"):
        for s in ranked:
            if s.state == state:
                return Verdict(_OUTCOME[s.state], s, tuple(ranked))
    return Verdict("unknown", None, tuple(ranked))


def in_force(facts: Iterable[ObservationFact], at: datetime | None) -> list[ObservationFact]:
    """The latest observation of each kind (per URL for URL kinds) at or before ``at``."""
    latest: dict[tuple[str, str | None], ObservationFact] = {}
    for f in facts:
        if at is not None and f.observed_at > at:
            continue
        key = (f.kind, f.url_path if f.kind in URL_KINDS else None)
        old = latest.get(key)
        if old is None or (f.observed_at, f.id) > (old.observed_at, old.id):
            latest[key] = f
    return sorted(latest.values(), key=lambda f: (f.kind, f.url_path or "", f.id))


@dataclass
class _UrlSignals:
    usage: Signal | None = None
    tdm_header: tdmrep.TdmValue = field(default_factory=lambda: tdmrep.TdmValue(None))
    tdm_header_obs: int | None = None
    tdm_html: tdmrep.TdmValue = field(default_factory=lambda: tdmrep.TdmValue(None))
    tdm_html_obs: int | None = None


def _header_signals(fact: ObservationFact, vocab: Vocabulary, into: _UrlSignals) -> None:
    fields = header_fields.parse_field_lines(fact.raw.decode("utf-8", errors="replace"))
    if "content-usage" in fields:
        statement = parse_statement(fields["content-usage"].encode(), vocab)
        into.usage = Signal(
            CONTENT_USAGE_HEADER,
            statement.training(vocab),
            fact.id,
            f"Content-Usage: {fields['content-usage']}"
            + (f" (unparsable: {statement.error})" if statement.error else ""),
        )
    into.tdm_header, into.tdm_header_obs = tdmrep.from_headers(fields), fact.id


@lru_cache(maxsize=4096)
def _robots_rules(raw: bytes, crawler: str, vocab: str) -> RobotsRules:
    """Compiled once per distinct file: many sites serve the same robots.txt."""
    return RobotsRules(raw.decode("utf-8", errors="replace"), crawler, vocabulary(vocab))


@lru_cache(maxsize=4096)
def _tdm_file(raw: bytes) -> tdmrep.TdmFile:
    return tdmrep.parse_file(raw)


def _regex(pattern: str) -> Callable[[str], bool]:
    """A robots.txt pattern with ``*`` or a final ``$`` as a predicate on a quoted path; it
    matches exactly what ``protego``'s ``_URLPattern.match`` does. One ``*`` (the usual
    ``/*.pdf$``) is a prefix and a suffix test; more become a regex (leftmost placement of the
    literal parts, which protego finds, is what a regex finds)."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    parts = body.split("*")
    if len(parts) == 1:  # anchored, no wildcard: the whole path
        return body.__eq__
    if len(parts) == 2:
        head, tail = parts
        size = len(head) + len(tail)
        if anchored:
            return lambda p: len(p) >= size and p.startswith(head) and p.endswith(tail)
        return lambda p: p.startswith(head) and tail in p[len(head) :]
    regex = re.compile(
        ".*".join(re.escape(x) for x in parts) + (r"\Z" if anchored else ""), re.DOTALL
    )
    return lambda p: regex.match(p) is not None


class OriginRules:
    """The observations in force for one origin, compiled for one crawler; ``judge(path)``."""

    def __init__(self, origin: str, facts: Iterable[ObservationFact], crawler: str) -> None:
        self.origin = origin
        self.robots: RobotsRules | None = None
        self.robots_obs: int | None = None
        self.tdm: tdmrep.TdmFile | None = None
        self.tdm_obs: int | None = None
        self.urls: dict[str, _UrlSignals] = {}
        self.cache: dict[str, Verdict] = {}
        self.keyed: dict[Any, Verdict] = {}
        for f in facts:
            vocab = vocabulary(f.vocabulary)
            if f.kind == ROBOTS:
                self.robots, self.robots_obs = _robots_rules(f.raw, crawler, f.vocabulary), f.id
            elif f.kind == TDMREP:
                self.tdm, self.tdm_obs = _tdm_file(f.raw), f.id
            elif f.kind == HEADER and f.url_path is not None:
                _header_signals(f, vocab, self.urls.setdefault(f.url_path, _UrlSignals()))
            elif f.kind == HTML and f.url_path is not None:
                url = self.urls.setdefault(f.url_path, _UrlSignals())
                url.tdm_html, url.tdm_html_obs = tdmrep.from_html(f.raw), f.id
        self._compile_keys()

    def signals(self, path: str) -> list[Signal]:
        out: list[Signal] = []
        if self.robots is not None:
            j = self.robots.judge(path)
            if not j.fetchable:
                group = self.robots.group or "*"
                return [
                    Signal(
                        ROBOTS_DISALLOW,
                        "disallow",
                        self.robots_obs,
                        f"robots.txt group {group!r} disallows fetching the path",
                    )
                ]
            if j.usage_rule is not None:
                r = j.usage_rule
                out.append(
                    Signal(
                        ROBOTS_CONTENT_USAGE,
                        j.usage,
                        self.robots_obs,
                        f"line {r.line}: Content-Usage: {r.path} {r.statement}",
                    )
                )
            if j.signal_rule is not None:
                r = j.signal_rule
                out.append(
                    Signal(
                        CONTENT_SIGNAL,
                        j.signal,
                        self.robots_obs,
                        f"line {r.line}: Content-Signal: {r.path} {r.statement}",
                    )
                )
        url = self.urls.get(path)
        if url is not None and url.usage is not None:
            out.append(url.usage)
        tdm = self._tdm(path, url)
        if tdm is not None:
            out.append(tdm)
        return out

    def _tdm(self, path: str, url: _UrlSignals | None) -> Signal | None:
        file_value, rule = (
            self.tdm.lookup(path) if self.tdm is not None else (tdmrep.TdmValue(None), None)
        )
        header = url.tdm_header if url else tdmrep.TdmValue(None)
        html = url.tdm_html if url else tdmrep.TdmValue(None)
        value, where = tdmrep.resolve(file_value, header, html)
        if where is None or value.reservation is None:
            return None
        technique = ("tdmrep.json", "tdm-reservation header", "HTML meta")[where]
        obs = (self.tdm_obs, url.tdm_header_obs if url else None, url.tdm_html_obs if url else None)
        detail = f"{technique}: tdm-reservation={value.reservation}"
        if where == 0 and rule is not None:
            detail += f" (location {rule.location!r})"
        if value.policy:
            detail += f", tdm-policy {value.policy}"
        state: State = "disallow" if value.reservation == 1 else "allow"
        return Signal(TDMREP_SIGNAL, state, obs[where], detail)

    def observation_ids(self) -> set[int]:
        """The observations in force here (what a judgement of this origin applied)."""
        ids = {self.robots_obs, self.tdm_obs}
        for u in self.urls.values():
            ids |= {u.usage.observation if u.usage else None, u.tdm_header_obs, u.tdm_html_obs}
        return {i for i in ids if i is not None}

    def _compile_keys(self) -> None:
        """The patterns every judgement depends on, split into plain prefixes and the rest.

        Why a verdict can be cached per key, not per path: if a path starts with two plain
        prefixes, the shorter is a prefix of the longer; so which plain prefixes a path starts
        with is fixed by the longest one it starts with. With which special patterns (``*``,
        ``$``) match, that fixes every rule's outcome, hence the verdict.
        """
        patterns: list[_URLPattern] = []
        if self.robots is not None:
            patterns += self.robots.patterns()
        if self.tdm is not None:
            patterns += self.tdm.patterns()
        plain = {p._pattern for p in patterns if not (p._contains_asterisk or p._contains_dollar)}
        self.plain = sorted(plain, key=len, reverse=True)
        # One C-level fullmatch finds the longest plain prefix (alternatives are tried longest
        # first) and says whether the path needs no quoting (the rest is protego's safe set).
        alternatives = "|".join(re.escape(p) for p in self.plain)
        self.plain_match = re.compile(f"(?!//)({alternatives})[A-Za-z0-9_.~/=-]*").fullmatch
        special = {p._pattern for p in patterns if p._contains_asterisk or p._contains_dollar}
        self.special = [_regex(k) for k in sorted(special)]

    def judge(self, path: str) -> Verdict:
        """The verdict for ``path`` (path and query), cached per key (``_compile_keys``)."""
        if path in self.urls or path == "/robots.txt":
            return self._by_path(path)
        m = self.plain_match(path)  # the longest plain prefix, if the path needs no quoting
        if m is None:
            quoted = _quote_path(path)
            m = self.plain_match(quoted)
            if m is None:  # pragma: no cover - a quoted path is plain
                return self._by_path(path)
        else:
            quoted = path
        special = self.special
        key: Any = (m.group(1), *[r(quoted) for r in special]) if special else m.group(1)
        verdict = self.keyed.get(key)
        if verdict is None:
            verdict = self.keyed[key] = decide(self.signals(path))
        return verdict

    def _by_path(self, path: str) -> Verdict:
        cached = self.cache.get(path)
        if cached is None:
            cached = self.cache[path] = decide(self.signals(path))
        return cached


UNKNOWN: Final = Verdict("unknown", None)
_SCHEMES: Final = frozenset({"http:", "https:"})
_ORIGIN = re.compile(r"(https?://[^/?#@:A-Z]+)((?:/[^#]*)?)")


class Judge:
    """Judges many URLs: each origin compiled once (from the facts given for it), each path's
    verdict cached. ``licence``, a source's licence signal, disallows every URL when it does."""

    def __init__(
        self,
        facts: Iterable[ObservationFact],
        crawler: str,
        at: datetime | None,
        licence: Signal | None = None,
    ) -> None:
        by_origin: dict[str, list[ObservationFact]] = {}
        for f in facts:
            by_origin.setdefault(f.origin, []).append(f)
        self.origins = {
            origin: OriginRules(origin, in_force(fs, at), crawler)
            for origin, fs in by_origin.items()
        }
        self.licence = licence
        self._all = (
            decide([licence]) if licence is not None and licence.state == "disallow" else None
        )

    def split(self, url: str) -> tuple[str, str]:
        """(origin, path and query) of an absolute URL, fast for the common normal form.

        Raises:
            InvalidInput: ``url`` is not an absolute http(s) URL.
        """
        m = _ORIGIN.fullmatch(url)
        if m is not None:
            return m.group(1), m.group(2) or "/"
        return parse_url(url)  # uppercase, a port, a fragment, credentials: the careful way

    def judge(self, url: str) -> Verdict:
        """The verdict for one absolute URL (raises ``InvalidInput`` for anything else)."""
        if self._all is not None:
            return self._all
        origin, path = self.split(url)
        rules = self.origins.get(origin)
        return UNKNOWN if rules is None else rules.judge(path)

    def judge_many(self, urls: Iterable[str]) -> list[Verdict]:
        """``judge`` over many URLs (the same loop, with its lookups hoisted, and a split by
        ``str.split`` for the normal form ``scheme://host/path``; anything else the careful way)."""
        if self._all is not None:
            return [self._all for _ in urls]
        out: list[Verdict] = []
        append, origins = out.append, self.origins
        for url in urls:
            parts = url.split("/", 3)
            if (
                len(parts) == 4
                and parts[0] in _SCHEMES
                and not parts[1]
                and parts[2]
                and parts[2] == parts[2].lower()
                and ":" not in parts[2]
                and "@" not in parts[2]
                and "#" not in parts[3]
                and "?" not in parts[2]
            ):
                origin, path = f"{parts[0]}//{parts[2]}", "/" + parts[3]
            else:
                origin, path = self.split(url)
            rules = origins.get(origin)
            append(UNKNOWN if rules is None else rules.judge(path))
        return out
