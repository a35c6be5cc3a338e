"""Manifests: frozen, Merkle-rooted, policy-checked sets of registered shards.

The document and its hash come from ``manifests.document``; this module gathers the facts from
the registry, asks ``manifests.policy`` for a verdict, and stores the frozen result. Nothing here
updates or deletes a manifest (and the database refuses it too).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from manifests.document import (
    INTENDED_USES,
    ManifestDocument,
    ManifestLicence,
    ManifestSource,
    Waiver,
    format_timestamp,
)
from manifests.errors import DocumentError
from manifests.merkle import InclusionProof, MerkleTree, merkle_root
from manifests.policy import (
    LicenceFacts,
    PolicyVerdict,
    ShardFacts,
    SourceFacts,
    Violation,
    evaluate_policy,
)
from registry import audit
from registry.errors import Conflict, InvalidInput, NotFound, PolicyViolation
from registry.lookup import resolve_prefix
from registry.models import (
    CompensationTerms,
    Dataset,
    DatasetShard,
    Licence,
    Manifest,
    ManifestShard,
    Shard,
    Source,
    SourceContributor,
)
from registry.types import utcnow

_CHUNK = 900  # ids per IN (...) clause: under SQLite's default variable limit


class ManifestIn(BaseModel):
    """What a manifest is made of: datasets and/or shards, minus excluded sources."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    intended_use: str
    datasets: list[str] = Field(default_factory=list, description="NAME or NAME@VERSION")
    shards: list[str] = Field(default_factory=list, description="shard ids or unique prefixes")
    exclude_sources: list[str] = Field(default_factory=list)
    parent: str | None = None
    waivers: dict[str, str] = Field(default_factory=dict, description="source name -> reason")


class ManifestOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    hash: str
    name: str
    intended_use: str
    parent: str | None
    merkle_root: str
    shard_count: int
    total_bytes: int
    total_records: int
    total_tokens: int
    created_at: datetime
    document: dict[str, Any]


class _ShardRow(NamedTuple):
    id: str
    source_id: int
    bytes: int
    records: int
    tokens: int
    status: str


_SHARD_COLUMNS = (Shard.id, Shard.source_id, Shard.bytes, Shard.records, Shard.tokens, Shard.status)


# --- gathering the shards ---------------------------------------------------------------------


def dataset_row(session: Session, ref: str) -> Dataset:
    """``NAME@VERSION``, or ``NAME`` for its most recently created version.

    Raises:
        NotFound: no such dataset (version).
    """
    name, _, version = ref.partition("@")
    query = select(Dataset).where(Dataset.name == name)
    if version:
        query = query.where(Dataset.version == version)
    row = session.scalars(
        query.order_by(Dataset.created_at.desc(), Dataset.id.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound(f"unknown dataset {ref!r}")
    return row


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _shards_by_id(session: Session, ids: Sequence[str]) -> list[_ShardRow]:
    rows: list[_ShardRow] = []
    for chunk in _chunks(ids):
        rows += [
            _ShardRow(*r)
            for r in session.execute(select(*_SHARD_COLUMNS).where(Shard.id.in_(chunk)))
        ]
    return rows


def _gather(session: Session, spec: ManifestIn) -> dict[str, _ShardRow]:
    chosen: dict[str, _ShardRow] = {}
    for ref in spec.datasets:
        ds = dataset_row(session, ref)
        query = select(*_SHARD_COLUMNS).join(DatasetShard, DatasetShard.shard_id == Shard.id)
        for r in session.execute(query.where(DatasetShard.dataset_id == ds.id)):
            chosen[r[0]] = _ShardRow(*r)
    full = [s for s in spec.shards if len(s) == 64]
    found = {r.id: r for r in _shards_by_id(session, sorted(set(full)))}
    missing = sorted(set(full) - set(found))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise NotFound(f"unknown shard {missing[0]}{more}")
    chosen.update(found)
    for prefix in (s for s in spec.shards if len(s) != 64):
        shard_id = resolve_prefix(session, Shard.id, prefix, "shard")
        chosen.update({r.id: r for r in _shards_by_id(session, [shard_id])})
    if spec.exclude_sources:
        excluded = {_source_id(session, name) for name in spec.exclude_sources}
        chosen = {k: v for k, v in chosen.items() if v.source_id not in excluded}
    return chosen


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


def policy_facts(session: Session, shards: Iterable[_ShardRow]) -> PolicyFacts:
    """Facts for the policy. Active shards of one source are interchangeable to it (it judges
    them by source), so one stands for all of them; every revoked shard is passed on its own."""
    by_source: dict[int, _ShardRow] = {}
    revoked: list[_ShardRow] = []
    for row in shards:
        if row.status != "active":
            revoked.append(row)
        by_source.setdefault(row.source_id, row)
    source_rows = {
        s.id: s for s in session.scalars(select(Source).where(Source.id.in_(list(by_source))))
    }
    counts = dict(
        session.execute(
            select(SourceContributor.source_id, func.count())
            .where(SourceContributor.source_id.in_(list(by_source)))
            .group_by(SourceContributor.source_id)
        ).all()
    )
    terms = dict(
        session.execute(
            select(CompensationTerms.source_id, CompensationTerms.model).where(
                CompensationTerms.source_id.in_(list(by_source))
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
    reps = {r.id: r for r in [*by_source.values(), *revoked]}
    facts = [
        ShardFacts(shard_id=r.id, source_name=source_rows[r.source_id].name, status=r.status)
        for r in reps.values()
    ]
    return PolicyFacts(
        shards=facts, sources=sources, licences=licence_facts(session), source_rows=source_rows
    )


def _describe(v: Violation) -> str:
    return f"[{v.code}] {v.message}"


def _raise_if_refused(verdict: PolicyVerdict, what: str) -> None:
    if not verdict.allowed:
        lines = [_describe(v) for v in verdict.violations]
        raise PolicyViolation(
            f"{what} refused by the licence policy ({len(lines)} violations):", lines
        )


# --- creating ---------------------------------------------------------------------------------


def _document(
    spec: ManifestIn,
    shards: dict[str, _ShardRow],
    facts: PolicyFacts,
    verdict: PolicyVerdict,
    parent: str | None,
    root: str,
    now: datetime,
) -> ManifestDocument:
    per_source: dict[int, list[int]] = {}
    for row in shards.values():
        agg = per_source.setdefault(row.source_id, [0, 0, 0, 0])
        agg[0] += 1
        agg[1] += row.bytes
        agg[2] += row.records
        agg[3] += row.tokens
    sources = []
    by_expression: dict[str, set[str]] = {}
    for source_id, (n, nbytes, records, tokens) in per_source.items():
        src = facts.source_rows[source_id]
        obligations = tuple(verdict.obligations.get(src.name, ()))
        by_expression.setdefault(src.licence_expression, set()).update(obligations)
        sources.append(
            ManifestSource(
                name=src.name,
                kind=src.kind,
                licence=src.licence_expression,
                shards=n,
                bytes=nbytes,
                records=records,
                tokens=tokens,
                obligations=obligations,
            )
        )
    return ManifestDocument(
        name=spec.name,
        created_at=format_timestamp(now),
        intended_use=spec.intended_use,
        parent=parent,
        merkle_root=root,
        shard_count=len(shards),
        total_bytes=sum(s.bytes for s in sources),
        total_records=sum(s.records for s in sources),
        total_tokens=sum(s.tokens for s in sources),
        licences=tuple(ManifestLicence(e, tuple(sorted(o))) for e, o in by_expression.items()),
        sources=tuple(sources),
        waivers=tuple(Waiver(s, r) for s, r in spec.waivers.items()),
    )


def create_manifest(
    session: Session, spec: ManifestIn, *, now: datetime | None = None
) -> ManifestOut:
    """Gather the shards, check the policy, and freeze the manifest.

    Raises:
        InvalidInput: unknown intended use, nothing selected, malformed ids.
        NotFound: an unknown dataset, shard, source or parent.
        Conflict: the name is taken by another manifest.
        PolicyViolation: the policy refuses it; every violation is listed.
    """
    if spec.intended_use not in INTENDED_USES:
        raise InvalidInput(
            f"unknown intended use {spec.intended_use!r}: expected one of {', '.join(INTENDED_USES)}"
        )
    if not (spec.datasets or spec.shards):
        raise InvalidInput("a manifest needs at least one --dataset, --shard or --shards-from")
    parent = (
        resolve_prefix(session, Manifest.hash, spec.parent, "manifest") if spec.parent else None
    )
    existing = session.scalars(select(Manifest).where(Manifest.name == spec.name)).first()
    if existing is not None:
        raise Conflict(f"manifest name {spec.name!r} is taken by manifest {existing.hash}")
    shards = _gather(session, spec)
    if not shards:
        raise InvalidInput("the selection holds no shards (after exclusions)")

    facts = policy_facts(session, shards.values())
    verdict = evaluate_policy(
        shards=facts.shards,
        sources=facts.sources,
        licences=facts.licences,
        intended_use=spec.intended_use,
        waivers=spec.waivers,
    )
    _raise_if_refused(verdict, f"manifest {spec.name!r}")
    ids = sorted(shards)
    document = _document(spec, shards, facts, verdict, parent, merkle_root(ids), now or utcnow())
    digest = document.hash
    if session.get(Manifest, digest) is not None:
        raise Conflict(f"manifest {digest} already exists")
    row = Manifest(
        hash=digest,
        name=document.name,
        intended_use=document.intended_use,
        parent_hash=parent,
        merkle_root=document.merkle_root,
        shard_count=document.shard_count,
        total_bytes=document.total_bytes,
        total_records=document.total_records,
        total_tokens=document.total_tokens,
        document=document.canonical_bytes().decode("utf-8"),
    )
    session.add(row)
    session.flush()
    _insert_members(session, digest, ids)
    audit.record(
        session,
        "manifest.create",
        "manifest",
        digest,
        {
            "name": spec.name,
            "merkle_root": document.merkle_root,
            "shards": len(ids),
            "waivers": spec.waivers,
        },
    )
    return _out(row)


def _insert_members(session: Session, digest: str, ids: Sequence[str]) -> None:
    # The DBAPI's executemany on plain tuples: a million rows is the hot path of this command.
    table = ManifestShard.__table__
    conn = session.connection()
    paramstyle = conn.dialect.paramstyle
    marks = "?, ?" if paramstyle == "qmark" else "%s, %s"
    sql = f"INSERT INTO {table.name} (manifest_hash, shard_id) VALUES ({marks})"
    batch = 50_000
    for i in range(0, len(ids), batch):
        conn.exec_driver_sql(sql, [(digest, s) for s in ids[i : i + batch]])


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
    """A manifest by full hash, unique prefix, or name."""
    by_name = session.scalars(select(Manifest).where(Manifest.name == ref)).first()
    if by_name is not None:
        return by_name
    row = session.get(Manifest, resolve_prefix(session, Manifest.hash, ref, "manifest"))
    if row is None:  # pragma: no cover - resolve_prefix found it
        raise NotFound(f"unknown manifest {ref!r}")
    return row


def get_manifest(session: Session, ref: str) -> ManifestOut:
    return _out(manifest_row(session, ref))


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


class ShardLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    bytes: int
    records: int
    tokens: int
    status: str


def shard_lines(session: Session, digest: str) -> Iterator[ShardLine]:
    query = (
        select(Shard.id, Source.name, Shard.bytes, Shard.records, Shard.tokens, Shard.status)
        .join(ManifestShard, ManifestShard.shard_id == Shard.id)
        .join(Source, Source.id == Shard.source_id)
        .where(ManifestShard.manifest_hash == digest)
        .order_by(Shard.id)
    )
    for r in session.execute(query):
        yield ShardLine(id=r[0], source=r[1], bytes=r[2], records=r[3], tokens=r[4], status=r[5])


def prove(session: Session, ref: str, shard: str) -> InclusionProof:
    """An RFC 6962 inclusion proof that ``shard`` is in the manifest.

    Raises:
        NotFound: the shard is not in this manifest.
    """
    row = manifest_row(session, ref)
    ids = shard_ids(session, row.hash)
    shard_id = shard if len(shard) == 64 else resolve_prefix(session, Shard.id, shard, "shard")
    tree = MerkleTree(ids)
    if tree.root != row.merkle_root:
        raise Conflict(f"manifest {row.hash}: stored shards do not match its Merkle root")
    try:
        return tree.inclusion_proof(shard_id)
    except ValueError as exc:
        raise NotFound(f"shard {shard_id} is not in manifest {row.hash}") from exc


# --- verification, comparison, re-checking ---------------------------------------------------


class VerifyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    hash: str
    ok: bool
    problems: list[str]


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
    root = merkle_root(ids)
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
    query = select(*_SHARD_COLUMNS).join(ManifestShard, ManifestShard.shard_id == Shard.id)
    shards = [
        _ShardRow(*r) for r in session.execute(query.where(ManifestShard.manifest_hash == row.hash))
    ]
    facts = policy_facts(session, shards)
    waivers = {w["source"]: w["reason"] for w in document["waivers"]}
    return evaluate_policy(
        shards=facts.shards,
        sources=facts.sources,
        licences=facts.licences,
        intended_use=row.intended_use,
        waivers=waivers,
    )


def check_usable(session: Session, ref: str) -> None:
    """Refuse a manifest that the policy would refuse today.

    Raises:
        PolicyViolation: listing every violation.
    """
    _raise_if_refused(current_verdict(session, ref), f"manifest {manifest_row(session, ref).hash}")


class ManifestDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    added: list[str]
    removed: list[str]
    totals_a: dict[str, int]
    totals_b: dict[str, int]
    licences_added: list[str]
    licences_removed: list[str]


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
