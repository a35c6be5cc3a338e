"""Every role rule, over real HTTP: no token 401, wrong role 403, right role 2xx, revoked 401."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, select

from registry.db.models import TOKEN_ROLES, AuditEntry
from tests.api.conftest import Tokens

READERS = {"admin", "curator", "trainer", "reader"}
CURATORS = {"admin", "curator"}


def _source(name: str) -> dict[str, Any]:
    return {"name": name, "uri": "https://example.org", "kind": "web-crawl", "licence": "MIT"}


# (method, path, body for a role, roles allowed)
RULES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/licences", None, READERS),
    ("GET", "/licences/MIT", None, READERS),
    ("GET", "/contributors", None, READERS),
    ("GET", "/contributors/token-holder", None, READERS),
    ("POST", "/contributors", lambda role: {"name": f"by-{role}"}, CURATORS),
    ("GET", "/sources", None, READERS),
    ("POST", "/sources", lambda role: _source(f"by-{role}"), CURATORS),
    ("GET", "/audit/verify", None, {"admin", "reader"}),
    ("GET", "/tokens", None, {"admin"}),
    ("GET", "/contributors/token-holder/statement", None, {"admin", "contributor"}),
    ("GET", "/ledger/summary", None, {"admin"}),
]


def test_every_role_rule(client: httpx.Client, api_tokens: Tokens) -> None:
    wrong: list[str] = []
    for method, path, body, allowed in RULES:
        kw = {"json": body("nobody")} if body else {}
        r = client.request(method, path, **kw)
        if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
            wrong.append(f"{method} {path} without token: {r.status_code} {r.headers}")
        r = client.request(
            method, path, headers={"Authorization": f"Bearer {api_tokens.revoked}"}, **kw
        )
        if r.status_code != 401 or "invalid_token" not in r.headers.get("www-authenticate", ""):
            wrong.append(f"{method} {path} with a revoked token: {r.status_code}")
        for role in TOKEN_ROLES:
            kw = {"json": body(role)} if body else {}
            r = client.request(method, path, headers=api_tokens.auth(role), **kw)
            expected = "2xx" if role in allowed else "403"
            got = "2xx" if r.is_success else str(r.status_code)
            if got != expected:
                wrong.append(
                    f"{method} {path} as {role}: {r.status_code} (wanted {expected}) {r.text}"
                )
    assert wrong == []


def test_health_is_public_and_a_garbage_token_is_401(client: httpx.Client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    r = client.get("/sources", headers={"Authorization": "Bearer prv_not-a-token"})
    assert r.status_code == 401
    r = client.get("/sources", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_writes_are_audited_under_the_token_name(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    r = client.post("/contributors", json={"name": "alice"}, headers=api_tokens.auth("curator"))
    assert r.status_code == 201
    with engine.connect() as conn:
        last = conn.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (last.actor, last.action) == ("curator", "contributor.add")
