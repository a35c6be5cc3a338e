"""A disclosure's figures: per-source sums in the database, breakdowns in DuckDB.

The database joins the manifests' shard rows and sums them per source (exact: every figure of
a disclosure is a function of the source, so per-source sums lose nothing); those sums and the
sources go to DuckDB as Arrow tables, and DuckDB does the breakdowns by kind, licence, licence
family and crawl domain. ``aggregate`` opens and closes its own DuckDB connection and returns
plain data.

Record figures (``records``: domains of record URLs, authors, record licences, the span of record
dates) are sums of the per-shard rows ingest wrote for v2 shards (``shard_domains``,
``shard_authors``, ``shard_record_licences``, ``shards.records_from/to``), grouped in the
database: no shard file is opened. Shards registered by metadata alone have no such rows.

Licence families: an expression naming one licence has that licence's family; ``A OR B`` has
the most permissive family among its branches (a licensee may choose the branch), ``A AND B``
the most restrictive (both apply), and ``L WITH exception`` the family of ``L``. The order,
most permissive first, is ``FAMILY_ORDER``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import license_expression as le
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from registry.catalogue.licences import _licensing, known_licence_ids
from registry.db.chunks import chunked
from registry.db.engine import memory_mapped
from registry.db.models import (
    CompensationTerms,
    Licence,
    Manifest,
    ManifestShard,
    Shard,
    Source,
    SourceContributor,
)
from registry.disclosure.domain_rule import RULE, relevant_domain_count
from registry.disclosure.facts import (
    Crawl,
    Domain,
    RecordDomain,
    RecordFacts,
    RecordLicence,
    Share,
    SourceFact,
    Totals,
)
from registry.disclosure.frozen import FrozenRecords, frozen_records
from registry.shards.format import FORMAT_V2

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

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
RECORD_DOMAIN_BASIS = (
    "registrable domain (Public Suffix List) of each record's URL, summed over the v2 shards' "
    "per-domain rows, by text bytes"
)


@dataclass(frozen=True)
class Aggregate:
    """The figures over the distinct shards of a manifest chain."""

    totals: Totals
    sources: tuple[SourceFact, ...]  # most tokens first, then by name
    by_kind: tuple[Share, ...]
    by_licence: tuple[Share, ...]
    by_licence_family: tuple[Share, ...]
    crawl: Crawl
    records: RecordFacts | None = None


def aggregate(session: Session, chain: Sequence[str]) -> Aggregate:
    """The figures over the distinct shards of the manifests ``chain`` (hashes)."""
    # Imported here, as pyarrow below: only disclosures need them, and each costs a fraction
    # of a second to import.
    import duckdb

    per_source = _per_source_table(session, chain)
    with closing(duckdb.connect()) as con:
        con.register("per_source", per_source)
        sums = con.execute(
            "SELECT source_id, sum(shards), sum(bytes), sum(records), sum(tokens) "
            "FROM per_source GROUP BY source_id ORDER BY source_id"
        ).fetchall()
        sources = _source_facts(session, sums)
        totals = Totals(
            shards=sum(s.shards for s in sources),
            records=sum(s.records for s in sources),
            tokens=sum(int(r[4] or 0) for r in sums),
            bytes=sum(s.bytes for s in sources),
        )
        con.register("sources", _sources_table(sources))
        return Aggregate(
            totals=totals,
            sources=tuple(sources),
            by_kind=_breakdown(con, "kind", totals.tokens),
            by_licence=_breakdown(con, "licence", totals.tokens),
            by_licence_family=_breakdown(con, "family", totals.tokens),
            crawl=_crawl(con),
            records=record_facts(session, chain, [int(r[0]) for r in sums]),
        )


def _members(chain: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """SQL for a table ``m`` of the distinct shard ids of ``chain`` to join on, and its
    parameters: one manifest's rows are distinct already, and a join probes each table's
    primary key (faster than ``IN (subquery)`` on SQLite, bench/disclose.py)."""
    names = {f"m{i}": h for i, h in enumerate(chain)}
    if len(chain) == 1:
        return "(SELECT shard_id FROM manifest_shards WHERE manifest_hash = :m0) m", names
    listed = ", ".join(f":{n}" for n in names)
    return (
        f"(SELECT DISTINCT shard_id FROM manifest_shards WHERE manifest_hash IN ({listed})) m",
        names,
    )


def record_facts(
    session: Session, chain: Sequence[str], source_ids: Sequence[int]
) -> RecordFacts | None:
    """The record figures of ``chain`` (None when none of its shards was profiled): one
    manifest's as frozen at its creation (``frozen``), a chain's summed from the per-shard
    rows, one GROUP BY per table."""
    kept = frozen_records(session, chain[0]) if len(chain) == 1 else _live_records(session, chain)
    if kept is None:
        return None
    crawlers = sorted(
        {
            c
            for part in chunked(list(source_ids))
            for c in session.scalars(
                select(Source.crawler).where(Source.id.in_(part), Source.crawler.is_not(None))
            )
            if c
        }
    )
    total_bytes = sum(b for _, _, b, _ in kept.domains)
    keep = max(TOP_DOMAINS_MIN, relevant_domain_count(len(kept.domains)))
    return RecordFacts(
        basis=RECORD_DOMAIN_BASIS,
        rule=RULE,
        shards=kept.profiled_shards,
        records_with_url=sum(r for _, r, _, _ in kept.domains),
        bytes_with_url=total_bytes,
        domains_total=len(kept.domains),
        domains=tuple(
            RecordDomain(domain=d, records=r, bytes=b, tokens=t, byte_share=_share(b, total_bytes))
            for d, r, b, t in kept.domains[:keep]
        ),
        authors_total=kept.authors,
        licences=tuple(RecordLicence(licence=k, records=r, tokens=t) for k, r, t in kept.licences),
        records_from=_date(kept.records_from),
        records_to=_date(kept.records_to),
        crawlers=tuple(crawlers),
    )


def _live_records(session: Session, chain: Sequence[str]) -> FrozenRecords | None:
    """The record figures of the distinct shards of several manifests, from the shard rows
    (what ``frozen.freeze`` sums for one manifest at its creation)."""
    members, params = _members(chain)
    conn = session.connection()
    profiled, first, last = conn.execute(
        text(
            "SELECT count(*), min(s.records_from), max(s.records_to) "
            f"FROM {members} JOIN shards s ON s.id = m.shard_id WHERE s.format = :v2"
        ),
        params | {"v2": FORMAT_V2},
    ).one()
    if not profiled:
        return None
    domains = conn.execute(
        text(
            "SELECT d.domain, sum(d.records), sum(d.bytes), sum(d.tokens) "
            f"FROM {members} JOIN shard_domains d ON d.shard_id = m.shard_id "
            "GROUP BY d.domain ORDER BY sum(d.bytes) DESC, d.domain"
        ),
        params,
    ).all()
    authors = conn.execute(
        text(
            f"SELECT count(DISTINCT a.author) FROM {members} "
            "JOIN shard_authors a ON a.shard_id = m.shard_id"
        ),
        params,
    ).scalar_one()
    licences = conn.execute(
        text(
            "SELECT l.licence, sum(l.records), sum(l.tokens) "
            f"FROM {members} JOIN shard_record_licences l ON l.shard_id = m.shard_id "
            "GROUP BY l.licence ORDER BY sum(l.tokens) DESC, l.licence"
        ),
        params,
    ).all()
    return FrozenRecords(
        profiled_shards=int(profiled),
        records_from=_as_date(first),
        records_to=_as_date(last),
        authors=int(authors),
        domains=[(str(d), int(r), int(b), int(t)) for d, r, b, t in domains],
        licences=[(str(k), int(r), int(t)) for k, r, t in licences],
    )


def _as_date(value: Any) -> Any:
    """SQLite returns an aggregate's date as text: parse it back (PostgreSQL gives a date)."""
    import datetime as dt

    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def family_of(expression: str, families: dict[str, str], known: frozenset[str]) -> str:
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


def _per_source_table(session: Session, chain: Sequence[str]) -> pa.Table:
    """Arrow table (source_id, shards, bytes, records, tokens) over the distinct shards of
    ``chain``: one manifest's from its document, a chain's joined and summed in the database.

    Handing a million raw shard rows to Python instead costs more than the whole 5 s budget
    (bench/disclose.py) before DuckDB sees them; the join alone takes most of it.
    """
    import pyarrow as pa

    names = ("source_id", "shards", "bytes", "records", "tokens")
    rows: list[tuple[int, int, int, int, int]] | None = (
        _document_sums(session, chain[0]) if len(chain) == 1 else None
    )
    if rows is None:
        rows = _joined_sums(session, chain)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table([pa.array([int(v) for v in c], pa.int64()) for c in columns], names=list(names))


def _document_sums(
    session: Session, manifest_hash: str
) -> list[tuple[int, int, int, int, int]] | None:
    """One manifest's per-source sums as its frozen document states them (summed from the same
    shard rows when it was created; a source's name never changes), with the sources' ids: no
    join over a million shard rows. None if a source is not found by its name."""
    document = session.scalar(select(Manifest.document).where(Manifest.hash == manifest_hash))
    if document is None:
        return None
    listed = json.loads(document)["sources"]
    ids: dict[str, int] = {}
    for part in chunked([x["name"] for x in listed]):
        ids.update(
            session.execute(select(Source.name, Source.id).where(Source.name.in_(part)))
            .tuples()
            .all()
        )
    if len(ids) != len(listed):
        return None
    out = [(ids[x["name"]], x["shards"], x["bytes"], x["records"], x["tokens"]) for x in listed]
    return sorted(out)


def _joined_sums(session: Session, chain: Sequence[str]) -> list[tuple[int, int, int, int, int]]:
    """Per-source sums over the distinct shards of ``chain``, joined and summed in the
    database (a chain of manifests shares shards: their documents' sums would count them twice)."""
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
        members = select(ManifestShard.shard_id).where(ManifestShard.manifest_hash.in_(chain))
        query = select(Shard.source_id, *sums).where(Shard.id.in_(members))
    with memory_mapped(session):  # the join probes the shards' primary key a million times
        rows = session.execute(query.group_by(Shard.source_id)).all()
    return [tuple(int(v) for v in r) for r in rows]  # type: ignore[misc]


def _source_facts(session: Session, sums: Sequence[tuple[Any, ...]]) -> list[SourceFact]:
    """One fact per source from its sums (source_id, shards, bytes, records, tokens)."""
    ids = [int(r[0]) for r in sums]
    rows = {s.id: s for s in _source_rows(session, ids)}
    families = dict(session.execute(select(Licence.spdx_id, Licence.family)).all())
    known = known_licence_ids(session)
    contributors = _contributor_counts(session, ids)
    terms = _terms_models(session, ids)
    total_tokens = sum(int(r[4] or 0) for r in sums)
    family_cache: dict[str, str] = {}
    facts: list[SourceFact] = []
    for source_id, n, nbytes, records, tokens in sums:
        src = rows[int(source_id)]
        expr = src.licence_expression
        if expr not in family_cache:
            family_cache[expr] = family_of(expr, families, known)
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
    return facts


def _source_rows(session: Session, ids: Sequence[int]) -> list[Any]:
    """The sources' rows as plain rows (attribute access by column name, as a ``Source``):
    loading 10,000 ORM objects cost a disclosure most of a second."""
    columns = Source.__table__.columns
    rows: list[Any] = []
    for chunk in chunked(ids):
        rows.extend(session.execute(select(*columns).where(Source.id.in_(chunk))).all())
    return rows


def _contributor_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in chunked(ids):
        query = (
            select(SourceContributor.source_id, func.count())
            .where(SourceContributor.source_id.in_(chunk))
            .group_by(SourceContributor.source_id)
        )
        out.update(session.execute(query).all())
    return out


def _terms_models(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in chunked(ids):
        query = select(CompensationTerms.source_id, CompensationTerms.model).where(
            CompensationTerms.source_id.in_(chunk)
        )
        out.update(session.execute(query).all())
    return out


def _sources_table(sources: Sequence[SourceFact]) -> pa.Table:
    """The columns DuckDB groups by, one row per source."""
    import pyarrow as pa

    return pa.Table.from_pylist(
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
            for s in sources
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


def _breakdown(con: duckdb.DuckDBPyConnection, column: str, total_tokens: int) -> tuple[Share, ...]:
    """Sources grouped by ``column`` (a fixed column name, never user input), most tokens first."""
    rows = con.execute(
        f"SELECT {column}, count(*), sum(shards), sum(records), sum(tokens), sum(bytes) "
        f"FROM sources GROUP BY {column} ORDER BY sum(tokens) DESC, {column}"
    ).fetchall()
    return tuple(
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
    )


def _crawl(con: duckdb.DuckDBPyConnection) -> Crawl:
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


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
