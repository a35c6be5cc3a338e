"""When a stored shard file may be placed or removed, with several transactions at once.

A shard file is content-addressed: two transactions that read the same records make the same
file, and the second finds it already stored. So a file is not the transaction's that put it
there: if that one fails, another may have committed rows naming the file meanwhile, or be
about to. The rule (invariant 1 under concurrency):

* a transaction holds a shard's lock from the moment it decides to use a stored file (it places
  it, or finds it already there) until the transaction ends (``hold``);
* a file is removed (the cleanup of a failed ingest, ``shard verify --gc``) only under the same
  lock, and only when no committed row names the shard (``Guard.discard``, ``try_hold``).

PostgreSQL: ``pg_advisory_xact_lock`` on one of ``BUCKETS`` keys taken from the shard id, so a
transaction holds a bounded number of locks whatever its shard count. A transaction takes its
locks at once, in sorted order, and before the audit chain's lock (``registry.audit``), the order
every writer keeps, so two writers never wait for each other in a cycle. SQLite: the database's
write lock, which a writer transaction holds from its ``BEGIN IMMEDIATE``
(``registry.db.engine.writer``); ``hold`` takes it with a write that changes nothing, so a
deferred transaction gets it too, or fails rather than race.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.engine import transaction
from registry.db.models import Shard
from registry.shards.store import ShardStore

NAMESPACE = 0x70726567  # "preg": the first key of the two-key advisory locks of shard files
BUCKETS = 256


def bucket(shard_id: str) -> int:
    """The lock a shard's file is guarded by: its id's first byte (ids are uniform)."""
    return int(shard_id[:2], 16) % BUCKETS


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def hold(session: Session, shard_ids: Iterable[str]) -> None:
    """Lock these shards' files until the session's transaction ends (the module's rule).

    Take them all at once, before anything in the transaction audits (the lock order)."""
    keys = sorted({bucket(i) for i in shard_ids})
    if not keys:
        return
    if _postgres(session):
        for key in keys:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": NAMESPACE, "key": key}
            )
    else:
        session.execute(text("UPDATE shards SET status = status WHERE 0 = 1"))


def try_hold(session: Session, shard_id: str) -> bool:
    """Lock one shard's file if no other transaction holds it; False if one does (it is placing
    or using the file now)."""
    if not _postgres(session):
        hold(session, [shard_id])
        return True
    got = session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:ns, :key)"),
        {"ns": NAMESPACE, "key": bucket(shard_id)},
    )
    return bool(got)


def named(session: Session, shard_ids: Iterable[str]) -> set[str]:
    """The ids among ``shard_ids`` that a committed row names (as of this statement)."""
    found: set[str] = set()
    for part in chunked(sorted(set(shard_ids))):
        found.update(session.scalars(select(Shard.id).where(Shard.id.in_(part))))
    return found


class Guard:
    """The placements of one transaction (``session``), and how to undo them if it fails.

    Undoing waits for the transaction to end: only then does nobody hold the files' locks on
    its behalf. Each file is then removed in a transaction of its own, under its lock, and only
    if no committed row names it (another transaction may have committed it meanwhile). Asked
    while its transaction is still open (a ``track()`` inside the transaction), it leaves the
    files to an outer ``track()``, or to ``shard verify --gc``.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._engine: Engine = session.get_bind()  # type: ignore[assignment]
        self._actor = str(session.info.get("actor", "provreg"))

    def hold(self, shard_ids: Iterable[str]) -> None:
        hold(self._session, shard_ids)

    def discard(self, store: ShardStore, shard_ids: list[str]) -> list[str]:
        """Remove the files no committed row names; the ids left for later (see above)."""
        if self._session.in_transaction():
            return list(shard_ids)
        try:
            with transaction(self._engine, actor=self._actor) as session:
                hold(session, shard_ids)
                keep = named(session, shard_ids)
                for shard_id in shard_ids:
                    if shard_id not in keep:
                        store.delete(shard_id)
        except (SQLAlchemyError, OSError):
            # the database is out of reach (or still locked): never hide the error being
            # handled; the files stay as orphans for ``shard verify --gc``
            return list(shard_ids)
        return []
