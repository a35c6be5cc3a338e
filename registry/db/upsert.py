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
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - the registry runs on SQLite and PostgreSQL
        raise NotImplementedError(f"no ON CONFLICT insert for {dialect}")
    targets = {"index_elements": list(key)} if key is not None else {}
    stmt = insert(model).on_conflict_do_nothing(**targets).returning(*returning)
    return list(session.execute(stmt, list(rows)))
