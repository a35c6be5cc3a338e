"""Engine and sessions. Callers own transactions: ``with transaction() as session: ...``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry.config import get_settings
from registry.errors import DatabaseUnavailable, ProvregError

_IMMEDIATE = "provreg_immediate"
MMAP_SIZE = 2**31 - 2**16  # SQLITE_MAX_MMAP_SIZE: the most a default SQLite build maps


def _sqlite_setup(engine: Engine) -> None:
    """WAL, enforced foreign keys, and our own BEGIN so writers can take the lock up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes can fail to upgrade its lock under
        # WAL; a writer that begins IMMEDIATE waits for the lock instead (busy_timeout).
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def _sqlite_pragma(session: Session, name: str, within: object, after: object) -> Iterator[None]:
    """``PRAGMA name=within`` on ``session``'s connection for the block, ``after`` once it
    ends; nothing on other databases."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(f"PRAGMA {name}={within}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA {name}={after}")


def memory_mapped(session: Session) -> AbstractContextManager[None]:
    """Within the block, SQLite reads ``session``'s pages through a memory map (up to SQLite's
    2 GiB cap), not one ``pread()`` each from its 2 MB page cache: for the few batch queries
    that probe an index a million times (settling a run spent half its time in system calls).
    Not engine-wide: mapped pages count in the process's resident size, which a long ingest or
    a manifest creation would then carry (bench.manifest: 616 MiB -> 1,440 MiB peak RSS)."""
    return _sqlite_pragma(session, "mmap_size", MMAP_SIZE, 0)


def sorting_threads(session: Session) -> AbstractContextManager[None]:
    """Within the block, SQLite may sort with helper threads (``PRAGMA threads``, up to the
    machine's cores, at most 4): a GROUP BY over a million joined rows is a sort, and settling
    a run's per-author sums took 1.2 s on one thread, 0.78 s on two (two cores). Off again
    after the block, like ``memory_mapped``."""
    return _sqlite_pragma(session, "threads", min(4, os.cpu_count() or 1), 0)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Open the registry database named by ``url`` (default: ``PROVREG_DATABASE_URL``).

    Raises:
        DatabaseUnavailable: the URL is malformed, its driver is missing, or it cannot be reached.
    """
    url = url or get_settings().database_url
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseUnavailable(f"cannot use database URL {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip() if exc.orig else str(exc)
        raise DatabaseUnavailable(f"cannot open database {engine.url!r}: {reason}") from exc
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{_IMMEDIATE: True})


@contextmanager
def transaction(engine: Engine, *, actor: str, write: bool = True) -> Iterator[Session]:
    """One command or request = one transaction: commit on success, roll back on any error,
    except a refusal the registry must remember (``ProvregError.keeps_writes``): what was
    written to record it is committed, then the error propagates."""
    factory = sessionmaker(bind=writer(engine) if write else engine, expire_on_commit=False)
    with factory.begin() as session:
        session.info["actor"] = actor
        try:
            yield session
        except ProvregError as exc:
            if exc.keeps_writes:
                session.commit()
            raise
