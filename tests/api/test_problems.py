"""Errors are RFC 9457 problem+json with a precise detail, and a failed request changes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from api.deps import CuratorDep, SessionDep
from registry.catalogue import contributors
from registry.errors import Conflict
from tests.api.conftest import LiveServer, Tokens
from tests.conftest import snapshot

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def _problem(r: httpx.Response, status: int) -> dict:  # type: ignore[type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    assert body["instance"] == r.request.url.path
    return body  # type: ignore[no-any-return]


def test_unknown_name_is_404(client: httpx.Client, api_tokens: Tokens) -> None:
    body = _problem(client.get("/sources/nope", headers=api_tokens.auth("reader")), 404)
    assert body["detail"] == "unknown source 'nope'"
    assert body["type"] == "urn:provreg:problem:not-found"
    body = _problem(client.get("/licences/Bogus-1.0", headers=api_tokens.auth("reader")), 404)
    assert "Bogus-1.0" in body["detail"]
    body = _problem(client.get("/no/such/route", headers=api_tokens.auth("reader")), 404)
    assert body["type"] == "about:blank" and body["title"] == "Not Found"


def test_duplicate_is_409_and_changes_nothing(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    auth = api_tokens.auth("curator")
    assert client.post("/contributors", json={"name": "alice"}, headers=auth).status_code == 201
    before = snapshot(engine)
    body = _problem(client.post("/contributors", json={"name": "alice"}, headers=auth), 409)
    assert body["detail"] == "contributor 'alice' already exists"
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("source", "pointer", "detail"),
    [
        (
            {"name": "s", "uri": "u", "kind": "web-crawl"},
            "/body/licence",
            "body.licence: Field required",
        ),
        (
            {"name": "s", "uri": "u", "kind": "web-crawl", "licence": "MIT", "pii": "maybe"},
            "/body/pii",
            "body.pii",
        ),
        (
            {"name": "s", "uri": "u", "kind": "web-crawl", "licence": "MIT", "colour": 1},
            "/body/colour",
            "body.colour",
        ),
        (
            {"name": "", "uri": "u", "kind": "web-crawl", "licence": "MIT"},
            "/body/name",
            "body.name",
        ),
    ],
)
def test_validation_error_names_the_field(
    client: httpx.Client,
    api_tokens: Tokens,
    engine: Engine,
    source: dict,
    pointer: str,
    detail: str,  # type: ignore[type-arg]
) -> None:
    before = snapshot(engine)
    r = client.post("/sources", json=source, headers=api_tokens.auth("curator"))
    body = _problem(r, 422)
    assert detail in body["detail"]
    assert [e["pointer"] for e in body["errors"]] == [pointer]
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"licence": "MIT OR"}, 422, "invalid licence expression 'MIT OR'"),
        ({"licence": "Bogus-1.0"}, 422, "not in the registry"),
        ({"kind": "scraped"}, 422, "unknown source kind 'scraped'"),
        (
            {"contributors": [{"contributor": "nobody", "share": "1"}]},
            404,
            "unknown contributor 'nobody'",
        ),
        (
            {"contributors": [{"contributor": "token-holder", "share": "0.5"}]},
            422,
            "sum to exactly 1",
        ),
        (
            {"terms": {"model": "flat", "amount": "5", "currency": "XYZ"}},
            422,
            "unknown currency 'XYZ'",
        ),
    ],
)
def test_service_errors_are_problems_and_change_nothing(
    client: httpx.Client,
    api_tokens: Tokens,
    engine: Engine,
    change: dict,
    status: int,
    detail: str,  # type: ignore[type-arg]
) -> None:
    source = {"name": "s", "uri": "u", "kind": "web-crawl", "licence": "MIT"} | change
    before = snapshot(engine)
    body = _problem(
        client.post("/sources", json=source, headers=api_tokens.auth("curator")), status
    )
    assert detail in body["detail"]
    assert snapshot(engine) == before


def test_bad_query_parameters_are_422(client: httpx.Client, api_tokens: Tokens) -> None:
    auth = api_tokens.auth("reader")
    body = _problem(client.get("/sources", params={"limit": 0}, headers=auth), 422)
    assert body["errors"][0]["loc"] == ["query", "limit"] and "query.limit" in body["detail"]
    body = _problem(client.get("/sources", params={"after": "!!"}, headers=auth), 422)
    assert "'after' is not a cursor" in body["detail"]
    cur = api_tokens.auth("curator") | {"content-type": "application/json"}
    body = _problem(client.post("/contributors", content=b"{", headers=cur), 422)
    assert "JSON decode error" in body["detail"]


def test_auth_errors_are_problems(client: httpx.Client, api_tokens: Tokens) -> None:
    body = _problem(client.post("/sources", json={}), 401)
    assert "Bearer" in body["detail"]
    body = _problem(client.post("/sources", json={}, headers=api_tokens.auth("reader")), 403)
    assert body["detail"] == "token 'reader' has role 'reader'; this needs admin or curator"


def test_a_request_that_fails_after_writing_changes_nothing(
    engine: Engine, api_tokens: Tokens
) -> None:
    """The session dependency rolls back rows a route already flushed when the route then fails."""
    app = create_app(engine)

    @app.post("/test/write-then-fail", status_code=201)
    def write_then_fail(session: SessionDep, _: CuratorDep) -> None:
        contributors.add_contributor(session, name="half-done")
        raise Conflict("failed after a write")

    before = snapshot(engine)
    live = LiveServer(app)
    live.start()
    try:
        r = httpx.post(f"{live.url}/test/write-then-fail", headers=api_tokens.auth("curator"))
    finally:
        live.stop()
    assert _problem(r, 409)["detail"] == "failed after a write"
    assert snapshot(engine) == before


def test_a_value_the_database_cannot_store_is_422_not_500(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    # Found by schemathesis: PostgreSQL refuses NUL bytes in text columns, SQLite stored them
    # (issue 19, defect 10). The service refuses them first, with one message on both.
    auth = api_tokens.auth("curator")
    before = snapshot(engine)
    r = client.post("/contributors", json={"name": "nul\u0000byte"}, headers=auth)
    body = _problem(r, 422)
    assert body["detail"] == (
        "contributor name holds a NUL character at character 4, which cannot be stored"
    )
    assert snapshot(engine) == before


def test_a_domain_error_over_http_names_no_cli_flag(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    before = snapshot(engine)
    r = client.post(
        "/manifests",
        json={"name": "m", "intended_use": "research"},
        headers=api_tokens.auth("curator"),
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "at least one dataset, shard or list of shards" in detail
    assert "--" not in detail, detail
    assert snapshot(engine) == before
