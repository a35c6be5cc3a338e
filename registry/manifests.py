"""Manifests: frozen, Merkle-rooted, policy-checked sets of registered shards.

The document and its hash come from ``manifests.document``; this module gathers the facts from
the registry, asks ``manifests.policy`` for a verdict, and stores the frozen result. Nothing here
updates or deletes a manifest (and the database refuses it too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.orm import Session

from manifests.digests import is_hex_prefix
from manifests.document import (
    INTENDED_USES,
    SCHEMA_V1,
    SCHEMA_V2,
    ManifestDocument,
    ManifestLicence,
    ManifestSource,
    RecordLicenceUse,
    Waiver,
    format_timestamp,
)
from manifests.errors import DocumentError
from manifests.merkle import InclusionProof, MerkleTree, merkle_root
from manifests.policy import (
    LicenceFacts,
    PolicyVerdict,
    RecordLicenceFacts,
    ShardFacts,
    SourceFacts,
    Violation,
    evaluate_policy,
)
from registry import audit
from registry.attest.records import attest_manifest
from registry.db.chunks import chunked
from registry.db.lookup import resolve_prefix
from registry.db.models import (
    CompensationTerms,
    Licence,
    Manifest,
    ManifestShard,
    Shard,
    Source,
    SourceContributor,
)
from registry.db.paging import keyset
from registry.db.types import utcnow
from registry.db.upsert import insert_new
from registry.entities.manifests import (
    ManifestDiff,
    ManifestIn,
    ManifestOut,
    ShardLine,
    VerifyReport,
)
from registry.errors import Conflict, InvalidInput, NotFound, NotPermitted, PolicyViolation
from registry.names import lookup_key, normalise_name
from registry.shards.datasets import dataset_row
from registry.shards.format import FORMAT_V2

if TYPE_CHECKING:
    from registry.shards.store import ShardStore


@dataclass(frozen=True)
class _SourceShare:
    """One source's part of a selection, aggregated in the database."""

    shards: int
    bytes: int
    records: int
    tokens: int
    representative: str  # any one of its shard ids
    profiled: int = 0  # its v2 shards (record figures to freeze)


@dataclass(frozen=True)
class _Selection:
    """A set of shards held in the temporary table ``provreg_selection``, summarised."""

    by_source: dict[int, _SourceShare]
    revoked: list[tuple[str, int]]  # (shard id, source id)

    @property
    def count(self) -> int:
        return sum(p.shards for p in self.by_source.values())

    @property
    def profiled(self) -> int:
        return sum(p.profiled for p in self.by_source.values())


# --- gathering the shards ---------------------------------------------------------------------
#
# A manifest can hold millions of shards, so the selection stays in the database: a temporary
# table of ids, filled by INSERT ... SELECT, summarised by GROUP BY, and copied into
# manifest_shards by INSERT ... SELECT. Python only reads the sorted ids, for the Merkle root.

_SELECTION = "provreg_selection"


def _open_selection(session: Session) -> Connection:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_SELECTION} (id VARCHAR(64) PRIMARY KEY) ON COMMIT DROP"
        )
    else:
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_SELECTION} (id VARCHAR(64) PRIMARY KEY)"
        )
    conn.exec_driver_sql(f"DELETE FROM {_SELECTION}")
    return conn


def _add_to_selection(conn: Connection, select_sql: str, params: dict[str, Any]) -> None:
    verb = "INSERT OR IGNORE INTO" if conn.dialect.name == "sqlite" else "INSERT INTO"
    tail = " ON CONFLICT DO NOTHING" if conn.dialect.name == "postgresql" else ""
    conn.execute(text(f"{verb} {_SELECTION} (id) {select_sql}{tail}"), params)


def _existing_ids(session: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunked(ids):
        found.update(session.scalars(select(Shard.id).where(Shard.id.in_(chunk))))
    return found


def _select(session: Session, spec: ManifestIn) -> Connection:
    """Fill the selection table from the spec's datasets, shards and exclusions."""
    datasets = [dataset_row(session, ref).id for ref in spec.datasets]
    explicit = {s for s in spec.shards if len(s) == 64}
    missing = sorted(explicit - _existing_ids(session, sorted(explicit)))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise NotFound(f"unknown shard {missing[0]}{more}")
    explicit |= {resolve_prefix(session, Shard.id, p, "shard") for p in spec.shards if len(p) != 64}
    excluded = [_source_id(session, name) for name in spec.exclude_sources]

    conn = _open_selection(session)
    for dataset_id in datasets:
        _add_to_selection(
            conn, "SELECT shard_id FROM dataset_shards WHERE dataset_id = :d", {"d": dataset_id}
        )
    if explicit:
        verb = "INSERT OR IGNORE INTO" if conn.dialect.name == "sqlite" else "INSERT INTO"
        tail = " ON CONFLICT DO NOTHING" if conn.dialect.name == "postgresql" else ""
        conn.execute(
            text(f"{verb} {_SELECTION} (id) VALUES (:id){tail}"),
            [{"id": s} for s in sorted(explicit)],
        )
    if excluded:
        conn.execute(
            text(
                f"DELETE FROM {_SELECTION} WHERE id IN (SELECT id FROM shards WHERE source_id IN :sources)"
            ).bindparams(bindparam("sources", expanding=True)),
            {"sources": excluded},
        )
    return conn


def _summarise(conn: Connection) -> _Selection:
    by_source = {
        int(r[0]): _SourceShare(int(r[1]), int(r[2]), int(r[3]), int(r[4]), str(r[5]), int(r[6]))
        for r in conn.execute(
            text(
                "SELECT s.source_id, count(*), sum(s.bytes), sum(s.records), sum(s.tokens), "
                "min(s.id), sum(CASE WHEN s.format = :v2 THEN 1 ELSE 0 END) "
                f"FROM {_SELECTION} AS sel JOIN shards AS s ON s.id = sel.id GROUP BY s.source_id"
            ),
            {"v2": FORMAT_V2},
        )
    }
    revoked = [
        (str(r[0]), int(r[1]))
        for r in conn.exec_driver_sql(
            f"SELECT s.id, s.source_id FROM {_SELECTION} AS sel JOIN shards AS s ON s.id = sel.id "
            "WHERE s.status <> 'active' ORDER BY s.id"
        )
    ]
    return _Selection(by_source=by_source, revoked=revoked)


def _selected_ids(conn: Connection) -> list[str]:
    """The selection's ids, ascending: the primary key's order, so no sort in Python."""
    return [r[0] for r in conn.exec_driver_sql(f"SELECT id FROM {_SELECTION} ORDER BY id")]


def _source_id(session: Session, name: str) -> int:
    found = session.scalars(select(Source.id).where(Source.name == name)).first()
    if found is None:
        raise NotFound(f"unknown source {name!r}")
    return found


# --- policy facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyFacts:
    """Everything ``evaluate_policy`` needs, read from the registry as it is now."""

    shards: list[ShardFacts]
    sources: dict[str, SourceFacts]
    licences: dict[str, LicenceFacts]
    source_rows: dict[int, Source] = field(repr=False)
    record_licences: list[RecordLicenceFacts] = field(default_factory=list)


def licence_facts(session: Session) -> dict[str, LicenceFacts]:
    return {
        r.spdx_id: LicenceFacts(
            spdx_id=r.spdx_id,
            commercial_use=r.commercial_use,
            derivatives=r.derivatives,
            attribution=r.attribution,
            share_alike=r.share_alike,
            non_commercial=r.non_commercial,
            no_ai_training=r.no_ai_training,
        )
        for r in session.scalars(select(Licence))
    }


def policy_facts(session: Session, selection: _Selection) -> PolicyFacts:
    """Facts for the policy. Active shards of one source are interchangeable to it (it judges
    them by source), so one stands for all of them; every revoked shard is passed on its own."""
    ids = list(selection.by_source)
    source_rows = {s.id: s for s in session.scalars(select(Source).where(Source.id.in_(ids)))}
    counts = dict(
        session.execute(
            select(SourceContributor.source_id, func.count())
            .where(SourceContributor.source_id.in_(ids))
            .group_by(SourceContributor.source_id)
        ).all()
    )
    terms = dict(
        session.execute(
            select(CompensationTerms.source_id, CompensationTerms.model).where(
                CompensationTerms.source_id.in_(ids)
            )
        ).all()
    )
    sources = {
        s.name: SourceFacts(
            name=s.name,
            licence_expression=s.licence_expression,
            status=s.status,
            consent_status=s.consent_status,
            contributor_count=int(counts.get(s.id, 0)),
            compensation_model=terms.get(s.id),
        )
        for s in source_rows.values()
    }
    revoked = {shard_id for shard_id, _ in selection.revoked}
    shards = [
        ShardFacts(
            shard_id=p.representative,
            source_name=source_rows[sid].name,
            status="revoked" if p.representative in revoked else "active",
        )
        for sid, p in selection.by_source.items()
    ]
    shards += [
        ShardFacts(shard_id=shard_id, source_name=source_rows[sid].name, status="revoked")
        for shard_id, sid in selection.revoked
        if shard_id not in {f.shard_id for f in shards}
    ]
    return PolicyFacts(
        shards=shards,
        sources=sources,
        licences=licence_facts(session),
        source_rows=source_rows,
        record_licences=_record_licence_facts(session, source_rows),
    )


def _record_licence_facts(
    session: Session, source_rows: dict[int, Source]
) -> list[RecordLicenceFacts]:
    """The selection's records under their own licences, per source and licence: summed from
    the per-shard rows ingest wrote (``shard_record_licences``) in one GROUP BY, never by
    opening a shard."""
    rows = session.connection().execute(
        text(
            "SELECT sh.source_id, l.licence, SUM(l.records), SUM(l.tokens) "
            f"FROM {_SELECTION} sel JOIN shards sh ON sh.id = sel.id "
            "JOIN shard_record_licences l ON l.shard_id = sel.id "
            "GROUP BY sh.source_id, l.licence"
        )
    )
    return [
        RecordLicenceFacts(
            source_name=source_rows[int(sid)].name,
            licence_expression=str(licence),
            records=int(records),
            tokens=int(tokens),
        )
        for sid, licence, records, tokens in rows
    ]


def _describe(v: Violation) -> str:
    return f"[{v.code}] {v.message}"


def _raise_if_refused(verdict: PolicyVerdict, what: str) -> None:
    if not verdict.allowed:
        lines = [_describe(v) for v in verdict.violations]
        raise PolicyViolation(
            f"{what} refused by the licence policy ({len(lines)} violations):", lines
        )


def _raise_if_signals_refuse(
    session: Session, shard_ids_sql: str, params: dict[str, Any], what: str
) -> None:
    """Re-judge the shards against opt-out signals observed since their ingest, through the
    per-shard domain sums (``registry.signals.rejudge``), never opening a shard."""
    from registry.signals.rejudge import shard_violations

    lines = shard_violations(session, shard_ids_sql, params)
    if lines:
        raise PolicyViolation(
            f"{what} refused by opt-out signals observed since ingest ({len(lines)} violations):",
            lines,
        )


# --- creating ---------------------------------------------------------------------------------


def _document(
    spec: ManifestIn,
    selection: _Selection,
    facts: PolicyFacts,
    verdict: PolicyVerdict,
    parent: str | None,
    root: str,
    now: datetime,
    schema: str = SCHEMA_V2,
) -> ManifestDocument:
    sources = []
    by_expression: dict[str, set[str]] = {}
    for source_id, part in selection.by_source.items():
        src = facts.source_rows[source_id]
        obligations = tuple(verdict.obligations.get(src.name, ()))
        by_expression.setdefault(src.licence_expression, set()).update(obligations)
        sources.append(
            ManifestSource(
                name=src.name,
                kind=src.kind,
                licence=src.licence_expression,
                shards=part.shards,
                bytes=part.bytes,
                records=part.records,
                tokens=part.tokens,
                obligations=obligations,
                record_licences=tuple(
                    RecordLicenceUse(
                        licence=r.licence_expression,
                        records=r.records,
                        tokens=r.tokens,
                        obligations=tuple(
                            verdict.record_obligations.get((src.name, r.licence_expression), ())
                        ),
                    )
                    for r in sorted(facts.record_licences, key=lambda r: r.licence_expression)
                    if r.source_name == src.name
                ),
            )
        )
    return ManifestDocument(
        name=spec.name,
        created_at=format_timestamp(now),
        intended_use=spec.intended_use,
        parent=parent,
        merkle_root=root,
        shard_count=selection.count,
        total_bytes=sum(s.bytes for s in sources),
        total_records=sum(s.records for s in sources),
        total_tokens=sum(s.tokens for s in sources),
        licences=tuple(ManifestLicence(e, tuple(sorted(o))) for e, o in by_expression.items()),
        sources=tuple(sources),
        waivers=tuple(Waiver(s, r) for s, r in spec.waivers.items()),
        schema=schema,
    )


def _store(store: ShardStore | None = None) -> ShardStore:
    """The store given, else the configured one (``PROVREG_STORE``)."""
    if store is not None:
        return store
    from registry.config import get_settings
    from registry.shards.store import ShardStore

    return ShardStore(get_settings().store)


def _root(session: Session, ids: list[str], store: ShardStore | None) -> tuple[str, str]:
    """(schema, Merkle root) for a new manifest over ``ids``: ``/2`` over (id, record root)
    leaves, unless a shard's record root is unknown and its file absent (registered by
    metadata only), which leaves ``/1`` as the only commitment that can be made."""
    from registry.proofs.record_roots import known_record_roots

    roots = known_record_roots(session, _store(store), ids)
    if roots is None:
        return SCHEMA_V1, merkle_root(ids)
    return SCHEMA_V2, merkle_root(ids, roots)


def recomputed_root(session: Session, schema: str, ids: list[str]) -> str:
    """The root of an existing manifest's ``ids`` under its own schema, from stored roots.

    Raises:
        NotFound: (``/2``) a record root is unknown and the shard's file is absent.
    """
    if schema != SCHEMA_V2:
        return merkle_root(ids)
    from registry.proofs.record_roots import record_roots

    return merkle_root(ids, record_roots(session, _store(), ids))


def _named(spec: ManifestIn) -> ManifestIn:
    """``spec`` with its name in the form ``registry.names`` keeps (NFC, checked)."""
    return spec.model_copy(update={"name": normalise_name(spec.name, "manifest name")})


def create_manifest(
    session: Session,
    spec: ManifestIn,
    *,
    now: datetime | None = None,
    store: ShardStore | None = None,
) -> ManifestOut:
    """Gather the shards, check the policy, and freeze the manifest (``provreg.manifest/2``,
    reading ``store``, by default the configured one, for record roots never computed).

    Raises:
        InvalidInput: unknown intended use, nothing selected, malformed ids.
        NotFound: an unknown dataset, shard, source or parent.
        Conflict: the name is taken by another manifest.
        PolicyViolation: the policy refuses it; every violation is listed.
    """
    spec = _named(spec)
    if spec.intended_use not in INTENDED_USES:
        raise InvalidInput(
            f"unknown intended use {spec.intended_use!r}: expected one of {', '.join(INTENDED_USES)}"
        )
    if not (spec.datasets or spec.shards):
        raise InvalidInput(
            "a manifest needs at least one dataset, shard or list of shards",
            field="manifest.selection",
        )
    parent = (
        resolve_prefix(session, Manifest.hash, spec.parent, "manifest") if spec.parent else None
    )
    existing = session.scalars(select(Manifest).where(Manifest.name == spec.name)).first()
    if existing is not None:
        raise Conflict(f"manifest name {spec.name!r} is taken by manifest {existing.hash}")
    conn = _select(session, spec)
    selection = _summarise(conn)
    if not selection.count:
        raise InvalidInput("the selection holds no shards (after exclusions)")

    facts = policy_facts(session, selection)
    verdict = evaluate_policy(
        shards=facts.shards,
        sources=facts.sources,
        licences=facts.licences,
        intended_use=spec.intended_use,
        waivers=spec.waivers,
        record_licences=facts.record_licences,
    )
    _raise_if_refused(verdict, f"manifest {spec.name!r}")
    _raise_if_signals_refuse(session, f"SELECT id FROM {_SELECTION}", {}, f"manifest {spec.name!r}")
    schema, root = _root(session, _selected_ids(conn), store)
    try:
        document = _document(spec, selection, facts, verdict, parent, root, now or utcnow(), schema)
    except DocumentError as exc:  # a total beyond 2**53-1: more than one document can hold
        raise InvalidInput(f"manifest {spec.name!r} cannot be made: {exc}") from exc
    digest = document.hash
    if session.get(Manifest, digest) is not None:
        raise Conflict(f"manifest {digest} already exists")
    values = {
        "hash": digest,
        "name": document.name,
        "intended_use": document.intended_use,
        "parent_hash": parent,
        "merkle_root": document.merkle_root,
        "shard_count": document.shard_count,
        "total_bytes": document.total_bytes,
        "total_records": document.total_records,
        "total_tokens": document.total_tokens,
        "document": document.canonical_bytes().decode("utf-8"),
    }
    # a concurrent creation under the same name (or of the same document) wins: refuse as above
    if not insert_new(session, Manifest, [values], key=None, returning=[Manifest.hash]):
        taken = session.scalars(select(Manifest).where(Manifest.name == spec.name)).first()
        if taken is not None:
            raise Conflict(f"manifest name {spec.name!r} is taken by manifest {taken.hash}")
        raise Conflict(f"manifest {digest} already exists")
    row = session.get_one(Manifest, digest)
    conn.execute(
        text(
            f"INSERT INTO manifest_shards (manifest_hash, shard_id) SELECT :h, id FROM {_SELECTION}"
        ),
        {"h": digest},
    )
    # what its disclosures will read (imported here: the disclosure package imports this one)
    from registry.disclosure.frozen import freeze

    if selection.profiled:  # v1 shards have no record rows: nothing to sum
        freeze(session, digest)
    audit.record(
        session,
        "manifest.create",
        "manifest",
        digest,
        {
            "name": spec.name,
            "merkle_root": document.merkle_root,
            "schema": document.schema,
            "shards": document.shard_count,
            "waivers": spec.waivers,
        },
    )
    attest_manifest(session, digest)  # signed in this transaction when a key is configured
    return _out(row)


def create_or_match_manifest(session: Session, spec: ManifestIn) -> tuple[ManifestOut, bool]:
    """Create the manifest, or return the one already under ``spec.name`` if it is the same
    (same shards, intended use, parent and waivers): a retried request is not a conflict.
    True when it was created.

    Raises:
        Conflict: the name is taken by a different manifest (the message says what differs).
        InvalidInput, NotFound, PolicyViolation: as ``create_manifest``.
    """
    spec = _named(spec)
    existing = session.scalars(select(Manifest).where(Manifest.name == spec.name)).first()
    if existing is None:
        return create_manifest(session, spec), True
    parent = (
        resolve_prefix(session, Manifest.hash, spec.parent, "manifest") if spec.parent else None
    )
    ids = _selected_ids(_select(session, spec))
    stored = json.loads(existing.document)
    waivers = {w["source"]: w["reason"] for w in stored["waivers"]}
    same_shards = bool(ids) and ids == shard_ids(session, existing.hash)
    differs = [
        what
        for what, same in (
            ("shards", same_shards),
            ("intended use", spec.intended_use == existing.intended_use),
            ("parent", parent == existing.parent_hash),
            ("waivers", spec.waivers == waivers),
        )
        if not same
    ]
    if differs:
        raise Conflict(
            f"manifest name {spec.name!r} is taken by manifest {existing.hash}, "
            f"which has other {', '.join(differs)}"
        )
    return _out(existing), False


# --- reading ----------------------------------------------------------------------------------


def _out(row: Manifest) -> ManifestOut:
    return ManifestOut(
        hash=row.hash,
        name=row.name,
        intended_use=row.intended_use,
        parent=row.parent_hash,
        merkle_root=row.merkle_root,
        shard_count=row.shard_count,
        total_bytes=row.total_bytes,
        total_records=row.total_records,
        total_tokens=row.total_tokens,
        created_at=row.created_at,
        document=json.loads(row.document),
    )


def manifest_row(session: Session, ref: str) -> Manifest:
    """A manifest by full hash, unique prefix, or name (in any Unicode normal form)."""
    key = lookup_key(ref)
    by_name = session.scalars(select(Manifest).where(Manifest.name == key)).first() if key else None
    if by_name is not None:
        return by_name
    if not is_hex_prefix(ref.strip().lower()):
        raise NotFound(f"unknown manifest {ref!r}: no manifest has that name or hash")
    row = session.get(Manifest, resolve_prefix(session, Manifest.hash, ref, "manifest"))
    if row is None:  # pragma: no cover - resolve_prefix found it
        raise NotFound(f"unknown manifest {ref!r}")
    return row


def get_manifest(session: Session, ref: str) -> ManifestOut:
    return _out(manifest_row(session, ref))


def manifest_document(session: Session, ref: str) -> tuple[str, bytes]:
    """(hash, canonical document bytes) exactly as stored: what ``manifest export`` prints first.

    Raises:
        InvalidInput, NotFound: as ``manifest_row``.
    """
    row = manifest_row(session, ref)
    return row.hash, row.document.encode("utf-8")


def list_manifests(
    session: Session, *, after: str | None = None, limit: int | None = None
) -> list[ManifestOut]:
    """Manifests by hash; ``after`` is a keyset cursor (the last hash of the previous page)."""
    query = select(Manifest).order_by(Manifest.hash)
    if after:
        query = query.where(Manifest.hash > after)
    if limit:
        query = query.limit(limit)
    return [_out(r) for r in session.scalars(query)]


def shard_ids(session: Session, digest: str) -> list[str]:
    """The manifest's shard ids, sorted ascending (the Merkle tree's leaf order)."""
    query = select(ManifestShard.shard_id).where(ManifestShard.manifest_hash == digest)
    return sorted(session.scalars(query))


def shard_lines(
    session: Session,
    digest: str,
    *,
    after: str | None = None,
    limit: int | None = None,
    record_roots: bool = False,
) -> Iterator[ShardLine]:
    """The manifest's shards by id (the Merkle leaf order); ``after``/``limit`` page through.
    ``record_roots``: with each shard's record root (what a ``/2`` export carries)."""
    query = (
        select(
            Shard.id,
            Source.name,
            Shard.bytes,
            Shard.records,
            Shard.tokens,
            Shard.status,
            Shard.record_root,
        )
        .join(ManifestShard, ManifestShard.shard_id == Shard.id)
        .join(Source, Source.id == Shard.source_id)
        .where(ManifestShard.manifest_hash == digest)
    )
    query = keyset(query, [ManifestShard.shard_id], after=after, limit=limit)
    for r in session.execute(query):
        yield ShardLine(
            id=r[0],
            source=r[1],
            bytes=r[2],
            records=r[3],
            tokens=r[4],
            status=r[5],
            record_root=r[6] if record_roots else None,
        )


def prove(session: Session, ref: str, shard: str) -> InclusionProof:
    """An RFC 6962 inclusion proof that ``shard`` is in the manifest.

    Raises:
        NotFound: the shard is not in this manifest.
    """
    row = manifest_row(session, ref)
    ids = shard_ids(session, row.hash)
    shard_id = shard if len(shard) == 64 else resolve_prefix(session, Shard.id, shard, "shard")
    tree = manifest_tree(session, row, ids)
    if tree.root != row.merkle_root:
        raise Conflict(f"manifest {row.hash}: stored shards do not match its Merkle root")
    try:
        return tree.inclusion_proof(shard_id)
    except ValueError as exc:
        raise NotFound(f"shard {shard_id} is not in manifest {row.hash}") from exc


def manifest_tree(
    session: Session, row: Manifest, ids: list[str], store: ShardStore | None = None
) -> MerkleTree:
    """The manifest's Merkle tree under its own schema (``/2``: with the stored record roots)."""
    if json.loads(row.document)["schema"] != SCHEMA_V2:
        return MerkleTree(ids)
    from registry.proofs.record_roots import record_roots

    roots = record_roots(session, _store(store), ids)
    return MerkleTree(ids, roots)


# --- verification, comparison, re-checking ---------------------------------------------------


def verify_manifest(session: Session, ref: str) -> VerifyReport:
    """Recompute the hash, the Merkle root and the totals from the stored rows."""
    row = manifest_row(session, ref)
    problems: list[str] = []
    try:
        document = ManifestDocument.from_dict(json.loads(row.document))
    except (DocumentError, ValueError) as exc:
        return VerifyReport(
            hash=row.hash, ok=False, problems=[f"stored document is malformed: {exc}"]
        )
    if document.hash != row.hash:
        problems.append(f"document hashes to {document.hash}, not {row.hash}")
    ids = shard_ids(session, row.hash)
    try:
        root = recomputed_root(session, document.schema, ids)
    except NotFound as exc:
        return VerifyReport(hash=row.hash, ok=False, problems=[exc.detail])
    if root != document.merkle_root:
        problems.append(
            f"stored shards have Merkle root {root}, the document says {document.merkle_root}"
        )
    totals = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Shard.bytes), 0),
            func.coalesce(func.sum(Shard.records), 0),
            func.coalesce(func.sum(Shard.tokens), 0),
        )
        .join(ManifestShard, ManifestShard.shard_id == Shard.id)
        .where(ManifestShard.manifest_hash == row.hash)
    ).one()
    expected = (
        document.shard_count,
        document.total_bytes,
        document.total_records,
        document.total_tokens,
    )
    if tuple(int(t) for t in totals) != expected:
        problems.append(f"stored shards total {tuple(totals)}, the document says {expected}")
    columns = (row.name, row.intended_use, row.parent_hash, row.merkle_root, row.shard_count)
    if columns != (
        document.name,
        document.intended_use,
        document.parent,
        document.merkle_root,
        document.shard_count,
    ):
        problems.append("the manifest's columns disagree with its document")
    return VerifyReport(hash=row.hash, ok=not problems, problems=problems)


def current_verdict(session: Session, ref: str) -> PolicyVerdict:
    """The policy over the manifest's shards as the registry stands now, with its own waivers.

    A source revoked or opted out after the manifest was made shows up here: runs check this.
    """
    row = manifest_row(session, ref)
    document = json.loads(row.document)
    conn = _open_selection(session)
    _add_to_selection(
        conn, "SELECT shard_id FROM manifest_shards WHERE manifest_hash = :h", {"h": row.hash}
    )
    facts = policy_facts(session, _summarise(conn))
    waivers = {w["source"]: w["reason"] for w in document["waivers"]}
    return evaluate_policy(
        shards=facts.shards,
        sources=facts.sources,
        licences=facts.licences,
        intended_use=row.intended_use,
        waivers=waivers,
        record_licences=facts.record_licences,
    )


def check_usable(session: Session, ref: str) -> None:
    """Refuse a manifest that the policy would refuse today.

    Raises:
        PolicyViolation: listing every violation.
    """
    digest = manifest_row(session, ref).hash
    _raise_if_rebased(session, digest)
    _raise_if_refused(current_verdict(session, ref), f"manifest {digest}")
    _raise_if_signals_refuse(
        session,
        "SELECT shard_id FROM manifest_shards WHERE manifest_hash = :h",
        {"h": digest},
        f"manifest {digest}",
    )


def _raise_if_rebased(session: Session, digest: str) -> None:
    """A manifest rebased after a takedown is replaced: name the manifest to train on."""
    from registry.db.models import ManifestRebase

    newer = session.execute(
        select(Manifest.hash, Manifest.name)
        .join(ManifestRebase, ManifestRebase.manifest_hash == Manifest.hash)
        .where(ManifestRebase.rebased_from == digest)
        .order_by(ManifestRebase.created_at.desc())
    ).first()
    if newer is not None:
        raise NotPermitted(
            f"manifest {digest} was rebased after a takedown: use manifest {newer[1]!r} "
            f"({newer[0]}) instead",
            field="manifest.rebased",
        )


def diff_manifests(session: Session, a: str, b: str) -> ManifestDiff:
    ra, rb = manifest_row(session, a), manifest_row(session, b)
    sa, sb = set(shard_ids(session, ra.hash)), set(shard_ids(session, rb.hash))
    da, db = json.loads(ra.document), json.loads(rb.document)
    la = {x["expression"] for x in da["licences"]}
    lb = {x["expression"] for x in db["licences"]}
    return ManifestDiff(
        a=ra.hash,
        b=rb.hash,
        added=sorted(sb - sa),
        removed=sorted(sa - sb),
        totals_a=da["totals"],
        totals_b=db["totals"],
        licences_added=sorted(lb - la),
        licences_removed=sorted(la - lb),
    )


def lineage(session: Session, ref: str) -> list[str]:
    """The manifest's ancestry, oldest first, ending with the manifest itself."""
    chain = []
    row: Manifest | None = manifest_row(session, ref)
    while row is not None:
        chain.append(row.hash)
        row = session.get(Manifest, row.parent_hash) if row.parent_hash else None
    return chain[::-1]
