"""Public disclosures: what a manifest, run or weights file was trained on, in public formats.

``build_facts`` derives every figure from the registry: the database joins the manifest's shard
rows and sums them per source (exact: every figure is a function of the source), those sums and
the sources go to DuckDB as Arrow tables, and DuckDB does the breakdowns. The renderers in
``registry.disclosure_formats`` are pure functions of those facts, so a disclosure is
deterministic: it holds no "now", only the manifest's ``created_at`` (or the run's
``finished_at``, or the weights' ``created_at``). ``publish`` stores the rendered bytes under
their SHA-256; publishing the same bytes again returns the same row.

Subjects: a manifest (hash, unique prefix or name), a training run id, or a path to a stamped
weights file. For a run or weights file the figures cover the distinct shards of every manifest
in the run's chain (continued training: the run, its parent run, ...), which is the training
content of the model; each manifest's Merkle root is listed. Lineage is the manifest's
``parent`` chain (revisions), which is shown but is not training content.

Licence families: an expression naming one licence has that licence's family; ``A OR B`` has
the most permissive family among its branches (a licensee may choose the branch), ``A AND B``
the most restrictive (both apply), and ``L WITH exception`` the family of ``L``. The order,
most permissive first, is ``FAMILY_ORDER``.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import license_expression as le
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from manifests.document import format_timestamp
from manifests.errors import StampError
from manifests.merkle import ALGORITHM
from registry import audit
from registry.catalogue.licences import _licensing, known_licence_ids
from registry.db.models import (
    CompensationTerms,
    Disclosure,
    Licence,
    Manifest,
    ManifestShard,
    Shard,
    Source,
    SourceContributor,
    TrainingRun,
    Weights,
)
from registry.disclosure.facts import (
    NOT_PROVIDED,
    SCHEMA,
    Compensation,
    CompensationModel,
    Crawl,
    DisclosureFacts,
    DisclosureInputs,
    Domain,
    Handling,
    ManifestRef,
    MerkleFacts,
    Period,
    RunRef,
    ShardFile,
    Share,
    SourceFact,
    Totals,
    WeightsRef,
)
from registry.errors import IntegrityFailure, InvalidInput, NotFound
from registry.manifests import manifest_row
from registry.runs import read_stamp
from registry.shards.store import hash_file

__all__ = [
    "FORMATS",
    "NOT_PROVIDED",
    "SCHEMA",
    "DisclosureFacts",
    "DisclosureInputs",
    "DisclosureOut",
    "build_facts",
    "get_published",
    "list_published",
    "publish",
    "render",
]

FAMILY_ORDER = (
    "public-domain",
    "permissive",
    "weak-copyleft",
    "copyleft",
    "responsible-ai",
    "no-derivatives",
    "non-commercial",
    "proprietary",
    "unknown",
)
TOP_DOMAINS_MIN = 10  # list at least this many domains, or the top 10% if that is more
DOMAIN_BASIS = (
    "host of each web-crawl source's URI (shards do not record per-record URLs yet), "
    "weighted by the source's tokens"
)
_CHUNK = 900


# --- subjects -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    kind: str  # manifest | run | weights
    id: str
    manifest: Manifest
    chain: tuple[Manifest, ...]  # training content, oldest first
    runs: tuple[TrainingRun, ...]
    weights: tuple[Weights, ...]
    as_of: str  # RFC 3339 UTC


def _run_chain(session: Session, run: TrainingRun) -> list[TrainingRun]:
    chain = [run]
    seen = {run.id}
    while chain[-1].parent_run_id:
        parent = session.get(TrainingRun, chain[-1].parent_run_id)
        if parent is None or parent.id in seen:
            break
        chain.append(parent)
        seen.add(parent.id)
    return chain[::-1]


def _for_run(session: Session, kind: str, ident: str, run: TrainingRun) -> _Subject:
    runs = _run_chain(session, run)
    hashes = list(dict.fromkeys(r.manifest_hash for r in runs))
    chain = tuple(m for h in hashes if (m := session.get(Manifest, h)) is not None)
    weights = tuple(
        session.scalars(
            select(Weights)
            .where(Weights.run_id.in_([r.id for r in runs]))
            .order_by(Weights.created_at, Weights.sha256)
        )
    )
    as_of = format_timestamp(run.finished_at or run.started_at)
    manifest = session.get(Manifest, run.manifest_hash)
    if manifest is None:  # pragma: no cover - a foreign key
        raise NotFound(f"run {run.id} names unknown manifest {run.manifest_hash}")
    return _Subject(
        kind=kind,
        id=ident,
        manifest=manifest,
        chain=chain,
        runs=tuple(runs),
        weights=weights,
        as_of=as_of,
    )


def _weights_subject(session: Session, path: Path) -> _Subject:
    try:
        stamp = read_stamp(path)
    except StampError as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    digest, _ = hash_file(path)
    row = session.get(Weights, digest)
    if row is None:
        raise NotFound(
            f"weights file {path} (sha256 {digest}) is not registered: the registry did not "
            f"stamp it, so its stamp (run {stamp.run}, manifest {stamp.manifest}) is unverified"
        )
    if row.run_id != stamp.run or row.manifest_hash != stamp.manifest:
        raise IntegrityFailure(
            f"weights file {path}: its stamp names run {stamp.run} and manifest "
            f"{stamp.manifest}, the registry recorded run {row.run_id} and manifest "
            f"{row.manifest_hash}"
        )
    run = session.get(TrainingRun, row.run_id)
    if run is None:  # pragma: no cover - a foreign key
        raise NotFound(f"weights {digest} name unknown run {row.run_id}")
    subject = _for_run(session, "weights", digest, run)
    return replace(subject, as_of=format_timestamp(row.created_at))


def resolve_subject(session: Session, ref: str) -> _Subject:
    """A weights file path, a run id, or a manifest (hash, prefix, name), tried in that order.

    Raises:
        NotFound: nothing of the kind; InvalidInput: an unreadable stamp or a bad prefix.
        IntegrityFailure: a weights file whose stamp disagrees with the registry.
    """
    ref = ref.strip()
    if not ref:
        raise InvalidInput("the subject is empty: give a manifest, a run id or a weights file")
    if os.sep in ref or ref.endswith(".safetensors") or Path(ref).is_file():
        path = Path(ref)
        if not path.is_file():
            raise NotFound(f"no weights file at {ref}")
        return _weights_subject(session, path)
    run = session.get(TrainingRun, ref)
    if run is not None:
        return _for_run(session, "run", run.id, run)
    manifest = manifest_row(session, ref)
    return _Subject(
        kind="manifest",
        id=manifest.hash,
        manifest=manifest,
        chain=(manifest,),
        runs=(),
        weights=(),
        as_of=_created(manifest),
    )


# --- licences and domains -------------------------------------------------------------------


def _family_of(expression: str, families: dict[str, str], known: frozenset[str]) -> str:
    """See the module docstring: OR takes the most permissive branch, AND the most restrictive."""
    licensing = _licensing(known)
    try:
        parsed = licensing.parse(expression, validate=True, strict=True)
    except le.ExpressionError:  # a stored expression the table no longer knows
        return "unknown"
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}

    def walk(node: Any) -> int:
        if isinstance(node, licensing.AND):
            return max(walk(a) for a in node.args)
        if isinstance(node, licensing.OR):
            return min(walk(a) for a in node.args)
        symbol = getattr(node, "license_symbol", node)
        return rank.get(families.get(symbol.key, "unknown"), rank["unknown"])

    return FAMILY_ORDER[walk(parsed)]


def domain_of(uri: str) -> str | None:
    """The host of a URI, lowercased, without ``www.``; None for URIs without one (file:)."""
    host = urlsplit(uri).hostname
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


# --- aggregation ----------------------------------------------------------------------------


def _per_source_table(session: Session, chain: list[str]) -> Any:
    """Arrow table (source_id, shards, bytes, records, tokens) over the distinct shards of
    ``chain``: the database joins the shard rows and sums them per source.

    Every figure of a disclosure is a function of the source, so per-source sums lose nothing;
    DuckDB then does the breakdowns. Handing a million raw shard rows to Python instead costs
    more than the whole 5 s budget (bench/disclose.py) before DuckDB sees them.
    """
    import pyarrow as pa

    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # Memory-mapped reads: the join probes the shards table's primary key a million times.
        conn.exec_driver_sql("PRAGMA mmap_size=1073741824")
    members = select(ManifestShard.shard_id).where(ManifestShard.manifest_hash.in_(chain))
    sums = (
        func.count(),
        func.coalesce(func.sum(Shard.bytes), 0),
        func.coalesce(func.sum(Shard.records), 0),
        func.coalesce(func.sum(Shard.tokens), 0),
    )
    if len(chain) == 1:
        query = (
            select(Shard.source_id, *sums)
            .join(ManifestShard, ManifestShard.shard_id == Shard.id)
            .where(ManifestShard.manifest_hash == chain[0])
        )
    else:
        query = select(Shard.source_id, *sums).where(Shard.id.in_(members))
    rows = conn.execute(query.group_by(Shard.source_id)).all()
    names = ("source_id", "shards", "bytes", "records", "tokens")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table([pa.array([int(v) for v in c], pa.int64()) for c in columns], names=list(names))


def _source_rows(session: Session, ids: list[int]) -> list[Source]:
    rows: list[Source] = []
    for i in range(0, len(ids), _CHUNK):
        part = ids[i : i + _CHUNK]
        rows.extend(session.scalars(select(Source).where(Source.id.in_(part))))
    return rows


def _by_source(session: Session, ids: list[int], model: Any) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for i in range(0, len(ids), _CHUNK):
        out.update(session.execute(model(ids[i : i + _CHUNK])).all())
    return out


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _aggregate(session: Session, chain: list[str]) -> tuple[Totals, list[SourceFact], Any]:
    """Per-source sums (database) and breakdowns (DuckDB); returns the totals, the sources and a DuckDB connection."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("per_source", _per_source_table(session, chain))
    per_source = con.execute(
        "SELECT source_id, sum(shards), sum(bytes), sum(records), sum(tokens) "
        "FROM per_source GROUP BY source_id ORDER BY source_id"
    ).fetchall()
    ids = [int(r[0]) for r in per_source]
    rows = {s.id: s for s in _source_rows(session, ids)}
    families = dict(session.execute(select(Licence.spdx_id, Licence.family)).all())
    known = known_licence_ids(session)
    contributors = _by_source(
        session,
        ids,
        lambda part: (
            select(SourceContributor.source_id, func.count())
            .where(SourceContributor.source_id.in_(part))
            .group_by(SourceContributor.source_id)
        ),
    )
    terms = _by_source(
        session,
        ids,
        lambda part: select(CompensationTerms.source_id, CompensationTerms.model).where(
            CompensationTerms.source_id.in_(part)
        ),
    )
    total_tokens = sum(int(r[4] or 0) for r in per_source)
    family_cache: dict[str, str] = {}
    facts: list[SourceFact] = []
    for source_id, n, nbytes, records, tokens in per_source:
        src = rows[int(source_id)]
        expr = src.licence_expression
        if expr not in family_cache:
            family_cache[expr] = _family_of(expr, families, known)
        facts.append(
            SourceFact(
                name=src.name,
                kind=src.kind,
                uri=src.uri,
                domain=domain_of(src.uri),
                licence=expr,
                licence_family=family_cache[expr],
                shards=int(n),
                records=int(records),
                tokens=int(tokens),
                bytes=int(nbytes),
                token_share=_share(int(tokens), total_tokens),
                collected_from=_date(src.collected_from),
                collected_to=_date(src.collected_to),
                jurisdiction=src.jurisdiction,
                tdm_checked=src.tdm_checked,
                tdm_respected=src.tdm_respected,
                pii=src.pii,
                pii_measures=src.pii_measures,
                consent_status=src.consent_status,
                status=src.status,
                compensation_model=terms.get(src.id),
                contributors=int(contributors.get(src.id, 0)),
                description=src.description,
            )
        )
    facts.sort(key=lambda s: (-s.tokens, s.name))
    totals = Totals(
        shards=sum(s.shards for s in facts),
        records=sum(s.records for s in facts),
        tokens=total_tokens,
        bytes=sum(s.bytes for s in facts),
    )
    table = pa.Table.from_pylist(
        [
            {
                "name": s.name,
                "kind": s.kind,
                "licence": s.licence,
                "family": s.licence_family,
                "domain": s.domain,
                "shards": s.shards,
                "records": s.records,
                "tokens": s.tokens,
                "bytes": s.bytes,
            }
            for s in facts
        ],
        schema=pa.schema(
            [
                ("name", pa.string()),
                ("kind", pa.string()),
                ("licence", pa.string()),
                ("family", pa.string()),
                ("domain", pa.string()),
                ("shards", pa.int64()),
                ("records", pa.int64()),
                ("tokens", pa.int64()),
                ("bytes", pa.int64()),
            ]
        ),
    )
    con.register("sources", table)
    return totals, facts, con


def _breakdown(con: Any, column: str, total_tokens: int, where: str = "") -> list[Share]:
    rows = con.execute(
        f"SELECT {column}, count(*), sum(shards), sum(records), sum(tokens), sum(bytes) "
        f"FROM sources {where} GROUP BY {column} ORDER BY sum(tokens) DESC, {column}"
    ).fetchall()
    return [
        Share(
            key=str(k),
            sources=int(n),
            shards=int(sh),
            records=int(rec),
            tokens=int(tok),
            bytes=int(b),
            token_share=_share(int(tok), total_tokens),
        )
        for k, n, sh, rec, tok, b in rows
    ]


def _crawl(con: Any) -> Crawl:
    rows = con.execute(
        "SELECT coalesce(domain, '(no domain)'), count(*), sum(tokens) FROM sources "
        "WHERE kind = 'web-crawl' GROUP BY 1 ORDER BY sum(tokens) DESC, 1"
    ).fetchall()
    crawl_tokens = sum(int(r[2]) for r in rows)
    keep = max(TOP_DOMAINS_MIN, -(-len(rows) // 10))
    return Crawl(
        domain_basis=DOMAIN_BASIS,
        domains_total=len(rows),
        tokens=crawl_tokens,
        top_domains=tuple(
            Domain(
                domain=d, sources=int(n), tokens=int(t), token_share=_share(int(t), crawl_tokens)
            )
            for d, n, t in rows[:keep]
        ),
    )


def _periods(sources: list[SourceFact]) -> list[Period]:
    groups: dict[str, list[SourceFact]] = {"all": sources}
    for s in sources:
        groups.setdefault(s.kind, []).append(s)
    out = []
    for key in ["all", *sorted(k for k in groups if k != "all")]:
        members = groups[key]
        starts = [s.collected_from for s in members if s.collected_from]
        ends = [s.collected_to for s in members if s.collected_to]
        out.append(
            Period(
                key=key,
                collected_from=min(starts) if starts else None,
                collected_to=max(ends) if ends else None,
                sources_without_dates=sum(
                    1 for s in members if not (s.collected_from or s.collected_to)
                ),
            )
        )
    return out


def _handling(sources: list[SourceFact]) -> Handling:
    return Handling(
        sources=len(sources),
        tdm_checked=sum(s.tdm_checked for s in sources),
        tdm_respected=sum(s.tdm_respected for s in sources),
        tdm_tokens_checked=sum(s.tokens for s in sources if s.tdm_checked),
        consent=dict(sorted(Counter(s.consent_status for s in sources).items())),
        pii_sources=sum(s.pii for s in sources),
        pii_tokens=sum(s.tokens for s in sources if s.pii),
        pii_measures=tuple(sorted({s.pii_measures for s in sources if s.pii and s.pii_measures})),
    )


def ledger_contributors_compensated(session: Session, manifest_hash: str) -> int | None:
    """Hook to the ledger: ``registry.ledger.public_aggregate`` where that module has it.

    Only its contributor count is used: its per-currency totals are left out, because with one
    paid contributor a total is that person's amount.
    """
    try:
        from registry.ledger import service as ledger  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    aggregate = getattr(ledger, "public_aggregate", None)
    if aggregate is None:
        return None
    return int(aggregate(session, manifest_hash).contributors_compensated)


def _compensation(session: Session, manifest_hash: str, sources: list[SourceFact]) -> Compensation:
    models: dict[str, list[int]] = {}
    for s in sources:
        agg = models.setdefault(s.compensation_model or "no terms recorded", [0, 0])
        agg[0] += 1
        agg[1] += s.tokens
    paid = [s.name for s in sources if s.compensation_model not in (None, "none")]
    with_terms = 0
    if paid:
        ids = select(Source.id).where(Source.name.in_(paid))
        with_terms = int(
            session.scalar(
                select(func.count(func.distinct(SourceContributor.contributor_id))).where(
                    SourceContributor.source_id.in_(ids)
                )
            )
            or 0
        )
    from_ledger = ledger_contributors_compensated(session, manifest_hash)
    return Compensation(
        models=tuple(
            CompensationModel(model=m, sources=v[0], tokens=v[1])
            for m, v in sorted(models.items(), key=lambda kv: (-kv[1][1], kv[0]))
        ),
        contributors_compensated=with_terms if from_ledger is None else from_ledger,
        basis=(
            "contributors with ledger entries for this manifest's runs and pools"
            if from_ledger is not None
            else "contributors of sources whose compensation terms pay them (no ledger yet)"
        ),
    )


def verification_steps(manifest: str, root: str, leaves: int) -> tuple[str, ...]:
    return (
        f"Manifest {manifest} commits to its {leaves} shard ids with the RFC 6962 Merkle root "
        f"{root} ({ALGORITHM}); a shard id is the SHA-256 of the shard file (`sha256sum`).",
        f"Get an inclusion proof: `provreg manifest prove {manifest} SHARD_ID > proof.json`.",
        f"Check it offline: `provreg manifest export {manifest} | head -1 > manifest.json` then "
        "`provreg manifest verify-proof proof.json --manifest manifest.json`.",
        "Or with nothing but Python's hashlib: the `verify` function in docs/manifest-format.md "
        "(section 'Inclusion proofs'), called as verify(proof['shard'], proof['leaf_index'], "
        f"{leaves}, proof['path'], '{root}').",
    )


def _created(m: Manifest) -> str:
    """The manifest's declared creation time: its document's (hashed) ``created_at``."""
    return str(json.loads(m.document)["created_at"])


def _ref(m: Manifest) -> ManifestRef:
    return ManifestRef(
        hash=m.hash,
        name=m.name,
        intended_use=m.intended_use,
        created_at=_created(m),
        parent=m.parent_hash,
        shards=m.shard_count,
        tokens=m.total_tokens,
    )


def _lineage(session: Session, m: Manifest) -> list[ManifestRef]:
    chain = []
    row: Manifest | None = m
    seen: set[str] = set()
    while row is not None and row.hash not in seen:
        seen.add(row.hash)
        chain.append(_ref(row))
        row = session.get(Manifest, row.parent_hash) if row.parent_hash else None
    return chain[::-1]


def _shard_files(session: Session, chain: list[str]) -> list[ShardFile]:
    members = select(ManifestShard.shard_id).where(ManifestShard.manifest_hash.in_(chain))
    query = (
        select(Shard.id, Source.name, Shard.bytes, Shard.records, Shard.format, Shard.store_uri)
        .join(Source, Source.id == Shard.source_id)
        .where(Shard.id.in_(members))
        .order_by(Shard.id)
    )
    return [
        ShardFile(id=i, source=n, bytes=b, records=r, format=f, store_uri=u)
        for i, n, b, r, f, u in session.execute(query)
    ]


def build_facts(session: Session, subject: str, *, with_shards: bool = False) -> DisclosureFacts:
    """Everything a disclosure of ``subject`` says (see the module docstring).

    ``with_shards`` adds one entry per shard file (Croissant lists files; others do not).

    Raises:
        NotFound, InvalidInput, IntegrityFailure: see ``resolve_subject``.
    """
    subj = resolve_subject(session, subject)
    chain = [m.hash for m in subj.chain]
    totals, sources, con = _aggregate(session, chain)
    try:
        by_kind = _breakdown(con, "kind", totals.tokens)
        by_licence = _breakdown(con, "licence", totals.tokens)
        by_family = _breakdown(con, "family", totals.tokens)
        crawl = _crawl(con)
    finally:
        con.close()
    merkle = tuple(
        MerkleFacts(manifest=m.hash, algorithm=ALGORITHM, root=m.merkle_root, leaves=m.shard_count)
        for m in subj.chain
    )
    return DisclosureFacts(
        subject_kind=subj.kind,
        subject=subj.id,
        as_of=subj.as_of,
        manifest=_ref(subj.manifest),
        manifest_chain=tuple(_ref(m) for m in subj.chain),
        lineage=tuple(_lineage(session, subj.manifest)),
        runs=tuple(
            RunRef(
                id=r.id,
                manifest=r.manifest_hash,
                parent_run=r.parent_run_id,
                status=r.status,
                tokenizer=r.tokenizer,
                code_version=r.code_version,
                steps_done=r.steps_done,
                started_at=format_timestamp(r.started_at),
                finished_at=format_timestamp(r.finished_at) if r.finished_at else None,
            )
            for r in subj.runs
        ),
        weights=tuple(
            WeightsRef(
                sha256=w.sha256,
                run=w.run_id,
                manifest=w.manifest_hash,
                bytes=w.bytes,
                created_at=format_timestamp(w.created_at),
            )
            for w in subj.weights
        ),
        totals=totals,
        by_kind=tuple(by_kind),
        by_licence=tuple(by_licence),
        by_licence_family=tuple(by_family),
        sources=tuple(sources),
        crawl=crawl,
        collection=tuple(_periods(sources)),
        handling=_handling(sources),
        compensation=_compensation(session, subj.manifest.hash, sources),
        merkle=merkle,
        verification=verification_steps(
            subj.manifest.hash, subj.manifest.merkle_root, subj.manifest.shard_count
        ),
        shards=tuple(_shard_files(session, chain)) if with_shards else (),
    )


# --- rendering and publishing ---------------------------------------------------------------

# format -> (media type, renderer module, needs per-shard files)
FORMATS: dict[str, tuple[str, str, bool]] = {
    "html": ("text/html; charset=utf-8", "html", False),
    "json": ("application/json", "json", False),
    "croissant": ("application/ld+json", "croissant", True),
    "eu-summary": ("application/json", "eu_summary", False),
    "eu-summary-html": ("text/html; charset=utf-8", "eu_summary_html", False),
    "spdx": ("application/ld+json", "spdx", False),
}


def check_format(fmt: str) -> str:
    """Raises: InvalidInput: an unknown format."""
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown disclosure format {fmt!r}: expected one of {', '.join(FORMATS)}"
        )
    return fmt


def render(facts: DisclosureFacts, fmt: str, inputs: DisclosureInputs | None = None) -> bytes:
    """The disclosure's bytes in ``fmt``; the same facts and inputs give the same bytes.

    Raises:
        InvalidInput: an unknown format.
    """
    import importlib

    module = importlib.import_module(f"registry.disclosure.formats.{FORMATS[check_format(fmt)][1]}")
    content: bytes = module.render(facts, inputs or DisclosureInputs())
    return content


class DisclosureOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    hash: str
    subject_kind: str
    subject: str
    format: str
    media_type: str
    bytes: int
    created_at: datetime
    content: builtins.bytes = Field(default=b"", exclude=True, repr=False)


def _out(row: Disclosure, *, content: bool = False) -> DisclosureOut:
    return DisclosureOut(
        hash=row.hash,
        subject_kind=row.subject_kind,
        subject=row.subject,
        format=row.format,
        media_type=row.media_type,
        bytes=len(row.content),
        created_at=row.created_at,
        content=row.content if content else b"",
    )


def publish(
    session: Session, subject: str, fmt: str, inputs: DisclosureInputs | None = None
) -> DisclosureOut:
    """Render and store a disclosure, addressed by the SHA-256 of its bytes. Idempotent.

    Raises:
        InvalidInput: an unknown format; NotFound etc.: see ``resolve_subject``.
    """
    check_format(fmt)
    facts = build_facts(session, subject, with_shards=FORMATS[fmt][2])
    content = render(facts, fmt, inputs)
    digest = hashlib.sha256(content).hexdigest()
    row = session.get(Disclosure, digest)
    if row is not None:
        return _out(row, content=True)
    row = Disclosure(
        hash=digest,
        subject_kind=facts.subject_kind,
        subject=facts.subject,
        format=fmt,
        media_type=FORMATS[fmt][0],
        content=content,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "disclosure.publish",
        "disclosure",
        digest,
        {
            "subject_kind": facts.subject_kind,
            "subject": facts.subject,
            "format": fmt,
            "bytes": len(content),
        },
    )
    return _out(row, content=True)


def list_published(session: Session, *, subject: str | None = None) -> list[DisclosureOut]:
    """Published disclosures, newest first (without their content)."""
    query = select(Disclosure).order_by(Disclosure.created_at.desc(), Disclosure.hash)
    if subject:
        query = query.where(Disclosure.subject == subject)
    return [_out(r) for r in session.scalars(query)]


def get_published(session: Session, digest: str) -> DisclosureOut:
    """A published disclosure with its content.

    Raises:
        NotFound: no disclosure with that hash.
    """
    row = session.get(Disclosure, digest.strip().lower())
    if row is None:
        raise NotFound(f"no published disclosure {digest!r}")
    return _out(row, content=True)


def published_sibling(session: Session, of: DisclosureOut, fmt: str) -> DisclosureOut | None:
    """The newest published disclosure of the same subject in ``fmt``, if any."""
    row = session.scalars(
        select(Disclosure)
        .where(
            Disclosure.subject == of.subject,
            Disclosure.subject_kind == of.subject_kind,
            Disclosure.format == fmt,
        )
        .order_by(Disclosure.created_at.desc(), Disclosure.hash)
        .limit(1)
    ).first()
    return _out(row, content=True) if row is not None else None


def facts_json(facts: DisclosureFacts) -> dict[str, Any]:
    """The facts as JSON data (``schema`` first-class, shard files left out)."""
    data: dict[str, Any] = facts.model_dump(mode="json", by_alias=True, exclude={"shards"})
    return data


def dumps(data: Any) -> bytes:
    """Deterministic JSON: sorted keys, compact, UTF-8, one final newline.

    Compact because ``indent`` makes the json module fall back to its pure-Python encoder
    (10x slower on a 10,000-source disclosure); pipe through ``jq`` to read it.
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode("utf-8")
