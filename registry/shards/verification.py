"""Shards: lookup by id or prefix, and checking the store against the registry.

A shard row is only written by ingest (``registry.ingest``); revocation is in
``registry.revocation``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.lookup import resolve_prefix
from registry.db.models import DatasetShard, Shard, Source
from registry.entities.shards import ShardOut, VerifyProblem, VerifyReport
from registry.errors import NotFound
from registry.shards.datasets import dataset_row, shard_out
from registry.shards.store import ShardStore


def resolve_shard_id(session: Session, id_or_prefix: str) -> str:
    """The full id of the shard named by its id or a unique prefix of 8+ hex characters.

    Raises:
        InvalidInput: malformed, too short or ambiguous.
        NotFound: no shard starts with it.
    """
    return resolve_prefix(session, Shard.id, id_or_prefix, what="shard")


def shard_row(session: Session, id_or_prefix: str) -> Shard:
    """Raises: as ``resolve_shard_id``."""
    row = session.get(Shard, resolve_shard_id(session, id_or_prefix))
    if row is None:  # pragma: no cover - resolved ids exist
        raise NotFound(f"unknown shard {id_or_prefix!r}")
    return row


def get_shard(session: Session, id_or_prefix: str) -> ShardOut:
    """One shard by id or unique prefix (its source's name included).

    Raises:
        InvalidInput, NotFound: as ``resolve_shard_id``.
    """
    row = shard_row(session, id_or_prefix)
    source = session.get(Source, row.source_id)
    return shard_out(row, source.name if source else "?")


def get_shards(session: Session, ids: list[str]) -> dict[str, ShardOut]:
    """Shards by full id (missing ids are simply absent from the result)."""
    out: dict[str, ShardOut] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Shard, Source.name)
            .join(Source, Source.id == Shard.source_id)
            .where(Shard.id.in_(ids[start : start + 500]))
        )
        out.update({s.id: shard_out(s, name) for s, name in rows})
    return out


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
