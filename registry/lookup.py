"""Name things by unique hex prefix: any 8+ hex digits that match exactly one id."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from registry.errors import InvalidInput, NotFound

MIN_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")


def resolve_prefix(
    session: Session, column: InstrumentedAttribute[Any], prefix: str, what: str
) -> str:
    """The one full id in ``column`` that starts with ``prefix``.

    Raises:
        InvalidInput: not lowercase hex, shorter than 8 digits, or ambiguous.
        NotFound: nothing matches.
    """
    text = prefix.strip().lower()
    if not _HEX.fullmatch(text) or len(text) > 64:
        raise InvalidInput(f"{what} id {prefix!r} is not a hex SHA-256 or a prefix of one")
    if len(text) < MIN_PREFIX:
        raise InvalidInput(
            f"{what} id prefix {prefix!r} is too short: give at least {MIN_PREFIX} hex digits"
        )
    if len(text) == 64:
        found = session.scalars(select(column).where(column == text)).first()
    else:
        # Range scan on the primary key index: ids are fixed-width lowercase hex.
        upper = text + "g"
        matches = session.scalars(
            select(column).where(column >= text, column < upper).limit(2)
        ).all()
        if len(matches) > 1:
            count = session.scalar(select(func.count()).where(column >= text, column < upper))
            raise InvalidInput(
                f"{what} id prefix {prefix!r} is ambiguous: it matches {count} {what}s"
            )
        found = matches[0] if matches else None
    if found is None:
        raise NotFound(f"unknown {what} {prefix!r}")
    return str(found)
