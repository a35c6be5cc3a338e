"""Checking the store against the registry: every shard's stored bytes re-hashed against its id,
and files in the store that no shard names (what a hard crash mid-ingest leaves).

Finding one shard is ``registry.shards.lookup``; rows are written only by
``registry.shards.registration``; revocation is ``registry.catalogue.revocation``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import DatasetShard, Shard
from registry.entities.shards import VerifyProblem, VerifyReport
from registry.errors import NotFound
from registry.shards.datasets import dataset_row
from registry.shards.store import ShardStore


def verify_shards(
    session: Session,
    store: ShardStore,
    *,
    dataset: str | None = None,
    gc: bool = False,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Re-hash the stored file of every shard (of one dataset, or all) against its id.

    With every shard checked (no ``dataset``), also list files in the store that no shard row
    names: what a crash between writing files and committing leaves. ``gc`` removes them.

    Raises:
        NotFound: an unknown dataset.
    """
    query = select(Shard.id, Shard.bytes).order_by(Shard.id)
    if dataset is not None:
        ds = dataset_row(session, dataset)
        query = query.join(DatasetShard, DatasetShard.shard_id == Shard.id).where(
            DatasetShard.dataset_id == ds.id
        )
    problems: list[VerifyProblem] = []
    checked = total = 0
    known: set[str] = set()
    for shard_id, size in session.execute(query):
        known.add(shard_id)
        checked += 1
        try:
            digest, got = store.hash_stored(shard_id)
        except NotFound:
            problems.append(
                VerifyProblem(shard_id=shard_id, problem="missing", detail=store.uri_for(shard_id))
            )
            continue
        total += got
        if progress:
            progress(got)
        if digest != shard_id:
            problems.append(
                VerifyProblem(
                    shard_id=shard_id,
                    problem="differs",
                    detail=f"stored bytes hash to {digest} ({got} bytes, registered {size})",
                )
            )
    orphans: tuple[str, ...] = ()
    if dataset is None:
        orphans = tuple(i for i in store.ids() if i not in known)
        if gc:
            for orphan in orphans:
                store.delete(orphan)
    return VerifyReport(
        checked=checked,
        bytes=total,
        problems=tuple(problems),
        orphans=orphans,
        orphans_removed=bool(gc and orphans),
    )
