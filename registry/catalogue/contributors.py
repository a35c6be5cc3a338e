"""Contributors: the people and organisations whose data sources are made of."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import CONTRIBUTOR_KINDS, Contributor
from registry.db.paging import keyset
from registry.entities.catalogue import ContributorOut
from registry.errors import Conflict, InvalidInput, NotFound


def add_contributor(
    session: Session,
    *,
    name: str,
    kind: str = "person",
    contact: str | None = None,
    payout_ref: str | None = None,
) -> ContributorOut:
    """Register a contributor.

    Raises:
        InvalidInput: empty name or unknown kind.
        Conflict: the name is taken.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("contributor name is empty")
    if kind not in CONTRIBUTOR_KINDS:
        raise InvalidInput(
            f"unknown contributor kind {kind!r}: expected one of {', '.join(CONTRIBUTOR_KINDS)}"
        )
    if session.scalars(select(Contributor.id).where(Contributor.name == name)).first() is not None:
        raise Conflict(f"contributor {name!r} already exists")
    row = Contributor(name=name, kind=kind, contact=contact, payout_ref=payout_ref)
    session.add(row)
    session.flush()
    audit.record(
        session,
        "contributor.add",
        "contributor",
        str(row.id),
        {"name": name, "kind": kind, "contact": contact, "payout_ref": payout_ref},
    )
    return ContributorOut.model_validate(row)


def contributor_row(session: Session, name: str) -> Contributor:
    row = session.scalars(select(Contributor).where(Contributor.name == name)).first()
    if row is None:
        raise NotFound(f"unknown contributor {name!r}")
    return row


def get_contributor(session: Session, name: str) -> ContributorOut:
    return ContributorOut.model_validate(contributor_row(session, name))


def list_contributors(
    session: Session, *, after: str | None = None, limit: int | None = None
) -> list[ContributorOut]:
    """Contributors by name; ``after``/``limit`` give one keyset page."""
    rows = session.scalars(
        keyset(select(Contributor), [Contributor.name], after=after, limit=limit)
    )
    return [ContributorOut.model_validate(r) for r in rows]
