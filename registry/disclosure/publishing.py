"""Publishing: a rendered disclosure stored under the SHA-256 of its bytes, then served as is.

Publishing the same bytes again returns the same row, so a published URL names its content.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.attest.records import attest_disclosure, attestation_of
from registry.db.models import Disclosure
from registry.disclosure.build import build_facts
from registry.disclosure.facts import DisclosureInputs
from registry.disclosure.formats import FORMATS, check_format, render
from registry.entities.attest import AttestationOut
from registry.entities.disclosure import DisclosureOut
from registry.errors import NotFound


def publish(
    session: Session, subject: str, fmt: str, inputs: DisclosureInputs | None = None
) -> DisclosureOut:
    """Render and store a disclosure, addressed by the SHA-256 of its bytes. Idempotent.

    Raises:
        InvalidInput: an unknown format; NotFound etc.: see ``subject.resolve_subject``.
    """
    check_format(fmt)
    facts = build_facts(session, subject, with_shards=FORMATS[fmt].with_shards)
    content = render(facts, fmt, inputs)
    digest = hashlib.sha256(content).hexdigest()
    row = session.get(Disclosure, digest)
    if row is not None:
        _sign(session, row)  # published before a key was configured: signed now
        return _out(row, content=True)
    row = Disclosure(
        hash=digest,
        subject_kind=facts.subject_kind,
        subject=facts.subject,
        format=fmt,
        media_type=FORMATS[fmt].media_type,
        content=content,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "disclosure.publish",
        "disclosure",
        digest,
        {
            "subject_kind": facts.subject_kind,
            "subject": facts.subject,
            "format": fmt,
            "bytes": len(content),
        },
    )
    _sign(session, row)
    return _out(row, content=True)


def _sign(session: Session, row: Disclosure) -> None:
    """The detached signature served beside the disclosure, when a key is configured."""
    attest_disclosure(
        session,
        sha256=row.hash,
        fmt=row.format,
        media_type=row.media_type,
        subject_kind=row.subject_kind,
        subject=row.subject,
    )


def disclosure_signature(session: Session, digest: str) -> AttestationOut:
    """The detached DSSE signature of a published disclosure.

    Raises:
        NotFound: no such disclosure, or it was never signed.
    """
    row = session.get(Disclosure, digest.strip().lower())
    if row is None:
        raise NotFound(f"no published disclosure {digest!r}")
    return attestation_of(session, "disclosure", row.hash)


def list_published(session: Session, *, subject: str | None = None) -> list[DisclosureOut]:
    """Published disclosures, newest first (without their content)."""
    query = select(Disclosure).order_by(Disclosure.created_at.desc(), Disclosure.hash)
    if subject:
        query = query.where(Disclosure.subject == subject)
    return [_out(r) for r in session.scalars(query)]


def get_published(session: Session, digest: str) -> DisclosureOut:
    """A published disclosure with its content.

    Raises:
        NotFound: no disclosure with that hash.
    """
    row = session.get(Disclosure, digest.strip().lower())
    if row is None:
        raise NotFound(f"no published disclosure {digest!r}")
    return _out(row, content=True)


def published_sibling(session: Session, of: DisclosureOut, fmt: str) -> DisclosureOut | None:
    """The newest published disclosure of the same subject in ``fmt``, if any."""
    row = session.scalars(
        select(Disclosure)
        .where(
            Disclosure.subject == of.subject,
            Disclosure.subject_kind == of.subject_kind,
            Disclosure.format == fmt,
        )
        .order_by(Disclosure.created_at.desc(), Disclosure.hash)
        .limit(1)
    ).first()
    return _out(row, content=True) if row is not None else None


def _out(row: Disclosure, *, content: bool = False) -> DisclosureOut:
    return DisclosureOut(
        hash=row.hash,
        subject_kind=row.subject_kind,
        subject=row.subject,
        format=row.format,
        media_type=row.media_type,
        bytes=len(row.content),
        created_at=row.created_at,
        content=row.content if content else b"",
    )
