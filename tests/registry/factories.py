"""Small builders for registry rows that tests need but whose own commands are tested elsewhere."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalogue import contributors, sources
from registry.db.models import Contributor, DatasetShard, Shard, Source
from registry.shards.datasets import ensure_dataset
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore


def fake_id(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def source(
    session: Session,
    name: str,
    *,
    licence: str = "MIT",
    kind: str = "public-dataset",
    consent: str = "not-required",
    contributor: str | None = None,
    terms: str | None = "none",
) -> Source:
    members = []
    if contributor:
        if (
            session.scalars(select(Contributor).where(Contributor.name == contributor)).first()
            is None
        ):
            contributors.add_contributor(session, name=contributor)
        members = [sources.ShareIn(contributor=contributor, share=Decimal(1))]
    sources.add_source(
        session,
        sources.SourceIn(
            name=name,
            uri=f"https://example.org/{name}",
            kind=kind,
            licence=licence,
            consent_status=consent,
            contributors=members,
            terms=sources.parse_terms(terms) if terms else None,
        ),
    )
    return sources.source_row(session, name)


def shards(session: Session, src: Source, dataset: str, n: int, *, version: str = "1") -> list[str]:
    """Register ``n`` shard rows (no files) in ``dataset@version`` for ``src``."""
    ds, _ = ensure_dataset(session, f"{dataset}@{version}")
    ids = []
    for i in range(n):
        sid = fake_id(f"{src.name}/{dataset}/{version}/{i}")
        session.add(
            Shard(
                id=sid,
                source_id=src.id,
                bytes=1000 + i,
                records=10 + i,
                tokens=2000 + i,
                format="parquet",
                store_uri=f"memory://{sid}",
            )
        )
        ids.append(sid)
    session.flush()
    session.add_all(DatasetShard(dataset_id=ds.id, shard_id=sid) for sid in ids)
    session.flush()
    return ids


def crawl(
    session: Session,
    store: ShardStore,
    path: Path,
    rows: list[dict[str, Any]],
    fields: RecordFields,
    *,
    shard_size: int,
) -> None:
    """A web-crawl source ``crawl`` (crawler ExampleBot) whose ``rows`` (JSONL at ``path``) are
    ingested with record ``fields`` into the dataset ``crawl``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    sources.add_source(session, sources.SourceIn(name="crawl", uri="https://crawl.example",
                       kind="web-crawl", licence="MIT", crawler="ExampleBot"))  # fmt: skip
    ingest_paths(session, store, [path], source="crawl", dataset="crawl", fields=fields,
                 shard_size=shard_size)  # fmt: skip


def consume(session: Session, run_id: str, used: dict[str, tuple[int, int]]) -> None:
    """Consumption rows of a run, {shard id: (tokens, records)}, written as a test's fixture
    (the trainer's path is ``runs.record_progress``); each row copies its shard's source and
    size, as the schema's foreign key requires."""
    from sqlalchemy import insert

    from registry.db.models import Consumption

    facts = {
        sid: (source_id, tokens, records)
        for sid, source_id, tokens, records in session.execute(
            select(Shard.id, Shard.source_id, Shard.tokens, Shard.records).where(Shard.id.in_(used))
        )
    }
    session.execute(
        insert(Consumption),
        [
            {"run_id": run_id, "shard_id": sid, "tokens": t, "records": r,
             "source_id": facts[sid][0], "shard_tokens": facts[sid][1],
             "shard_records": facts[sid][2]}
            for sid, (t, r) in used.items()
        ],
    )  # fmt: skip
