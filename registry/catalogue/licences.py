"""Licences: the seeded SPDX table, and parsing of SPDX licence expressions against it.

An expression may only name licences the registry holds facts for (its flags drive the policy),
so it is parsed with license-expression over exactly those ids, plus SPDX's exceptions for WITH.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import license_expression as le
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import Licence
from registry.db.paging import keyset
from registry.entities.catalogue import LicenceOut
from registry.errors import InvalidInput, NotFound


def seed_rows() -> list[dict[str, object]]:
    """The licences every registry starts with (``registry/data/licences.json``)."""
    data = resources.files("registry").joinpath("data/licences.json").read_text("utf-8")
    rows: list[dict[str, object]] = json.loads(data)
    return rows


def seed(session: Session) -> list[str]:
    """Insert the seeded licences that are missing; return their ids. Idempotent."""
    have = set(session.scalars(select(Licence.spdx_id)))
    added = [row for row in seed_rows() if row["spdx_id"] not in have]
    for row in added:
        session.add(Licence(**row))
    if added:
        session.flush()
        ids = sorted(str(r["spdx_id"]) for r in added)
        audit.record(session, "licence.seed", "licence", f"{len(ids)} licences", {"added": ids})
    return [str(r["spdx_id"]) for r in added]


def list_licences(
    session: Session, *, after: str | None = None, limit: int | None = None
) -> list[LicenceOut]:
    """Licences by SPDX id; ``after``/``limit`` give one keyset page."""
    rows = session.scalars(keyset(select(Licence), [Licence.spdx_id], after=after, limit=limit))
    return [LicenceOut.model_validate(r) for r in rows]


def get_licence(session: Session, spdx_id: str) -> LicenceOut:
    row = session.get(Licence, spdx_id)
    if row is None:
        raise NotFound(f"licence {spdx_id!r} is not in the registry (see `provreg licence list`)")
    return LicenceOut.model_validate(row)


@lru_cache(maxsize=8)
def _licensing(known_ids: frozenset[str]) -> le.Licensing:
    exceptions = [s for s in le.get_spdx_licensing().known_symbols.values() if s.is_exception]
    symbols = [le.LicenseSymbol(i, aliases=(i.lower(),)) for i in sorted(known_ids)]
    return le.Licensing(symbols + exceptions)


def known_licence_ids(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(Licence.spdx_id)))


def normalise_expression(expression: str, known_ids: frozenset[str]) -> str:
    """Parse ``expression`` and render it in SPDX's canonical spelling.

    Raises:
        InvalidInput: malformed, or naming a licence the registry does not hold.
    """
    if not expression or not expression.strip():
        raise InvalidInput("licence expression is empty")
    licensing = _licensing(known_ids)
    try:
        parsed = licensing.parse(expression, validate=True, strict=True)
    except le.ExpressionError as exc:
        message = str(exc)
        if "Unknown license key" in message:
            message += " (not in the registry; see `provreg licence list`)"
        raise InvalidInput(f"invalid licence expression {expression!r}: {message}") from exc
    if parsed is None:
        raise InvalidInput(f"invalid licence expression {expression!r}")
    return str(parsed.render())
