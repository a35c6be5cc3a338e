"""Input bounds over HTTP against a real server (issue 19, defects 4 and 10), SQLite and
PostgreSQL: counts past their limits are 422s, never 500s; an implausible progress report is a
422 that fails the run (committed although the request failed); every name is reachable."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select

from registry import manifests, runs
from registry.catalogue import sources
from registry.db.engine import transaction
from registry.db.models import AuditEntry
from tests.api.conftest import LiveServer, Tokens
from tests.conftest import snapshot
from tests.registry import factories as f
from tests.registry.runs.conftest import SHAPE


def _sid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def run_id(session_factory: Callable[..., Any]) -> tuple[str, list[str]]:
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        ids = f.shards(s, src, "code", 2)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
        run = runs.open_run(
            s, manifest_ref=m.hash, config=SHAPE, seed=0, tokenizer="t", code_version="c"
        )
    return run.id, ids


@pytest.mark.parametrize("count", [2**40 + 1, 2**62, 2**63, -1])
def test_shard_counts_past_the_limit_are_422(
    client: httpx.Client, api_tokens: Tokens, engine: Engine, count: int
) -> None:
    """Defect 4: 2**62 was accepted, then a manifest over it was a 500 and two of them
    overflowed SQLite (503)."""
    with transaction(engine, actor="test") as s:
        sources.add_source(
            s, sources.SourceIn(name="crawl", uri="u", kind="web-crawl", licence="MIT")
        )
    before = snapshot(engine)
    for field in ("bytes", "records", "tokens"):
        shard = {"id": _sid(field), "source": "crawl", "bytes": 1, "records": 1, "tokens": 1}
        r = client.post("/shards", json=shard | {field: count}, headers=api_tokens.auth("curator"))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "/body/" + field in {e["pointer"] for e in r.json()["errors"]}
    assert snapshot(engine) == before


def _raw(url: str, requests: list[bytes]) -> list[bytes]:
    """Send ``requests`` one after the other on ONE connection; each response's status line."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host and port
    out: list[bytes] = []
    with socket.create_connection((host, port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            out.append(status.strip())
    return out


def test_progress_past_2_53_is_422_and_the_connection_lives_on(
    server: LiveServer, api_tokens: Tokens, engine: Engine, run_id: tuple[str, list[str]]
) -> None:
    """Defect 4: a report above 2**53 was a 500, and the next request on the same keep-alive
    connection was reset."""
    run, ids = run_id
    token = api_tokens.by_role["trainer"]
    body = json.dumps(
        {"steps_done": 1, "cursor": {}, "consumption_delta": {ids[0]: [2**53, 1]}}
    ).encode()
    progress = (
        f"POST /runs/{run}/progress HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    get = f"GET /runs/{run} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    before = snapshot(engine)
    assert _raw(server.url, [progress, get, get]) == [
        b"HTTP/1.1 422 Unprocessable Entity",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK",
    ]
    assert snapshot(engine) == before


def test_an_implausible_report_is_422_and_fails_the_run(
    client: httpx.Client, api_tokens: Tokens, engine: Engine, run_id: tuple[str, list[str]]
) -> None:
    """Defect 4: 2**53-1 tokens of a 2000-token shard, reported by a trainer token."""
    run, ids = run_id
    report = {"steps_done": 1, "cursor": {}, "consumption_delta": {ids[0]: [2**53 - 1, 1]}}
    r = client.post(f"/runs/{run}/progress", json=report, headers=api_tokens.auth("trainer"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "urn:provreg:problem:implausible-report"
    assert "refused and the run failed" in problem["detail"]
    shown = client.get(f"/runs/{run}", headers=api_tokens.auth("reader")).json()
    assert shown["status"] == "failed" and shown["tokens"] == 0
    assert shown["error"].startswith("report refused: ")
    with transaction(engine, actor="test", write=False) as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-1] == "run.report_refused"
    again = client.post(f"/runs/{run}/progress", json=report, headers=api_tokens.auth("trainer"))
    assert again.status_code == 409  # the run is failed: nothing more is recorded


ODD_NAMES = ["a b", "50%", "what?", "#1", "a+b", "a;b=c", "~x", "@home", "caf\u00e9", "日本語"]


def test_every_name_is_reachable_over_http(client: httpx.Client, api_tokens: Tokens) -> None:
    """Defect 10: 'a/b' was accepted and then unreachable (/contributors/a%2Fb was a 404)."""
    curator = api_tokens.auth("curator")
    for name in ODD_NAMES:
        r = client.post("/contributors", json={"name": name}, headers=curator)
        assert r.status_code == 201, (name, r.text)
        got = client.get(f"/contributors/{quote(name, safe='')}", headers=curator)
        assert got.status_code == 200 and got.json()["name"] == name, (name, got.text)
    nfd = quote("cafe\u0301", safe="")
    assert client.get(f"/contributors/{nfd}", headers=curator).json()["name"] == "caf\u00e9"
    r = client.post("/contributors", json={"name": "a/b"}, headers=curator)
    assert r.status_code == 422 and "one segment of a URL path" in r.json()["detail"]
    r = client.post("/contributors", json={"name": "cafe\u0301"}, headers=curator)
    assert r.status_code == 409  # the NFD spelling is the same contributor


def test_a_contributor_reads_its_statement_whatever_the_spelling(
    client: httpx.Client, session_factory: Callable[..., Any]
) -> None:
    from registry import auth
    from registry.catalogue import contributors

    with session_factory() as s:
        contributors.add_contributor(s, name="cafe\u0301")
        token, _ = auth.create_token(s, name="me", role="contributor", contributor="caf\u00e9")
    for spelling in ("caf\u00e9", "cafe\u0301"):
        r = client.get(
            f"/contributors/{quote(spelling, safe='')}/statement",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
