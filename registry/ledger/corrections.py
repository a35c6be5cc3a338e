"""Corrections: the ledger is append-only, so a mistake is undone by appending, never by editing.

A reversal is the negative of a charge (key ``reversal:ID``); a correction is that reversal plus
a new charge of the right amount (key ``correction:ID``), in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import LedgerEntry
from registry.db.types import utcnow
from registry.entities.ledger import CorrectionOut, LedgerEntryOut
from registry.errors import Conflict, InvalidInput, NotFound
from registry.ledger.entries import EntryRow, append_entry, entry_row
from registry.ledger.statements import get_entry


def reverse_entry(session: Session, entry_id: int, *, reason: str) -> LedgerEntryOut:
    """Cancel a charge by appending its negative; the original stays as it was.

    Raises:
        NotFound: an unknown entry.
        InvalidInput: no reason, or the entry is itself a reversal.
        Conflict: the entry was already reversed.
    """
    row = _reversal_row(session, entry_id, reason)
    out = _append(session, row)
    audit.record(
        session,
        "ledger.reverse",
        "ledger_entry",
        str(entry_id),
        {
            "reverses_id": entry_id,
            "reversal_id": out.id,
            "amount_minor": out.amount_minor,
            "currency": out.currency,
            "reason": row["note"],
        },
    )
    return out


def correct_entry(
    session: Session, entry_id: int, new_amount_minor: int, *, reason: str
) -> CorrectionOut:
    """Replace a charge's amount: a reversal of it plus a new charge, in one transaction.

    Raises:
        NotFound: an unknown entry.
        InvalidInput: no reason, a negative or non-integer amount, or the entry is a reversal.
        Conflict: the entry was already reversed or corrected.
    """
    if (
        isinstance(new_amount_minor, bool)
        or not isinstance(new_amount_minor, int)
        or new_amount_minor < 0
    ):
        raise InvalidInput(
            f"corrected amount must be a non-negative integer of minor units, got {new_amount_minor!r}"
        )
    row = _reversal_row(session, entry_id, reason)
    reversal = _append(session, row)
    charge = _append(
        session,
        entry_row(
            key=f"correction:{entry_id}",
            run_id=row["run_id"],
            pool_id=row["pool_id"],
            source_id=row["source_id"],
            contributor_id=row["contributor_id"],
            terms_model=row["terms_model"],
            currency=row["currency"],
            amount_minor=new_amount_minor,
            note=row["note"],
            created_at=row["created_at"],
        ),
    )
    audit.record(
        session,
        "ledger.correct",
        "ledger_entry",
        str(entry_id),
        {
            "reverses_id": entry_id,
            "reversal_id": reversal.id,
            "charge_id": charge.id,
            "amount_minor": new_amount_minor,
            "currency": charge.currency,
            "reason": row["note"],
        },
    )
    return CorrectionOut(reversal=reversal, charge=charge)


def _reversal_row(session: Session, entry_id: int, reason: str) -> EntryRow:
    """The negative of charge ``entry_id``, once the charge is known to be reversible."""
    if not reason or not reason.strip():
        raise InvalidInput("a reversal needs a reason")
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(f"unknown ledger entry {entry_id}")
    if entry.kind == "reversal":
        raise InvalidInput(
            f"ledger entry {entry_id} is itself a reversal; correct the original entry instead"
        )
    already = session.scalars(
        select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)
    ).first()
    if already is not None:
        raise Conflict(f"ledger entry {entry_id} was already reversed by entry {already}")
    return entry_row(
        key=f"reversal:{entry_id}",
        run_id=entry.run_id,
        pool_id=entry.pool_id,
        source_id=entry.source_id,
        contributor_id=entry.contributor_id,
        terms_model=entry.terms_model,
        currency=entry.currency,
        amount_minor=-entry.amount_minor,
        kind="reversal",
        reverses_id=entry_id,
        note=reason.strip(),
        created_at=utcnow(),
    )


def _append(session: Session, row: EntryRow) -> LedgerEntryOut:
    return get_entry(session, append_entry(session, row))
