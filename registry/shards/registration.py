"""Registering shards: the one place that writes shard rows and dataset links.

Every path that adds shards comes here: ``POST /shards`` and ``/shards/bulk`` (a claim by id and
metadata, the bytes uploaded later), ``provreg ingest`` and ``provreg shard register`` (files
already hashed into the store, through ``registry.shards.ingest``). A shard's id is the SHA-256
of its bytes, so a registration is a claim about bytes the registry may not hold yet: the upload
(``registry.shards.uploads``) checks the bytes against the id before it keeps them.

Registering the same shard again with the same metadata changes nothing (it may link it to
another dataset); other metadata under a known id is a conflict; a revoked shard is never
registered again. It is one statement per table: existence checks in chunks, Core inserts that skip a key a
concurrent transaction inserted first (``registry.db.upsert``), which is then checked as known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit, limits
from registry.catalogue.sources import source_row
from registry.db.chunks import chunked
from registry.db.models import Dataset, DatasetShard, Shard, Source
from registry.db.upsert import insert_new
from registry.entities.shards import RegisterReport, ShardIn
from registry.errors import Conflict, InvalidInput, NotPermitted
from registry.shards import file_locks
from registry.shards.datasets import ensure_dataset
from registry.shards.store import ShardStore

AuditAs = Literal["shard.register", "dataset.ingest", "dataset.register"]
"""How the audit log names a registration: ``shard.register`` for claims (one entry naming the
new shards and links); ``dataset.ingest`` and ``dataset.register`` for files added to one
dataset from one source (one entry on the dataset)."""


def storable_source(session: Session, name: str) -> Source:
    """The source, if its data may be stored.

    Revoked and opted-out sources are refused. A licence that forbids AI training does not stop
    storing (the data may be kept, disclosed or used otherwise): the manifest policy blocks it
    from training.

    Raises:
        NotFound: unknown source.
        NotPermitted: revoked or opted out.
    """
    src = source_row(session, name)
    if src.status == "revoked":
        raise NotPermitted(
            f"source {name!r} is revoked ({src.revoked_reason}): its data may not be stored"
        )
    if src.consent_status == "opted-out":
        raise NotPermitted(f"source {name!r} has opted out: its data may not be stored")
    return src


def register_shards(
    session: Session,
    store: ShardStore,
    items: Sequence[ShardIn],
    *,
    audit_as: AuditAs = "shard.register",
) -> RegisterReport:
    """Register shards by metadata and link them to their datasets, all or none (the caller's
    transaction). No items is no change.

    Raises:
        InvalidInput: one id twice with different metadata, a count above
            ``limits.MAX_SHARD_COUNT``, a bad dataset name.
        NotFound: an unknown source.
        NotPermitted: a revoked or opted-out source, or a revoked shard registered again.
        Conflict: a known id registered under another source or with other metadata.
    """
    by_id = _unique(items)
    file_locks.hold(session, by_id)  # before anything audits: the lock order (file_locks)
    sources = {name: storable_source(session, name) for name in sorted({i.source for i in items})}
    datasets: dict[str, Dataset] = {}
    created: list[str] = []
    for ref in sorted({i.dataset for i in items if i.dataset is not None}):
        datasets[ref], new = ensure_dataset(session, ref)
        if new:
            created.append(f"{datasets[ref].name}@{datasets[ref].version}")

    existing = _known(session, list(by_id))
    for shard_id, row in existing.items():
        _check_known(session, row, by_id[shard_id], sources[by_id[shard_id].source])

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
    # A concurrent transaction may register the same ids first: those rows are skipped here,
    # then read back and checked like any known shard (registry.db.upsert).
    new_ids = sorted(str(r[0]) for r in insert_new(
        session, Shard, new_rows, key=["id"], returning=[Shard.id]
    ))  # fmt: skip
    raced = _known(session, [str(r["id"]) for r in new_rows if r["id"] not in set(new_ids)])
    for shard_id, row in raced.items():
        _check_known(session, row, by_id[shard_id], sources[by_id[shard_id].source])
    existing.update(raced)

    wanted = {(datasets[i.dataset].id, i.id) for i in items if i.dataset is not None}
    linked = _linked(session, wanted, existing)
    links = sorted(
        (int(r[0]), str(r[1]))
        for r in insert_new(
            session,
            DatasetShard,
            [{"dataset_id": d, "shard_id": s} for d, s in sorted(wanted - linked)],
            key=["dataset_id", "shard_id"],
            returning=[DatasetShard.dataset_id, DatasetShard.shard_id],
        )
    )
    session.flush()
    if new_ids or links:
        _audit(session, audit_as, new_ids, links, sources, datasets)
    return RegisterReport(
        registered=len(new_ids),
        already_registered=len(existing),
        linked=len(links),
        datasets_created=tuple(created),
    )


def _known(session: Session, ids: list[str]) -> dict[str, Shard]:
    """The shard rows among ``ids`` (as of this statement)."""
    known: dict[str, Shard] = {}
    for part in chunked(ids):
        known.update((r.id, r) for r in session.scalars(select(Shard).where(Shard.id.in_(part))))
    return known


def _unique(items: Sequence[ShardIn]) -> dict[str, ShardIn]:
    """Items by id; the same id twice must say the same thing (the dataset may differ).

    Each count is at most ``limits.MAX_SHARD_COUNT`` (``ShardIn`` says so too; checked again
    here for a caller that built one without validation): a shard's figures, and the sums of
    8,192 of the largest, stay exact in a manifest document and in a 64-bit SUM.
    """
    by_id: dict[str, ShardIn] = {}
    for n, item in enumerate(items):
        for what in ("bytes", "records", "tokens"):
            limits.check_count(getattr(item, what), f"shards[{n}]: {what}", limits.MAX_SHARD_COUNT)
        seen = by_id.get(item.id)
        if seen is None:
            by_id[item.id] = item
        elif seen.model_dump(exclude={"dataset"}) != item.model_dump(exclude={"dataset"}):
            raise InvalidInput(f"shards[{n}]: shard {item.id} is listed twice with other metadata")
    return by_id


def _check_known(session: Session, row: Shard, item: ShardIn, src: Source) -> None:
    """A shard registered before may be registered again only alike and not revoked.

    Raises:
        NotPermitted: the shard was revoked.
        Conflict: another source, or other bytes, records, tokens or format.
    """
    if row.status == "revoked":
        raise NotPermitted(
            f"shard {row.id} holds data that was revoked ({row.revoked_reason}); "
            "it may not be registered again"
        )
    if row.source_id != src.id:
        other = session.get(Source, row.source_id)
        raise Conflict(
            f"shard {row.id} is already registered under source "
            f"{other.name if other else row.source_id!r}, not {src.name!r}"
        )
    claimed = {
        "bytes": item.bytes,
        "records": item.records,
        "tokens": item.tokens,
        "format": item.format,
    }
    differ = [k for k, v in claimed.items() if getattr(row, k) != v]
    if differ:
        raise Conflict(f"shard {row.id} is already registered with other {', '.join(differ)}")


def _linked(
    session: Session, wanted: set[tuple[int, str]], existing: dict[str, Shard]
) -> set[tuple[int, str]]:
    """The wanted (dataset id, shard id) links that exist already (only known shards can have
    one)."""
    linked: set[tuple[int, str]] = set()
    for dataset_id in sorted({d for d, _ in wanted}):
        known = sorted(s for d, s in wanted if d == dataset_id and s in existing)
        for part in chunked(known):
            linked.update(
                (dataset_id, s)
                for s in session.scalars(
                    select(DatasetShard.shard_id).where(
                        DatasetShard.dataset_id == dataset_id, DatasetShard.shard_id.in_(part)
                    )
                )
            )
    return linked


def _audit(
    session: Session,
    audit_as: AuditAs,
    new_ids: list[str],
    links: list[tuple[int, str]],
    sources: dict[str, Source],
    datasets: dict[str, Dataset],
) -> None:
    """One audit entry for the registration, in the shape ``audit_as`` names."""
    payload: dict[str, Any]
    if audit_as == "shard.register":
        target = new_ids[0] if len(new_ids) == 1 else f"{len(new_ids)} shards"
        payload = {"new_shards": new_ids, "links": [[d, s] for d, s in links]}
        audit.record(session, audit_as, "shard", target, payload)
        return
    if len(sources) != 1 or len(datasets) != 1:
        raise ValueError(f"{audit_as} registers into one dataset from one source")
    (src,), (ds,) = sources.values(), datasets.values()
    payload = {
        "source": src.name,
        "new_shards": new_ids,
        "linked_shards": sorted(s for _, s in links),
    }
    audit.record(session, audit_as, "dataset", f"{ds.name}@{ds.version}", payload)
