"""API tokens: a name, a role and, for contributors, who they are. Only a SHA-256 is stored.

A token is ``prv_`` + 32 random bytes (base64url); it is shown once, at creation, and a lost
token is revoked and replaced, never recovered. Roles (``registry.models.TOKEN_ROLES``):

- ``admin``: everything;
- ``curator``: writes contributors, sources, datasets, shards and manifests, and reads;
- ``trainer``: opens runs and reports consumption, and reads;
- ``reader``: reads;
- ``contributor``: linked to one contributor; sees what concerns them (their ledger).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.catalogue.contributors import contributor_row
from registry.db.models import TOKEN_ROLES, ApiToken, Contributor
from registry.db.paging import keyset
from registry.db.types import utcnow
from registry.entities.auth import TokenOut
from registry.errors import Conflict, InvalidInput, NotFound
from registry.names import lookup_key, normalise_name

PREFIX = "prv_"


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def _out(row: ApiToken, contributor: str | None) -> TokenOut:
    return TokenOut(
        name=row.name,
        role=row.role,
        contributor=contributor,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create_token(
    session: Session, *, name: str | None, role: str, contributor: str | None = None
) -> tuple[str, TokenOut]:
    """Make a token; return it in plain text (shown once) with its description.

    ``name`` defaults to ``<role>-<8 hex>``. A ``contributor`` token must name a contributor;
    no other role may.

    Raises:
        InvalidInput: an unknown role, a bad name (``registry.names``), or a contributor given
            or missing wrongly.
        NotFound: an unknown contributor.
        Conflict: the name is taken.
    """
    if role not in TOKEN_ROLES:
        raise InvalidInput(f"unknown role {role!r}: expected one of {', '.join(TOKEN_ROLES)}")
    if role == "contributor" and not contributor:
        raise InvalidInput(
            "a contributor token needs the contributor it speaks for", field="token.contributor"
        )
    if role != "contributor" and contributor:
        raise InvalidInput(f"only contributor tokens name a contributor, not {role!r} tokens")
    name = normalise_name(
        name if name is not None else f"{role}-{secrets.token_hex(4)}", "token name"
    )
    if session.scalars(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
        raise Conflict(f"token {name!r} already exists")
    who = contributor_row(session, contributor) if contributor else None
    plaintext = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role,
        token_hash=token_hash(plaintext),
        contributor_id=who.id if who else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "token.create",
        "token",
        str(row.id),
        {"name": name, "role": role, "contributor": contributor},
    )
    return plaintext, _out(row, who.name if who else None)


def list_tokens(
    session: Session, *, after: str | None = None, limit: int | None = None
) -> list[TokenOut]:
    """Every token, revoked ones included, by name."""
    stmt = select(ApiToken, Contributor.name).outerjoin(
        Contributor, ApiToken.contributor_id == Contributor.id
    )
    rows = session.execute(keyset(stmt, [ApiToken.name], after=after, limit=limit))
    return [_out(token, contributor) for token, contributor in rows]


def revoke_token(session: Session, name: str) -> TokenOut:
    """Revoke a token: from now on it authenticates nothing.

    Raises:
        NotFound: no token has that name.
        Conflict: it is already revoked.
    """
    key = lookup_key(name)
    row = session.scalars(select(ApiToken).where(ApiToken.name == key)).first() if key else None
    if row is None:
        raise NotFound(f"unknown token {name!r}")
    if row.revoked_at is not None:
        raise Conflict(f"token {name!r} was already revoked at {row.revoked_at.isoformat()}")
    row.revoked_at = utcnow()
    session.flush()
    audit.record(session, "token.revoke", "token", str(row.id), {"name": name})
    contributor = session.get(Contributor, row.contributor_id) if row.contributor_id else None
    return _out(row, contributor.name if contributor else None)


def authenticate(session: Session, plaintext: str) -> TokenOut | None:
    """The live token whose hash matches, or None (unknown, malformed or revoked).

    Runs on every API request: one indexed lookup of plain columns, no ORM objects.
    """
    if not plaintext.startswith(PREFIX):
        return None
    found = session.execute(
        select(
            ApiToken.name,
            ApiToken.role,
            Contributor.name.label("contributor"),
            ApiToken.created_at,
            ApiToken.revoked_at,
        )
        .outerjoin(Contributor, ApiToken.contributor_id == Contributor.id)
        .where(ApiToken.token_hash == token_hash(plaintext))
    ).first()
    if found is None or found.revoked_at is not None:
        return None
    return TokenOut.model_validate(found._asdict())
