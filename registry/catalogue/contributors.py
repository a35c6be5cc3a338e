"""Contributors: the people and organisations whose data sources are made of."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit, limits
from registry.db.models import CONTRIBUTOR_KINDS, Contributor
from registry.db.paging import keyset
from registry.entities.catalogue import ContributorOut
from registry.errors import Conflict, InvalidInput, NotFound
from registry.names import lookup_key, normalise_name


def add_contributor(
    session: Session,
    *,
    name: str,
    kind: str = "person",
    contact: str | None = None,
    payout_ref: str | None = None,
) -> ContributorOut:
    """Register a contributor.

    The name follows ``registry.names`` (NFC, no control characters, one URL segment), and
    every field fits its column, checked here so SQLite and PostgreSQL refuse alike.

    Raises:
        InvalidInput: a bad name, a contact or payout reference too long or not storable, an
            unknown kind.
        Conflict: the name is taken.
    """
    name = normalise_name(name, "contributor name")
    limits.check_optional_text(contact, "contributor contact", limits.CONTACT)
    limits.check_optional_text(payout_ref, "payout reference", limits.PAYOUT_REF)
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
    """The contributor named ``name`` (in any Unicode normal form).

    Raises:
        NotFound: no contributor has that name.
    """
    key = lookup_key(name)
    query = select(Contributor).where(Contributor.name == key)
    row = session.scalars(query).first() if key else None
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
