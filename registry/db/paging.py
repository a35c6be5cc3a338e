"""Keyset pagination for list services: ``WHERE key > :after ORDER BY key LIMIT :n``.

Offsets re-read every skipped row and shift when rows are added; a keyset page costs the same at
any depth and never repeats or skips a row that existed for the whole walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import QueryableAttribute

from registry.errors import InvalidInput

Ts = TypeVarTuple("Ts")


def keyset(
    stmt: Select[*Ts],
    keys: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    *,
    after: Any | None = None,
    limit: int | None = None,
) -> Select[*Ts]:
    """Order ``stmt`` by ``keys`` (unique together) and keep rows after ``after``, at most ``limit``.

    ``after`` is one value for one key column, a tuple of values for several.

    Raises:
        InvalidInput: ``limit`` is not positive, or ``after`` does not have one value per key.
    """
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    if after is not None:
        values = tuple(after) if len(keys) > 1 else (after,)
        if len(values) != len(keys):
            raise InvalidInput(f"cursor has {len(values)} values, expected {len(keys)}")
        cond = keys[0] > values[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*values)
        stmt = stmt.where(cond)
    stmt = stmt.order_by(*keys)
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt
