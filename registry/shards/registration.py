"""Registering shards by id and metadata, one or many at once; the bytes may be uploaded later.

A shard's id is the SHA-256 of its bytes, so a registration is a claim about bytes the registry
may not hold yet: the upload (``registry.uploads``) checks the bytes against the id before it
keeps them. Registering the same shard again with the same metadata changes nothing (it may link
it to another dataset); other metadata under a known id is a conflict.

Bulk registration is one statement per table: existence checks in batches, Core inserts.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import DatasetShard, Shard, Source
from registry.entities import Entity
from registry.errors import Conflict, InvalidInput, NotPermitted
from registry.shards.datasets import ensure_dataset
from registry.shards.format import FORMAT
from registry.shards.ingest import storable_source
from registry.shards.store import ShardStore

_CHUNK = 900  # ids per IN (...): under SQLite's variable limit
MAX_BULK = 100_000


class ShardIn(BaseModel):
    """One shard to register: its id (the SHA-256 of its bytes) and what it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes, lowercase hex")
    source: str = Field(min_length=1, max_length=200, description="a registered source")
    dataset: str | None = Field(
        default=None, min_length=1, max_length=251, description="NAME[@VERSION] to link it to"
    )
    bytes: int = Field(ge=0, le=2**62)
    records: int = Field(ge=0, le=2**62)
    tokens: int = Field(ge=0, le=2**62)
    format: str = Field(default=FORMAT, min_length=1, max_length=40)


class RegisterReport(Entity):
    """What a registration did: new rows, shards already registered alike, dataset links."""

    registered: int
    already_registered: int
    linked: int
    datasets_created: tuple[str, ...]


def _same(row: Shard, item: ShardIn, source_id: int) -> list[str]:
    """The fields where ``item`` contradicts the registered ``row``."""
    wanted = {
        "source_id": source_id,
        "bytes": item.bytes,
        "records": item.records,
        "tokens": item.tokens,
        "format": item.format,
    }
    return [k for k, v in wanted.items() if getattr(row, k) != v]


def _unique(items: Sequence[ShardIn]) -> dict[str, ShardIn]:
    """Items by id; the same id twice must say the same thing (the dataset may differ)."""
    by_id: dict[str, ShardIn] = {}
    for n, item in enumerate(items):
        seen = by_id.get(item.id)
        if seen is None:
            by_id[item.id] = item
        elif seen.model_dump(exclude={"dataset"}) != item.model_dump(exclude={"dataset"}):
            raise InvalidInput(f"shards[{n}]: shard {item.id} is listed twice with other metadata")
    return by_id


def register_shards(
    session: Session, store: ShardStore, items: Sequence[ShardIn]
) -> RegisterReport:
    """Register shards by metadata, all or none (the caller's transaction).

    Raises:
        InvalidInput: no shards, too many, one id twice with different metadata, a bad dataset.
        NotFound: an unknown source.
        NotPermitted: a revoked or opted-out source, or a revoked shard registered again.
        Conflict: a known id registered with other metadata.
    """
    if not items:
        raise InvalidInput("no shards to register")
    if len(items) > MAX_BULK:
        raise InvalidInput(f"{len(items)} shards in one request; at most {MAX_BULK}")
    by_id = _unique(items)
    sources: dict[str, Source] = {
        name: storable_source(session, name) for name in sorted({i.source for i in items})
    }
    datasets: dict[str, int] = {}
    created: list[str] = []
    for ref in sorted({i.dataset for i in items if i.dataset is not None}):
        ds, new = ensure_dataset(session, ref)
        datasets[ref] = ds.id
        if new:
            created.append(f"{ds.name}@{ds.version}")

    ids = list(by_id)
    existing: dict[str, Shard] = {}
    for start in range(0, len(ids), _CHUNK):
        for row in session.scalars(select(Shard).where(Shard.id.in_(ids[start : start + _CHUNK]))):
            existing[row.id] = row
    for shard_id, row in existing.items():
        item = by_id[shard_id]
        if row.status == "revoked":
            raise NotPermitted(
                f"shard {shard_id} holds data that was revoked ({row.revoked_reason}); "
                "it may not be registered again"
            )
        differ = _same(row, item, sources[item.source].id)
        if differ:
            raise Conflict(f"shard {shard_id} is already registered with other {', '.join(differ)}")

    wanted_links = {(datasets[i.dataset], i.id) for i in items if i.dataset is not None}
    linked: set[tuple[int, str]] = set()
    for dataset_id in {d for d, _ in wanted_links}:
        known = [s for d, s in wanted_links if d == dataset_id and s in existing]
        for start in range(0, len(known), _CHUNK):
            linked.update(
                (dataset_id, s)
                for s in session.scalars(
                    select(DatasetShard.shard_id).where(
                        DatasetShard.dataset_id == dataset_id,
                        DatasetShard.shard_id.in_(known[start : start + _CHUNK]),
                    )
                )
            )
    new_rows = [
        {
            "id": item.id,
            "source_id": sources[item.source].id,
            "bytes": item.bytes,
            "records": item.records,
            "tokens": item.tokens,
            "format": item.format,
            "store_uri": store.uri_for(item.id),
            "status": "active",
        }
        for item in by_id.values()
        if item.id not in existing
    ]
    links = [{"dataset_id": d, "shard_id": s} for d, s in sorted(wanted_links - linked)]
    if new_rows:
        session.execute(insert(Shard), new_rows)
    if links:
        session.execute(insert(DatasetShard), links)
    session.flush()
    if new_rows or links:
        audit.record(
            session,
            "shard.register",
            "shard",
            str(new_rows[0]["id"]) if len(new_rows) == 1 else f"{len(new_rows)} shards",
            {
                "new_shards": sorted(str(r["id"]) for r in new_rows),
                "links": [[link["dataset_id"], link["shard_id"]] for link in links],
            },
        )
    return RegisterReport(
        registered=len(new_rows),
        already_registered=len(existing),
        linked=len(links),
        datasets_created=tuple(created),
    )
