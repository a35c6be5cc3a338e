"""Inserts that tolerate a concurrent writer: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``.

Two transactions that check "is it there?" and then insert the same key both see "no" when
neither has committed; the second then dies on the unique constraint (issue 19, defect 11). Both
databases can instead skip a row whose key exists (on PostgreSQL, after waiting for the
transaction that holds it to end) and say which rows they did insert, so the caller re-reads
the others as another writer's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session


def insert_new(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str] | None,
    returning: Sequence[Any],
) -> list[Any]:
    """Insert the ``rows`` of ``model`` whose ``key`` is not taken (``None``: that break no
    unique constraint at all); the ``returning`` columns of those inserted (rows another
    transaction inserted first are skipped, not an error)."""
    if not rows:
        return []
    targets = {"index_elements": list(key)} if key is not None else {}
    stmt = conflict_insert(session, model).on_conflict_do_nothing(**targets).returning(*returning)
    return list(session.execute(stmt, list(rows)))


def conflict_insert(session: Session, table: Any) -> Any:
    """``INSERT`` into ``table`` (a model or a Core table) in the session's dialect, the
    construct that takes ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no ON CONFLICT insert for {dialect}")  # pragma: no cover
