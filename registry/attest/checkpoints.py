"""Signed audit checkpoints, in the spirit of Certificate Transparency's signed tree heads.

A checkpoint signs (row count, head hash, time) of the hash-chained audit log. Verifying the
current chain against one proves it extends the checkpointed chain: rows cut off the end (the
count shrank) and history rewritten before the checkpoint (row N's hash is no longer the head
that was signed, even if every later hash was recomputed) are both detected.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.attest import dsse, statements
from registry.attest.keys import Signer, configured_signer, load_public_key
from registry.attest.records import NO_KEY
from registry.config import get_settings
from registry.db.models import AuditCheckpoint, AuditEntry, SigningKey
from registry.db.types import utcnow
from registry.entities.attest import CheckpointOut, CheckpointReport
from registry.errors import IntegrityFailure, InvalidInput, VerificationFailed


def create_checkpoint(session: Session, *, signer: Signer | None = None) -> CheckpointOut:
    """Sign the audit chain's current length and head, store and return the checkpoint.

    Raises:
        InvalidInput: no signing key is configured.
        IntegrityFailure: the chain is broken now (a broken chain is never signed).
    """
    signer = signer if signer is not None else configured_signer(session)
    if signer is None:
        raise InvalidInput(f"an audit checkpoint must be signed: {NO_KEY}", field="attest.no_key")
    report = audit.verify(session)
    if not report.ok:
        raise IntegrityFailure(
            f"the audit log is broken at row {report.first_bad_id}: {report.problem}"
        )
    at = utcnow()
    payload = statements.checkpoint_payload(
        registry=get_settings().registry_id, rows=report.rows, head=report.head, at=at
    )
    envelope = dsse.sign(payload, statements.CHECKPOINT_TYPE, signer)
    row = AuditCheckpoint(
        rows=report.rows, head=report.head, at=at, key_id=signer.key_id, envelope=envelope
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "audit.checkpoint",
        "audit_checkpoint",
        str(row.id),
        {"rows": row.rows, "head": row.head},
    )
    return _out(row)


def list_checkpoints(session: Session) -> list[CheckpointOut]:
    """Every checkpoint, oldest first."""
    return [_out(r) for r in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))]


def registered_keys(session: Session) -> list[ec.EllipticCurvePublicKey]:
    return [load_public_key(r.public_key.encode()) for r in session.scalars(select(SigningKey))]


def read_checkpoint(envelope: bytes, keys: Sequence[ec.EllipticCurvePublicKey]) -> tuple[int, str]:
    """A checkpoint's (rows, head), once its signature holds.

    Raises:
        VerificationFailed: a bad signature, an unknown key, or a malformed payload.
    """
    payload, _ = dsse.open_envelope(envelope, keys, payload_type=statements.CHECKPOINT_TYPE)
    try:
        data = json.loads(payload)
        return int(data["rows"]), str(data["head"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationFailed(
            "bad_signature", f"the checkpoint's payload is malformed: {exc}"
        ) from exc


def verify_against(
    session: Session, envelope: bytes, keys: Sequence[ec.EllipticCurvePublicKey] | None = None
) -> CheckpointReport:
    """Does the current chain verify and extend the checkpoint's? ``keys`` default to the
    registered ones (pass the published key to trust nothing the database says).

    Raises:
        VerificationFailed: the checkpoint's own signature does not hold.
    """
    rows, head = read_checkpoint(envelope, registered_keys(session) if keys is None else keys)
    report = audit.verify(session)

    def result(problem: str | None) -> CheckpointReport:
        return CheckpointReport(
            ok=problem is None,
            checkpoint_rows=rows,
            checkpoint_head=head,
            rows=report.rows,
            head=report.head,
            problem=problem,
        )

    if not report.ok:
        return result(f"the audit log is broken at row {report.first_bad_id}: {report.problem}")
    if report.rows < rows:
        return result(
            f"the audit log has {report.rows} rows, the checkpoint signed {rows}: "
            f"rows {report.rows + 1}..{rows} were cut off"
        )
    at_checkpoint = session.scalars(select(AuditEntry.hash).where(AuditEntry.id == rows)).first()
    if rows > 0 and at_checkpoint != head:
        return result(
            f"row {rows}'s hash is {at_checkpoint}, the checkpoint signed {head}: "
            "history before the checkpoint was rewritten"
        )
    return result(None)


def _out(row: AuditCheckpoint) -> CheckpointOut:
    return CheckpointOut(
        id=row.id, rows=row.rows, head=row.head, at=row.at, key_id=row.key_id, envelope=row.envelope
    )
