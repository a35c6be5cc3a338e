"""API tokens: only a hash is stored, revoked tokens authenticate nothing, writes are audited."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import Engine, select

from registry import auth
from registry.catalogue import contributors
from registry.db.models import ApiToken, AuditEntry
from registry.errors import Conflict, InvalidInput, NotFound
from tests.conftest import Cli, snapshot


def test_token_is_stored_only_as_its_sha256(session_factory, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        plaintext, out = auth.create_token(s, name="ci", role="curator")
    assert plaintext.startswith("prv_") and len(plaintext) > 40
    assert (out.name, out.role, out.contributor, out.revoked_at) == ("ci", "curator", None, None)
    with engine.connect() as conn:
        row = conn.execute(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in repr(snapshot(engine))
    with session_factory() as s:
        assert auth.authenticate(s, plaintext) == out
        assert auth.authenticate(s, plaintext + "x") is None
        assert auth.authenticate(s, row.token_hash) is None


def test_revoked_token_authenticates_nothing(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        plaintext, _ = auth.create_token(s, name="t", role="reader")
    with session_factory() as s:
        revoked = auth.revoke_token(s, "t")
    assert revoked.revoked_at is not None
    with session_factory() as s:
        assert auth.authenticate(s, plaintext) is None
        assert [t.revoked_at for t in auth.list_tokens(s)] == [revoked.revoked_at]
    with pytest.raises(Conflict, match="already revoked"), session_factory() as s:
        auth.revoke_token(s, "t")
    with pytest.raises(NotFound, match="unknown token 'nope'"), session_factory() as s:
        auth.revoke_token(s, "nope")


def test_contributor_token_names_its_contributor(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        contributors.add_contributor(s, name="alice")
        plaintext, out = auth.create_token(s, name=None, role="contributor", contributor="alice")
    assert out.contributor == "alice" and out.name.startswith("contributor-")
    with session_factory() as s:
        assert auth.authenticate(s, plaintext) == out


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"role": "root"}, InvalidInput, "unknown role 'root'"),
        ({"role": "contributor"}, InvalidInput, "needs the contributor it speaks for"),
        ({"role": "reader", "contributor": "alice"}, InvalidInput, "only contributor tokens"),
        ({"role": "contributor", "contributor": "bob"}, NotFound, "unknown contributor 'bob'"),
        ({"role": "reader", "name": "taken"}, Conflict, "token 'taken' already exists"),
        ({"role": "reader", "name": "  "}, InvalidInput, "token name is empty"),
    ],
)
def test_bad_token_requests_change_nothing(
    session_factory, engine: Engine, kw, error, message
) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        contributors.add_contributor(s, name="alice")
        auth.create_token(s, name="taken", role="admin")
    before = snapshot(engine)
    with pytest.raises(error, match=message), session_factory() as s:
        auth.create_token(s, **({"name": None} | kw))
    assert snapshot(engine) == before


def test_token_cli_prints_the_token_once_and_audits(cli: Cli, engine: Engine) -> None:
    created = cli("token", "create", "--role", "trainer", "--name", "gpu-box")
    plaintext = created.stdout.strip()
    assert plaintext.startswith("prv_") and "\n" not in plaintext
    listed = json.loads(cli("token", "list", "--json").stdout)
    assert listed == [
        {
            "name": "gpu-box",
            "role": "trainer",
            "contributor": None,
            "created_at": listed[0]["created_at"],
            "revoked_at": None,
        }
    ]
    assert plaintext not in cli("token", "list").stdout
    assert "revoked" in cli("token", "revoke", "gpu-box").stdout
    bad = cli("token", "create", "--role", "root", ok=False)
    assert bad.exit_code == 1 and "unknown role 'root'" in bad.stderr
    with engine.connect() as conn:
        actions = [
            (a.actor, a.action) for a in conn.execute(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert actions[-2:] == [("tester", "token.create"), ("tester", "token.revoke")]
