"""Checking the store against the registry: every shard's stored bytes re-hashed against its id,
files in the store that no shard names, and temporary files (what a hard crash mid-ingest
leaves).

Removing (``gc``) follows ``registry.shards.file_locks``: an orphan is removed only under its
lock and only if no committed row names it by then, so a file a running ingest has placed and
is about to commit is kept (reported in use); a temporary file only once no live process holds
it (``ShardStore.temp_files``). On SQLite, ``gc`` needs a writer transaction.

Finding one shard is ``registry.shards.lookup``; rows are written only by
``registry.shards.registration``; revocation is ``registry.catalogue.revocation``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import DatasetShard, Shard
from registry.entities.shards import TempFileOut, VerifyProblem, VerifyReport
from registry.errors import NotFound
from registry.shards import file_locks
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
    names and temporary files: what a crash between writing files and committing leaves.
    ``gc`` removes them, except what a running transaction or process still holds (module
    docstring).

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
    orphans: list[str] = []
    in_use: list[str] = []
    temps: list[TempFileOut] = []
    removed_temps = 0
    if dataset is None:
        orphans = [i for i in store.ids() if i not in known]
        if gc:
            locked = [o for o in orphans if file_locks.try_hold(session, o)]
            in_use = [o for o in orphans if o not in set(locked)]
            committed = file_locks.named(session, locked)  # committed since the listing
            orphans = [o for o in orphans if o not in committed]
            for orphan in locked:
                if orphan not in committed:
                    store.delete(orphan)
        for entry in store.temp_files():
            temps.append(TempFileOut(path=entry.path, bytes=entry.bytes, stale=entry.stale))
            if gc and entry.stale and store.remove_temp(entry):
                removed_temps += 1
    return VerifyReport(
        checked=checked,
        bytes=total,
        problems=tuple(problems),
        orphans=tuple(orphans),
        orphans_removed=bool(gc and len(orphans) > len(in_use)),
        orphans_in_use=tuple(in_use),
        temp_files=tuple(temps),
        temp_removed=removed_temps,
    )
