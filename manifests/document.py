"""The manifest document, schemas ``provreg.manifest/1`` and ``provreg.manifest/2``.

The two differ only in what a Merkle leaf is (``docs/manifest-format.md``): ``/1`` commits to
shard ids, ``/2`` to each shard id and its record root (``manifests.records``), so one record
can be proven. The registry writes ``/2``; ``/1`` documents parse, hash and verify as before.

The document is what a manifest *is*: its hash (SHA-256 of the RFC 8785
canonical JSON) is the manifest's identity, stamped into weights and shown in
disclosures. So the document holds only declared content, every list is in
one sorted order, and parsing is strict: ``from_dict`` accepts exactly the
documents ``to_dict`` can produce.

Round trip: for every ``d`` that ``ManifestDocument.from_dict`` accepts,
``from_dict(d).to_dict() == d``, and for every document ``m``,
``from_dict(m.to_dict()) == m``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Final

from manifests.canonical import canonical_json, sha256_hex
from manifests.digests import is_hex64
from manifests.errors import DocumentError, LicenceExpressionError
from manifests.merkle import ALGORITHM, EMPTY_ROOT
from manifests.policy import INTENDED_USES, OBLIGATIONS, parse_licence_expression

SCHEMA_V1: Final = "provreg.manifest/1"
SCHEMA_V2: Final = "provreg.manifest/2"
SCHEMA: Final = SCHEMA_V1  # the dataclass default, so documents built before /2 keep their bytes
SCHEMAS: Final = (SCHEMA_V1, SCHEMA_V2)
MAX_JSON_INT: Final = 2**53 - 1  # RFC 8785 numbers are IEEE 754 doubles

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

__all__ = [
    "INTENDED_USES",
    "SCHEMA",
    "SCHEMAS",
    "SCHEMA_V1",
    "SCHEMA_V2",
    "ManifestDocument",
    "ManifestLicence",
    "ManifestSource",
    "Waiver",
    "format_timestamp",
    "merkle_commitment",
]


def format_timestamp(moment: datetime) -> str:
    """Return ``moment`` as the document's RFC 3339 form, ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

    Sub-second precision is dropped: it is noise in a document that is hashed.

    Raises:
        DocumentError: ``moment`` is naive (has no time zone).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DocumentError("created_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- field checks ---------------------------------------------------------------------------


def _text(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DocumentError(f"{where} must be a non-empty string")
    return value


def _count(where: str, value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_JSON_INT:
        raise DocumentError(f"{where} must be an integer from 0 to 2**53-1, got {value!r}")
    return value


def _obligations(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list):
        raise DocumentError(f"{where} must be a list")
    for item in value:
        if item not in OBLIGATIONS:
            raise DocumentError(f"{where} holds {item!r}; expected one of {', '.join(OBLIGATIONS)}")
    return tuple(value)


def _sorted_unique(where: str, keys: list[str]) -> None:
    for previous, current in pairwise(keys):
        if previous == current:
            raise DocumentError(f"{where} holds {current!r} twice")
        if previous > current:
            raise DocumentError(f"{where} must be sorted: {previous!r} comes before {current!r}")


def _expression(where: str, value: object) -> str:
    text = _text(where, value)
    try:
        normalised = parse_licence_expression(text)
    except LicenceExpressionError as exc:
        raise DocumentError(f"{where}: {exc}") from exc
    if normalised != text:
        raise DocumentError(f"{where} must be written in normal form: {normalised!r}")
    return text


# --- the document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestLicence:
    """A licence expression used by the manifest, with what using it obliges.

    Raises:
        DocumentError: on construction, if a field is malformed.
    """

    expression: str
    obligations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _expression("licence expression", self.expression)
        obligations = _obligations(f"licence {self.expression}: obligations", self.obligations)
        _sorted_unique(f"licence {self.expression}: obligations", sorted(obligations))
        object.__setattr__(self, "obligations", tuple(sorted(obligations)))

    def to_dict(self) -> dict[str, Any]:
        return {"expression": self.expression, "obligations": list(self.obligations)}


@dataclass(frozen=True)
class RecordLicenceUse:
    """Records of a source that carry their own licence (v2 shards): the expression, how many
    records and tokens, and the obligations of using them.

    Raises:
        DocumentError: on construction, if a field is malformed.
    """

    licence: str
    records: int
    tokens: int
    obligations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"record licence {self.licence}"
        _expression(where, self.licence)
        _count(f"{where}: records", self.records)
        _count(f"{where}: tokens", self.tokens)
        obligations = _obligations(f"{where}: obligations", self.obligations)
        object.__setattr__(self, "obligations", tuple(sorted(obligations)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "licence": self.licence,
            "records": self.records,
            "tokens": self.tokens,
            "obligations": list(self.obligations),
        }


@dataclass(frozen=True)
class ManifestSource:
    """One source's share of the manifest, and the licence it is used under.

    Raises:
        DocumentError: on construction, if a field is malformed.
    """

    name: str
    kind: str
    licence: str
    shards: int
    bytes: int
    records: int
    tokens: int
    obligations: tuple[str, ...] = ()
    record_licences: tuple[RecordLicenceUse, ...] = ()
    """In the document only when non-empty, so documents without record licences keep their
    bytes (``docs/manifest-format.md``)."""

    def __post_init__(self) -> None:
        _text("source name", self.name)
        where = f"source {self.name}"
        _text(f"{where}: kind", self.kind)
        _expression(f"{where}: licence", self.licence)
        for name in ("shards", "bytes", "records", "tokens"):
            _count(f"{where}: {name}", getattr(self, name))
        obligations = _obligations(f"{where}: obligations", self.obligations)
        _sorted_unique(f"{where}: obligations", sorted(obligations))
        object.__setattr__(self, "obligations", tuple(sorted(obligations)))
        _sorted_unique(f"{where}: record_licences", [r.licence for r in self.record_licences])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "licence": self.licence,
            "shards": self.shards,
            "bytes": self.bytes,
            "records": self.records,
            "tokens": self.tokens,
            "obligations": list(self.obligations),
        }
        if self.record_licences:
            out["record_licences"] = [r.to_dict() for r in self.record_licences]
        return out


@dataclass(frozen=True)
class Waiver:
    """A recorded risk acceptance for one source (see ``manifests.policy``).

    Raises:
        DocumentError: on construction, if the source or reason is empty.
    """

    source: str
    reason: str

    def __post_init__(self) -> None:
        _text("waiver source", self.source)
        _text(f"waiver for {self.source}: reason", self.reason)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "reason": self.reason}


@dataclass(frozen=True)
class ManifestDocument:
    """A frozen training manifest: shards (by Merkle root), use, licences and sources.

    Lists are stored sorted (licences by expression, sources by name, waivers
    by source), so two documents with the same content are equal and hash
    equally whatever order they were built in.

    Raises:
        DocumentError: on construction, if a field is malformed or the parts
            disagree (totals that are not the sum of the sources, a source
            licence missing from ``licences``, a waiver for an absent source...).
    """

    name: str
    created_at: str
    intended_use: str
    parent: str | None
    merkle_root: str
    shard_count: int
    total_bytes: int
    total_records: int
    total_tokens: int
    licences: tuple[ManifestLicence, ...] = ()
    sources: tuple[ManifestSource, ...] = ()
    waivers: tuple[Waiver, ...] = field(default=())
    schema: str = SCHEMA
    """``provreg.manifest/2`` when ``merkle_root`` is over (shard id, record root) leaves."""

    def __post_init__(self) -> None:
        if self.schema not in SCHEMAS:
            raise DocumentError(f"schema must be one of {', '.join(SCHEMAS)}; got {self.schema!r}")
        _text("name", self.name)
        self._check_created_at()
        if self.intended_use not in INTENDED_USES:
            raise DocumentError(
                f"intended_use must be one of {', '.join(INTENDED_USES)}; got {self.intended_use!r}"
            )
        if self.parent is not None and not is_hex64(self.parent):
            raise DocumentError("parent must be null or a 64-character lowercase hex hash")
        if not is_hex64(self.merkle_root):
            raise DocumentError("merkle.root must be 64 lowercase hex characters")
        for name in ("shard_count", "total_bytes", "total_records", "total_tokens"):
            _count(name, getattr(self, name))
        if self.shard_count == 0 and self.merkle_root != EMPTY_ROOT:
            raise DocumentError("merkle.root of an empty manifest must be SHA-256 of b''")
        self._sort_parts()
        self._check_consistency()

    def _check_created_at(self) -> None:
        if not isinstance(self.created_at, str) or not _TIMESTAMP.fullmatch(self.created_at):
            raise DocumentError("created_at must be RFC 3339 UTC: YYYY-MM-DDTHH:MM:SSZ")
        try:
            datetime.strptime(self.created_at, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError as exc:
            raise DocumentError(f"created_at is not a real time: {self.created_at}") from exc

    def _sort_parts(self) -> None:
        for name, kind, key in (
            ("licences", ManifestLicence, "expression"),
            ("sources", ManifestSource, "name"),
            ("waivers", Waiver, "source"),
        ):
            parts = getattr(self, name)
            if not isinstance(parts, tuple | list) or not all(isinstance(p, kind) for p in parts):
                raise DocumentError(f"{name} must be a sequence of {kind.__name__}")
            ordered = tuple(sorted(parts, key=lambda p: getattr(p, key)))
            _sorted_unique(name, [getattr(p, key) for p in ordered])
            object.__setattr__(self, name, ordered)

    def _check_consistency(self) -> None:
        totals = (
            ("shards", self.shard_count),
            ("bytes", self.total_bytes),
            ("records", self.total_records),
            ("tokens", self.total_tokens),
        )
        for part, value in totals:
            summed = sum(getattr(s, part) for s in self.sources)
            if summed != value:
                raise DocumentError(f"totals.{part} is {value} but the sources add up to {summed}")
        expressions = {licence.expression for licence in self.licences}
        used = {source.licence for source in self.sources}
        if used - expressions:
            raise DocumentError(f"licences lacks {min(used - expressions)!r}, used by a source")
        if expressions - used:
            raise DocumentError(f"licences holds {min(expressions - used)!r}, used by no source")
        names = {source.name for source in self.sources}
        for waiver in self.waivers:
            if waiver.source not in names:
                raise DocumentError(f"waivers names source {waiver.source!r}, not in sources")

    # --- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (all lists sorted) that is canonicalised and hashed."""
        return {
            "schema": self.schema,
            "name": self.name,
            "created_at": self.created_at,
            "intended_use": self.intended_use,
            "parent": self.parent,
            "merkle": {
                "algorithm": ALGORITHM,
                "root": self.merkle_root,
                "leaves": self.shard_count,
            },
            "totals": {
                "shards": self.shard_count,
                "bytes": self.total_bytes,
                "records": self.total_records,
                "tokens": self.total_tokens,
            },
            "licences": [licence.to_dict() for licence in self.licences],
            "sources": [source.to_dict() for source in self.sources],
            "waivers": [waiver.to_dict() for waiver in self.waivers],
        }

    def canonical_bytes(self) -> bytes:
        """Return the RFC 8785 canonical JSON of ``to_dict()``: the bytes that are hashed."""
        return canonical_json(self.to_dict())

    @property
    def hash(self) -> str:
        """The manifest's identity: lowercase hex SHA-256 of ``canonical_bytes()``."""
        return sha256_hex(self.canonical_bytes())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ManifestDocument":
        """Parse a document strictly.

        Lists must already be in sorted order and free of duplicates, so that
        the accepted document is byte-for-byte the one that was hashed.

        Raises:
            DocumentError: the schema is not ``provreg.manifest/1`` or ``/2``, a field is
                missing, unknown or malformed (the message names it), or the
                parts disagree.
        """
        doc = _fields(
            "document",
            data,
            (
                "schema",
                "name",
                "created_at",
                "intended_use",
                "parent",
                "merkle",
                "totals",
                "licences",
                "sources",
                "waivers",
            ),
        )
        root, leaves = merkle_commitment(data)
        totals = _fields("totals", doc["totals"], ("shards", "bytes", "records", "tokens"))
        for name in ("shards", "bytes", "records", "tokens"):
            _count(f"totals.{name}", totals[name])
        if totals["shards"] != leaves:
            raise DocumentError("totals.shards must equal merkle.leaves")
        licences = tuple(
            ManifestLicence(
                expression=item["expression"],
                obligations=_obligation_list(f"licences[{i}].obligations", item["obligations"]),
            )
            for i, item in _items("licences", doc["licences"], ("expression", "obligations"))
        )
        sources = tuple(
            ManifestSource(
                name=item["name"],
                kind=item["kind"],
                licence=item["licence"],
                shards=item["shards"],
                bytes=item["bytes"],
                records=item["records"],
                tokens=item["tokens"],
                obligations=_obligation_list(f"sources[{i}].obligations", item["obligations"]),
                record_licences=_record_licences(f"sources[{i}]", item.get("record_licences")),
            )
            for i, item in _items("sources", doc["sources"], _SOURCE_FIELDS, ("record_licences",))
        )
        waivers = tuple(
            Waiver(source=item["source"], reason=item["reason"])
            for _, item in _items("waivers", doc["waivers"], ("source", "reason"))
        )
        for name, keys in (
            ("licences", [x.expression for x in licences]),
            ("sources", [x.name for x in sources]),
            ("waivers", [x.source for x in waivers]),
        ):
            _sorted_unique(name, keys)
        return cls(
            name=doc["name"],
            created_at=doc["created_at"],
            intended_use=doc["intended_use"],
            parent=doc["parent"],
            merkle_root=root,
            shard_count=leaves,
            total_bytes=totals["bytes"],
            total_records=totals["records"],
            total_tokens=totals["tokens"],
            licences=licences,
            sources=sources,
            waivers=waivers,
            schema=doc["schema"],
        )


_SOURCE_FIELDS: Final = (
    "name",
    "kind",
    "licence",
    "shards",
    "bytes",
    "records",
    "tokens",
    "obligations",
)


def merkle_commitment(document: Mapping[str, Any]) -> tuple[str, int]:
    """Return ``(root, leaves)`` from a manifest document's ``merkle`` field.

    Raises:
        DocumentError: the document's schema is not ``provreg.manifest/1`` or ``/2``, or its
            ``merkle`` field is missing or malformed.
    """
    if not isinstance(document, Mapping):
        raise DocumentError("document must be a JSON object")
    if "schema" not in document:
        raise DocumentError("document is missing field 'schema'")
    if document["schema"] not in SCHEMAS:
        raise DocumentError(
            f"schema must be one of {', '.join(map(repr, SCHEMAS))}, got {document['schema']!r}"
        )
    if "merkle" not in document:
        raise DocumentError("document is missing field 'merkle'")
    merkle = _fields("merkle", document["merkle"], ("algorithm", "root", "leaves"))
    if merkle["algorithm"] != ALGORITHM:
        raise DocumentError(f"merkle.algorithm must be {ALGORITHM!r}")
    if not is_hex64(merkle["root"]):
        raise DocumentError("merkle.root must be 64 lowercase hex characters")
    return merkle["root"], _count("merkle.leaves", merkle["leaves"])


def _fields(
    where: str, value: object, names: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check that ``value`` is an object with exactly ``names`` (and perhaps ``optional``);
    name the first offender."""
    if not isinstance(value, Mapping):
        raise DocumentError(f"{where} must be a JSON object")
    for name in names:
        if name not in value:
            raise DocumentError(f"{where} is missing field {name!r}")
    unknown = sorted(str(k) for k in value if k not in names and k not in optional)
    if unknown:
        raise DocumentError(f"{where} has unknown field {unknown[0]!r}")
    return dict(value)


def _items(
    where: str, value: object, names: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        raise DocumentError(f"{where} must be a list")
    return [(i, _fields(f"{where}[{i}]", item, names, optional)) for i, item in enumerate(value)]


def _record_licences(where: str, value: object) -> tuple[RecordLicenceUse, ...]:
    """A source's ``record_licences``: absent means none; present, it must be non-empty."""
    if value is None:
        return ()
    items = _items(
        f"{where}.record_licences", value, ("licence", "records", "tokens", "obligations")
    )
    if not items:
        raise DocumentError(f"{where}.record_licences must be omitted when empty")
    return tuple(
        RecordLicenceUse(
            licence=item["licence"],
            records=item["records"],
            tokens=item["tokens"],
            obligations=_obligation_list(
                f"{where}.record_licences[{i}].obligations", item["obligations"]
            ),
        )
        for i, item in items
    )


def _obligation_list(where: str, value: object) -> tuple[str, ...]:
    """A JSON list of obligations, which must already be sorted and unique."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DocumentError(f"{where} must be a list of strings")
    _sorted_unique(where, value)
    return tuple(value)
