"""``/signals`` over a real server: curators record observations, readers list and check;
bad input is a problem+json that changes nothing."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import Engine

from tests.api.conftest import Tokens
from tests.conftest import snapshot

ROBOTS = "User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\n"


def test_record_list_show_and_check(client: httpx.Client, api_tokens: Tokens) -> None:
    body = {
        "origin": "https://Example.org",
        "kind": "robots.txt",
        "content": ROBOTS,
        "observed_at": "2026-11-01T00:00:00Z",
    }
    assert (
        client.post(
            "/signals/observations", json=body, headers=api_tokens.auth("reader")
        ).status_code
        == 403
    )
    r = client.post("/signals/observations", json=body, headers=api_tokens.auth("curator"))
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["origin"] == "https://example.org" and o["via"] == "api"
    assert o["sha256"] == hashlib.sha256(ROBOTS.encode()).hexdigest()
    header = {
        "origin": "https://example.org",
        "kind": "http-header",
        "content": "Content-Usage: train-ai=y",
        "url": "https://example.org/private/x",
        "observed_at": "2026-11-02T00:00:00+01:00",
    }
    assert (
        client.post(
            "/signals/observations", json=header, headers=api_tokens.auth("curator")
        ).status_code
        == 201
    )

    reader = api_tokens.auth("reader")
    origins = client.get("/signals/origins", headers=reader).json()
    assert origins == [
        {
            "origin": "https://example.org",
            "observations": 2,
            "latest_observed_at": "2026-11-01T23:00:00Z",
        }
    ]
    listed = client.get(
        "/signals/observations", params={"origin": "https://example.org"}, headers=reader
    )
    assert [x["kind"] for x in listed.json()] == ["robots.txt", "http-header"]
    detail = client.get(f"/signals/observations/{o['id']}", headers=reader).json()
    assert detail["raw_text"] == ROBOTS

    v = client.get("/signals/check", params={"url": "https://example.org/a"}, headers=reader).json()
    assert v["state"] == "disallowed" and v["decided_by"]["signal"] == "robots-content-usage"
    p = client.get(
        "/signals/check", params={"url": "https://example.org/private/x"}, headers=reader
    ).json()
    assert p["decided_by"]["signal"] == "robots-disallow"  # the header cannot re-allow it
    early = client.get(
        "/signals/check",
        params={"url": "https://example.org/a", "at": "2026-10-01T00:00:00Z"},
        headers=reader,
    ).json()
    assert early["state"] == "unknown" and early["decided_by"] is None
    assert client.get("/signals/check", params={"url": "https://example.org/a"}).status_code == 401


def test_bad_input_is_a_problem_and_changes_nothing(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    curator = api_tokens.auth("curator")
    before = snapshot(engine)
    for body, status in [
        ({"origin": "example.org", "kind": "robots.txt", "content": ROBOTS,
          "observed_at": "2026-11-01T00:00:00Z"}, 422),
        ({"origin": "https://example.org", "kind": "http-header", "content": "Bogus",
          "url": "https://example.org/", "observed_at": "2026-11-01T00:00:00Z"}, 422),
        ({"origin": "https://example.org", "kind": "robots.txt", "content": ROBOTS,
          "observed_at": "2026-11-01T00:00:00"}, 422),
        ({"origin": "https://example.org", "kind": "sitemap", "content": "",
          "observed_at": "2026-11-01T00:00:00Z"}, 422),
    ]:  # fmt: skip
        r = client.post("/signals/observations", json=body, headers=curator)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "--" not in r.json()["detail"]  # no CLI flags over HTTP
    reader = api_tokens.auth("reader")
    assert client.get("/signals/check", params={"url": "nope"}, headers=reader).status_code == 422
    assert client.get("/signals/observations/999", headers=reader).status_code == 404
    assert snapshot(engine) == before
