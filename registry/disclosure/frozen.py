"""A manifest's record figures, summed once when it is created and kept beside it.

Why: a manifest's shard set never changes, nor do a shard's per-domain, per-licence and
per-author rows (ingest writes them with the shard, content-addressed), so the record figures a
disclosure shows are a function of the manifest alone. Summing them at creation costs one
GROUP BY per table, once; a disclosure then reads as many rows as the manifest has domains
(100,000), not one per (shard, domain) pair (3,000,000 for a 1M-shard web crawl): that join is
what made a 1M-shard disclosure take tens of seconds (``bench/disclose.py``).

``freeze`` writes the sums in the creating transaction; migration 0012 runs the same statements
over every manifest that existed before. A disclosure of a chain of several manifests (continual
training) unions their shards, which per-manifest sums cannot give: it sums the shard rows as
before (``aggregate.record_facts``). ``tests/registry/disclosure/test_frozen.py`` checks the
frozen figures against those live sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.models import ManifestDomainSum, ManifestRecordLicenceSum, ManifestRecordSummary
from registry.shards.format import FORMAT_V2

# Each statement sums the shard rows (``m`` is ``manifest_shards``) of manifest ``:h``;
# migration 0012 keeps its own copy, over every manifest.
_DOMAINS = (
    "INSERT INTO manifest_domain_sums (manifest_hash, domain, records, bytes, tokens) "
    "SELECT m.manifest_hash, d.domain, sum(d.records), sum(d.bytes), sum(d.tokens) "
    "FROM manifest_shards m JOIN shard_domains d ON d.shard_id = m.shard_id "
    "WHERE m.manifest_hash = :h GROUP BY m.manifest_hash, d.domain"
)
_LICENCES = (
    "INSERT INTO manifest_record_licence_sums (manifest_hash, licence, records, tokens) "
    "SELECT m.manifest_hash, l.licence, sum(l.records), sum(l.tokens) "
    "FROM manifest_shards m JOIN shard_record_licences l ON l.shard_id = m.shard_id "
    "WHERE m.manifest_hash = :h GROUP BY m.manifest_hash, l.licence"
)
_SUMMARY = (
    "INSERT INTO manifest_record_summaries "
    "(manifest_hash, profiled_shards, records_from, records_to, authors) "
    "SELECT m.manifest_hash, count(*), min(s.records_from), max(s.records_to), "
    "(SELECT count(DISTINCT a.author) FROM manifest_shards ma "
    " JOIN shard_authors a ON a.shard_id = ma.shard_id WHERE ma.manifest_hash = m.manifest_hash) "
    "FROM manifest_shards m JOIN shards s ON s.id = m.shard_id "
    "WHERE m.manifest_hash = :h AND s.format = :v2 GROUP BY m.manifest_hash"
)
STATEMENTS = (_DOMAINS, _LICENCES, _SUMMARY)


def freeze(session: Session, manifest_hash: str) -> None:
    """Freeze one new manifest's record figures, in its creating transaction: server-side
    INSERT ... SELECT, no row passes through Python. A manifest none of whose shards is
    profiled gets no rows (its disclosure has no record figures)."""
    conn = session.connection()
    for statement in STATEMENTS:
        conn.execute(text(statement), {"v2": FORMAT_V2, "h": manifest_hash})


@dataclass(frozen=True)
class FrozenRecords:
    """What ``freeze`` kept of one manifest: the figures ``aggregate.record_facts`` shows."""

    profiled_shards: int
    records_from: date | None
    records_to: date | None
    authors: int
    domains: list[tuple[str, int, int, int]]  # domain, records, bytes, tokens; most bytes first
    licences: list[tuple[str, int, int]]  # licence, records, tokens; most tokens first


def frozen_records(session: Session, manifest_hash: str) -> FrozenRecords | None:
    """The frozen record figures of a manifest, or None when it has none (no profiled shard)."""
    summary = session.get(ManifestRecordSummary, manifest_hash)
    if summary is None:
        return None
    d = ManifestDomainSum
    domains = session.execute(
        select(d.domain, d.records, d.bytes, d.tokens)
        .where(d.manifest_hash == manifest_hash)
        .order_by(d.bytes.desc(), d.domain)
    ).all()
    lic = ManifestRecordLicenceSum
    licences = session.execute(
        select(lic.licence, lic.records, lic.tokens)
        .where(lic.manifest_hash == manifest_hash)
        .order_by(lic.tokens.desc(), lic.licence)
    ).all()
    return FrozenRecords(
        profiled_shards=summary.profiled_shards,
        records_from=summary.records_from,
        records_to=summary.records_to,
        authors=summary.authors,
        domains=[(str(a), int(b), int(c), int(e)) for a, b, c, e in domains],
        licences=[(str(a), int(b), int(c)) for a, b, c in licences],
    )
