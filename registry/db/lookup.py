"""Naming things by a prefix of their hash, as git does: any unique prefix of 8+ hex characters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from manifests.digests import is_hex_prefix
from registry.errors import InvalidInput, NotFound

MIN_PREFIX = 8


def resolve_prefix(
    session: Session,
    column: InstrumentedAttribute[str],
    prefix: str,
    what: str = "shard",
) -> str:
    """The one value of ``column`` (a hex hash column) that starts with ``prefix``.

    A full 64-character value is looked up exactly; case is ignored.

    Raises:
        InvalidInput: not hex, or shorter than 8 characters.
        NotFound: nothing starts with it.
        InvalidInput: several values start with it (the message says how many, and some).
    """
    value = prefix.strip().lower()
    if not is_hex_prefix(value):
        raise InvalidInput(f"{prefix!r} is not a {what} id or a hex prefix of one")
    if len(value) < MIN_PREFIX:
        raise InvalidInput(
            f"{what} id prefix {prefix!r} is too short: give at least {MIN_PREFIX} hex characters"
        )
    if len(value) == 64:
        found: list[Any] = list(session.scalars(select(column).where(column == value)))
    else:
        # A range scan keeps the primary-key index in use (LIKE may not, e.g. on PostgreSQL
        # with a non-C collation); hex digits sort the same in every collation we meet.
        upper = value + "g"
        found = list(
            session.scalars(
                select(column).where(column >= value, column < upper).order_by(column).limit(11)
            )
        )
        found = [v for v in found if v.startswith(value)]
    if not found:
        raise NotFound(f"unknown {what} {value!r}: no {what} id starts with it")
    if len(found) > 1:
        many = "more than 10" if len(found) > 10 else str(len(found))
        shown = ", ".join(v[:16] for v in found[:10])
        raise InvalidInput(
            f"{what} id prefix {value!r} is ambiguous: {many} {what}s match ({shown}); "
            "give more characters"
        )
    return str(found[0])
