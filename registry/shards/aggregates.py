"""Writing a shard's record profile into the registry: the per-domain, per-author and
per-licence rows, the record key index and the record date span, in bulk, in the ingest's transaction;
and a contributor for each author key the source did not know yet (``catalogue.authors``).

Rows are inserted with ``ON CONFLICT DO NOTHING``: the same bytes give the same profile, so a
shard ingested again (or by a concurrent transaction) keeps the rows it has. A shard registered
by metadata alone (``POST /shards``, ``provreg shard register`` of a v1 file) has no rows here:
its records were never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from registry.catalogue.authors import ensure_authors
from registry.db.models import (
    Shard,
    ShardAuthor,
    ShardDomain,
    ShardRecordKey,
    ShardRecordLicence,
)
from registry.shards.profile import RecordProfile

_BATCH = 5000


def record_profiles(session: Session, profiles: Iterable[tuple[str, RecordProfile]]) -> None:
    """Store each (shard id, profile): its sums and, where it has dates, its span."""
    domains: list[dict[str, Any]] = []
    authors: list[dict[str, Any]] = []
    licences: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    keyed: list[dict[str, Any]] = []
    for shard_id, p in profiles:
        domains += [
            {"shard_id": shard_id, "domain": k, "records": r, "bytes": b, "tokens": t}
            for k, (r, b, t) in sorted(p.domains.items())
        ]
        authors += [
            {"shard_id": shard_id, "author": k, "records": r, "tokens": t}
            for k, (r, t) in sorted(p.authors.items())
        ]
        licences += [
            {"shard_id": shard_id, "licence": k, "records": r, "tokens": t}
            for k, (r, t) in sorted(p.licences.items())
        ]
        keys += [
            {"kind": kind, "key": key, "shard_id": shard_id, "records": r, "tokens": t}
            for (kind, key), (r, t) in sorted(p.keys.items())
        ]
        if p.keys:
            keyed.append({"sid": shard_id})
        if p.first is not None:
            session.execute(
                update(Shard)
                .where(Shard.id == shard_id, Shard.records_from.is_(None))
                .values(records_from=p.first, records_to=p.last)
            )
    for model, rows in (
        (ShardDomain, domains),
        (ShardAuthor, authors),
        (ShardRecordLicence, licences),
        (ShardRecordKey, keys),
    ):
        _insert(session, model, rows)
    if keyed:  # Core executemany: one statement for the batch
        session.connection().execute(
            update(Shard).where(Shard.id == bindparam("sid")).values(keys_indexed=True),
            keyed,
        )
    ensure_authors(session, {(r["shard_id"], r["author"]) for r in authors})
    session.flush()


def _insert(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model.__table__).on_conflict_do_nothing()  # Core: no ORM bulk bookkeeping
    conn = session.connection()
    for start in range(0, len(rows), _BATCH):
        conn.execute(stmt, list(rows[start : start + _BATCH]))
