"""The append-only, hash-chained audit log: every write appends one row in the same transaction.

Each row's hash is SHA-256 over the canonical JSON (RFC 8785) of its own fields and the previous
row's hash, so editing, deleting or inserting a row out of band breaks the chain at that row.
Deleting the newest rows leaves a valid but shorter chain: publish the head (``audit verify``
prints it) somewhere outside the database to anchor it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import rfc8785
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from registry.db.models import AuditEntry
from registry.db.types import utcnow

GENESIS = "0" * 64
_TABLE = AuditEntry.metadata.tables["audit_log"]  # Core: one INSERT, no unit of work


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload_digest(payload: Any) -> str:
    return _sha256(rfc8785.dumps(payload))


def entry_hash(entry: AuditEntry) -> str:
    """What a row's ``hash`` must be, from its other fields."""
    return _sha256(
        rfc8785.dumps(
            {
                "id": entry.id,
                "at": entry.at.isoformat(timespec="microseconds"),
                "actor": entry.actor,
                "action": entry.action,
                "object_kind": entry.object_kind,
                "object_id": entry.object_id,
                "payload_sha256": entry.payload_sha256,
                "prev_hash": entry.prev_hash,
            }
        )
    )


def _lock_chain(session: Session) -> None:
    # Two concurrent writers must not both extend the same head. SQLite writers already hold
    # the database lock (BEGIN IMMEDIATE); PostgreSQL needs a transaction-scoped lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7270627265670001)"))


def record(session: Session, action: str, object_kind: str, object_id: str, payload: Any) -> None:
    """Append one audit row for a write made in ``session``'s transaction.

    The head is read as a plain tuple and the row inserted with one Core statement, not through
    the unit of work: every write pays for this, a training checkpoint among them.
    """
    session.flush()  # the writes this row records reach the database first, in order
    _lock_chain(session)
    head = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry = AuditEntry(
        id=(head.id + 1) if head else 1,
        at=utcnow(),
        actor=str(session.info.get("actor", "unknown")),
        action=action,
        object_kind=object_kind,
        object_id=str(object_id),
        payload_sha256=payload_digest(payload),
        prev_hash=head.hash if head else GENESIS,
    )
    entry.hash = entry_hash(entry)
    session.execute(insert(_TABLE), [{c.key: getattr(entry, c.key) for c in _TABLE.columns}])


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    rows: int
    head: str
    first_bad_id: int | None = None
    problem: str | None = None


def verify(session: Session, *, batch: int = 10_000) -> AuditReport:
    """Recompute the chain and name the first row that was edited, deleted or inserted.

    Rows are read as plain tuples, not ORM objects: the identity map costs more than hashing.
    """
    prev_hash, prev_id, rows = GENESIS, 0, 0
    last_id = 0
    columns = [c for c in AuditEntry.__table__.columns]
    while True:
        chunk = session.execute(
            select(*columns).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not chunk:
            return AuditReport(ok=True, rows=rows, head=prev_hash)
        for entry in chunk:
            problem = None
            if entry.id != prev_id + 1:
                problem = f"row {entry.id} follows row {prev_id}: rows {prev_id + 1}..{entry.id - 1} were deleted"
            elif entry.prev_hash != prev_hash:
                problem = f"row {entry.id} does not chain to row {prev_id}: a row was inserted or replaced"
            elif entry_hash(entry) != entry.hash:  # type: ignore[arg-type]  # a Row, same names
                problem = f"row {entry.id} ({entry.action} {entry.object_kind} {entry.object_id}) was edited"
            if problem:
                return AuditReport(
                    ok=False, rows=rows, head=prev_hash, first_bad_id=entry.id, problem=problem
                )
            prev_hash, prev_id, rows = entry.hash, entry.id, rows + 1
        last_id = chunk[-1].id
