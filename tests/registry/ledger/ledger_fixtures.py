"""Rows the ledger reads (shards, manifests, runs, consumption), inserted directly.

The trainer and manifest services are built elsewhere; the ledger only needs their rows.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from registry.catalogue import contributors, sources
from registry.db.models import Contributor, Manifest, ManifestShard, Shard, TrainingRun
from tests.registry.factories import consume

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def source(session: Session, name: str, terms: str | None, shares: dict[str, str]) -> int:
    """A source with ``terms`` ('per-mtok:1.50:EUR', 'none', ...) and contributors' shares."""
    for person in shares:
        if (
            session.scalars(select(Contributor.id).where(Contributor.name == person)).first()
            is None
        ):
            contributors.add_contributor(session, name=person)
    spec = sources.SourceIn(
        name=name,
        uri=f"https://example.org/{name}",
        kind="licensed",
        licence="MIT",
        contributors=[sources.ShareIn(contributor=c, share=Decimal(v)) for c, v in shares.items()],
        terms=sources.parse_terms(terms) if terms else None,
    )
    return sources.add_source(session, spec).id


def shards(session: Session, source_id: int, n: int = 1) -> list[str]:
    ids = [digest(f"shard:{source_id}:{i}") for i in range(n)]
    session.execute(
        insert(Shard),
        [
            {
                "id": i,
                "source_id": source_id,
                "bytes": 1,
                "records": 1,
                "tokens": 1,
                "format": "jsonl",
                "store_uri": f"store/{i}",
            }
            for i in ids
        ],
    )
    return ids


def manifest(session: Session, name: str, shard_ids: list[str]) -> str:
    h = digest(f"manifest:{name}")
    session.execute(
        insert(Manifest),
        [
            {
                "hash": h,
                "name": name,
                "intended_use": "research",
                "merkle_root": digest(name),
                "shard_count": len(shard_ids),
                "total_bytes": 0,
                "total_records": 0,
                "total_tokens": 0,
                "document": "{}",
            }
        ],
    )
    if shard_ids:
        session.execute(
            insert(ManifestShard), [{"manifest_hash": h, "shard_id": s} for s in shard_ids]
        )
    return h


def run(
    session: Session,
    run_id: str,
    manifest_hash: str,
    consumed: dict[str, int],
    *,
    status: str = "completed",
    finished_minutes: int | None = 0,
) -> str:
    """A run that fed ``consumed`` (shard id -> tokens) to the optimizer."""
    finished = None
    if status == "completed" and finished_minutes is not None:
        finished = T0 + timedelta(minutes=finished_minutes)
    session.execute(
        insert(TrainingRun),
        [
            {
                "id": run_id,
                "manifest_hash": manifest_hash,
                "status": status,
                "config": "{}",
                "seed": 0,
                "tokenizer": "bytes",
                "code_version": "test",
                "started_at": T0,
                "finished_at": finished,
            }
        ],
    )
    if consumed:
        consume(session, run_id, {s: (t, 1) for s, t in consumed.items()})
    return run_id
