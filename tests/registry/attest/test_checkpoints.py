"""Signed audit checkpoints: the chain extends one; truncation and rewritten history are caught,
even when every later hash was recomputed so the plain chain check passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from registry import audit, manifests
from registry.attest import checkpoints, keys
from registry.db.models import AuditEntry
from registry.errors import InvalidInput, VerificationFailed
from tests.conftest import Cli, snapshot
from tests.registry.attest.conftest import Signed, set_key


def _more_rows(signed: Signed, name: str) -> None:
    with signed.tx() as s:
        manifests.create_manifest(
            s, manifests.ManifestIn(name=name, intended_use="research", datasets=["code"])
        )


def _rewrite(signed: Signed, row_id: int) -> None:
    """Edit one row and recompute every hash from it on: a chain that checks out on its own."""
    with signed.tx() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.id >= row_id).order_by(AuditEntry.id)
        ).all()
        prev = s.scalars(select(AuditEntry.hash).where(AuditEntry.id == row_id - 1)).one()
        for row in rows:
            if row.id == row_id:
                row.actor = "someone else"
            row.prev_hash = prev
            row.hash = audit.entry_hash(row)
            prev = row.hash
            s.flush()


def test_the_chain_extends_its_checkpoint(signed: Signed) -> None:
    with signed.tx() as s:
        made = checkpoints.create_checkpoint(s)
        head = audit.verify(s)
    assert made.rows == head.rows - 1  # the checkpoint's own audit row follows it
    _more_rows(signed, "later")
    with signed.tx() as s:
        report = checkpoints.verify_against(s, made.envelope)
        listed = checkpoints.list_checkpoints(s)
    assert report.ok and report.rows > made.rows and report.checkpoint_head == made.head
    assert [c.id for c in listed] == [made.id]


def test_truncating_the_newest_rows_is_detected(signed: Signed, engine: sa.Engine) -> None:
    with signed.tx() as s:
        made = checkpoints.create_checkpoint(s)
    with engine.begin() as conn:
        conn.execute(sa.delete(AuditEntry.__table__).where(AuditEntry.id > made.rows - 2))
    with signed.tx() as s:
        assert audit.verify(s).ok  # a shorter chain is still a valid chain
        report = checkpoints.verify_against(s, made.envelope)
    assert not report.ok and "cut off" in (report.problem or "")


def test_rewriting_a_row_before_the_checkpoint_is_detected(signed: Signed) -> None:
    with signed.tx() as s:
        made = checkpoints.create_checkpoint(s)
    _more_rows(signed, "later")
    _rewrite(signed, 2)
    with signed.tx() as s:
        assert audit.verify(s).ok  # recomputed hashes: the chain alone cannot tell
        report = checkpoints.verify_against(s, made.envelope)
    assert not report.ok and "rewritten" in (report.problem or "")


def test_a_forged_or_foreign_checkpoint_is_refused(signed: Signed) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    with signed.tx() as s:
        made = checkpoints.create_checkpoint(s)
    forged = made.envelope.replace(b'"payload":"', b'"payload":"AA', 1)
    with signed.tx() as s, pytest.raises(VerificationFailed) as exc:
        checkpoints.verify_against(s, forged)
    assert exc.value.mode == "bad_signature"
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    with signed.tx() as s, pytest.raises(VerificationFailed) as exc:
        checkpoints.verify_against(s, made.envelope, [stranger])
    assert exc.value.mode == "unknown_key"
    published = keys.load_public_key(Path(signed.public_path).read_bytes())
    with signed.tx() as s:
        assert checkpoints.verify_against(s, made.envelope, [published]).ok


def test_no_key_no_checkpoint_and_nothing_changes(signed: Signed, engine: sa.Engine) -> None:
    set_key(None)
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match="PROVREG_SIGNING_KEY"), signed.tx() as s:
        checkpoints.create_checkpoint(s)
    assert snapshot(engine) == before


def test_cli_checkpoint_and_verify(signed: Signed, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "cp.json"
    cli("audit", "checkpoint", "--out", str(out))
    cli("audit", "verify", "--checkpoint", str(out), "--key", signed.public_path)
    _rewrite(signed, 3)
    r = cli("audit", "verify", "--checkpoint", str(out), ok=False)
    assert r.exit_code == 1 and "rewritten" in r.output
    cli("audit", "verify")  # the plain check passes: only the checkpoint catches it
