"""The audit chain catches rows edited, deleted or inserted behind the registry's back."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from registry import audit
from registry.catalogue import contributors
from tests.conftest import Cli


def _three_writes(session_factory) -> None:  # type: ignore[no-untyped-def]
    for name in ("a", "b", "c"):
        with session_factory() as s:
            contributors.add_contributor(s, name=name)


def _verify(session_factory) -> audit.AuditReport:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return audit.verify(s)


def test_every_write_is_chained_and_verifies(session_factory, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    _three_writes(session_factory)
    report = _verify(session_factory)
    assert report.ok and report.rows == 4  # licence seed + three contributors
    with engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, actor FROM audit_log ORDER BY id")).all()
    assert [a for a, _ in actions] == [
        "licence.seed",
        "contributor.add",
        "contributor.add",
        "contributor.add",
    ]
    assert actions[-1][1] == "test"


def test_edited_row_is_named(session_factory, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    _three_writes(session_factory)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    report = _verify(session_factory)
    assert not report.ok and report.first_bad_id == 3 and "edited" in (report.problem or "")


def test_deleted_row_is_named(session_factory, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    _three_writes(session_factory)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE id = 2"))
    report = _verify(session_factory)
    assert not report.ok and report.first_bad_id == 3 and "deleted" in (report.problem or "")


def test_row_inserted_out_of_band_is_named(session_factory, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    _three_writes(session_factory)
    # Shift rows 3.. up by one and slip a forged row in at 3, with a self-consistent hash.
    with engine.begin() as conn:
        rows = (
            conn.execute(sa.text("SELECT * FROM audit_log WHERE id >= 3 ORDER BY id DESC"))
            .mappings()
            .all()
        )
        for r in rows:
            conn.execute(
                sa.text("UPDATE audit_log SET id = :n WHERE id = :o"),
                {"n": r["id"] + 1, "o": r["id"]},
            )
        forged = audit.AuditEntry(
            id=3,
            at=audit.utcnow(),
            actor="mallory",
            action="contributor.add",
            object_kind="contributor",
            object_id="99",
            payload_sha256="0" * 64,
            prev_hash="f" * 64,
        )
        forged.hash = audit.entry_hash(forged)
        conn.execute(
            sa.insert(audit.AuditEntry).values(
                id=3,
                at=forged.at,
                actor=forged.actor,
                action=forged.action,
                object_kind=forged.object_kind,
                object_id=forged.object_id,
                payload_sha256=forged.payload_sha256,
                prev_hash=forged.prev_hash,
                hash=forged.hash,
            )
        )
    report = _verify(session_factory)
    assert not report.ok and report.first_bad_id == 3 and "inserted" in (report.problem or "")


def test_cli_audit_verify_exit_codes(cli: Cli, engine: Engine) -> None:
    cli("contributor", "add", "alice")
    ok = cli("audit", "verify")
    assert "audit log intact: 2 rows" in ok.stdout
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET object_id = 'x' WHERE id = 2"))
    bad = cli("audit", "verify", ok=False)
    assert bad.exit_code == 1 and "BROKEN at row 2" in bad.stderr
