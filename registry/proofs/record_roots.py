"""Shards' record roots: written at ingest, or computed from the verified file when needed.

A record root is a function of the file's bytes (its record ids in file order), so a root that
is already stored is never rewritten, and two transactions computing one agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from manifests.records import record_root
from registry.db.chunks import chunked
from registry.db.models import Shard
from registry.errors import NotFound
from registry.shards.store import ShardStore


def store_record_roots(session: Session, roots: Mapping[str, str]) -> None:
    """Set ``shards.record_root`` where it is still null (rows must exist)."""
    if not roots:
        return
    session.connection().execute(
        update(Shard)
        .where(Shard.id == bindparam("sid"), Shard.record_root.is_(None))
        .values(record_root=bindparam("root")),
        [{"sid": k, "root": v} for k, v in sorted(roots.items())],
    )


def stored_record_roots(session: Session, ids: Sequence[str]) -> dict[str, str | None]:
    """The stored roots of these shards (None where not computed yet)."""
    out: dict[str, str | None] = {}
    for part in chunked(list(ids)):
        rows = session.execute(select(Shard.id, Shard.record_root).where(Shard.id.in_(part)))
        out.update((str(i), r) for i, r in rows)
    return out


def shard_record_ids(store: ShardStore, shard_id: str) -> list[str]:
    """The shard's record ids in file order, from bytes checked against its id.

    Raises:
        NotFound: the file is not in the store.
        IntegrityFailure: the stored bytes do not hash to the id.
    """
    from registry.impact.takedown import read_verified

    return [str(r) for r in read_verified(store, shard_id).column("id").to_pylist()]


def record_roots(session: Session, store: ShardStore, ids: Sequence[str]) -> list[str]:
    """Every shard's record root in ``ids`` order, computing (and storing) the missing ones.

    Raises:
        NotFound: a root is unknown and the shard's file is not in the store.
        IntegrityFailure: a stored file does not match its id.
    """
    stored = stored_record_roots(session, ids)
    computed = {i: record_root(shard_record_ids(store, i)) for i in ids if stored.get(i) is None}
    store_record_roots(session, computed)
    return [stored.get(i) or computed[i] for i in ids]


def known_record_roots(session: Session, store: ShardStore, ids: Sequence[str]) -> list[str] | None:
    """As ``record_roots``, but None when a root is unknown and the file absent (a shard
    registered by metadata only): such a selection can only make a ``/1`` manifest."""
    try:
        return record_roots(session, store, ids)
    except NotFound:
        return None
