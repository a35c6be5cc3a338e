"""Reads and writes over HTTP through the same services as the CLI; pagination; the schema."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal

import httpx
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from api.routes import ROUTERS
from registry.catalogue import contributors, licences, sources
from registry.db import migrate
from registry.db.engine import transaction
from tests.api.conftest import Tokens


def _walk(client: httpx.Client, path: str, headers: dict[str, str], limit: int) -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = []  # type: ignore[type-arg]
    after = None
    for _ in range(1000):
        params: dict[str, object] = {"limit": limit} | ({"after": after} if after else {})
        r = client.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        after = page["next"]
        if after is None:
            return items
    raise AssertionError("pagination did not end")


def test_pagination_walks_every_item_once(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    with transaction(engine, actor="test") as s:
        for i in range(23):
            contributors.add_contributor(s, name=f"c{i:02d}")
        for i in range(9):
            sources.add_source(
                s, sources.SourceIn(name=f"s{i}", uri="u", kind="synthetic", licence="CC0-1.0")
            )
    auth = api_tokens.auth("reader")
    with transaction(engine, actor="test", write=False) as s:
        want_contributors = [c.name for c in contributors.list_contributors(s)]
        want_licences = [lic.spdx_id for lic in licences.list_licences(s)]
    got = [c["name"] for c in _walk(client, "/contributors", auth, 5)]
    assert got == want_contributors and len(set(got)) == 24  # 23 + the token holder
    got = [lic["spdx_id"] for lic in _walk(client, "/licences", auth, 7)]
    assert got == want_licences and len(set(got)) == len(got) >= 50
    assert [s["name"] for s in _walk(client, "/sources", auth, 3)] == [f"s{i}" for i in range(9)]
    # a page exactly as long as what is left ends with next = null, not an empty page
    assert client.get("/sources", params={"limit": 9}, headers=auth).json()["next"] is None


def test_source_round_trips_with_exact_shares(client: httpx.Client, api_tokens: Tokens) -> None:
    cur = api_tokens.auth("curator")
    for name in ("alice", "acme"):
        assert client.post("/contributors", json={"name": name}, headers=cur).status_code == 201
    body = {
        "name": "crawl",
        "uri": "https://example.org",
        "kind": "web-crawl",
        "licence": "mit or apache-2.0",
        "contributors": [
            {"contributor": "alice", "share": "0.333333333333333333333"},
            {"contributor": "acme", "share": "0.666666666666666666667"},
        ],
        "terms": {"model": "per-mtok", "amount": "1.50", "currency": "eur"},
    }
    r = client.post("/sources", json=body, headers=cur)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["licence"] == "MIT OR Apache-2.0"
    got = client.get("/sources/crawl", headers=api_tokens.auth("reader")).json()
    assert got == created
    shares = [Decimal(c["share"]) for c in got["contributors"]]
    assert sum(shares) == 1 and str(shares[0]) == "0.333333333333333333333"
    assert got["terms"] == {"model": "per-mtok", "amount": "1.50", "currency": "EUR"}


def test_openapi_lists_every_route_with_its_responses(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert {r.path for r in routes} >= {"/healthz", "/licences", "/sources/{name}", "/audit/verify"}
    for route in routes:
        for method in route.methods:
            op = schema["paths"][route.path_format][method.lower()]
            statuses = set(op["responses"])
            assert any(s.startswith("2") for s in statuses), (route.path, method)
            # public: health, disclosures and their signatures, the keys and audit checkpoints,
            # and record proofs of published manifests
            public = (
                "/healthz",
                "/keys",
                "/audit/checkpoints",
                "/manifests/{digest}/records/proof",
            )
            if route.path in public or route.path.startswith("/disclosures"):
                assert "security" not in op and "401" not in statuses, (route.path, method)
            else:
                assert {"401", "403"} <= statuses, (route.path, method)
                assert op["security"] == [{"HTTPBearer": []}]
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert response["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (route.path, method, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    post = schema["paths"]["/sources"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SourceIn"
    }
    assert {"404", "409", "422"} <= set(post["responses"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_provreg_serve_serves_the_api(db_url: str, engine: Engine) -> None:
    port = _free_port()
    env = os.environ | {"PROVREG_DATABASE_URL": db_url, "PYTHONPATH": os.getcwd()}
    cmd = [
        sys.executable,
        "-m",
        "cli.main",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.communicate()[0].decode()) from None
                time.sleep(0.1)
        assert r.json()["schema_revision"] == migrate.head_revision(engine)  # the newest
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_provreg_serve_refuses_an_uninitialised_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = os.environ | {
        "PROVREG_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db",
        "PYTHONPATH": os.getcwd(),
    }
    r = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "run `provreg init`" in r.stderr
