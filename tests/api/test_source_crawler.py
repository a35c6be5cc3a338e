"""A source's crawler (the user agent whose robots.txt group applies) over HTTP and the CLI."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import Engine

from tests.api.conftest import Tokens
from tests.conftest import Cli, snapshot


def test_the_crawler_round_trips_over_http(client: httpx.Client, api_tokens: Tokens) -> None:
    cur = api_tokens.auth("curator")
    body = {"name": "crawl", "uri": "https://example.org", "kind": "web-crawl",
            "licence": "MIT", "crawler": "ExampleBot"}  # fmt: skip
    r = client.post("/sources", json=body, headers=cur)
    assert r.status_code == 201, r.text
    got = client.get("/sources/crawl", headers=api_tokens.auth("reader")).json()
    assert got["crawler"] == "ExampleBot"
    bad = client.post("/sources", json=body | {"name": "c2", "crawler": "Bot/1.0"}, headers=cur)
    assert bad.status_code == 422 and "product token" in bad.text
    plain = client.post("/sources", json=body | {"name": "c3", "crawler": None}, headers=cur)
    assert plain.json()["crawler"] is None


def test_the_cli_shows_the_crawler_and_refuses_a_bad_one(cli: Cli, engine: Engine) -> None:
    cli("source", "add", "crawl", "--uri", "https://example.org", "--kind", "web-crawl",
        "--licence", "MIT", "--crawler", "Example-Bot_x")  # fmt: skip
    assert json.loads(cli("source", "show", "crawl", "--json").output)["crawler"] == "Example-Bot_x"
    assert "Example-Bot_x" in cli("source", "list").output
    before = snapshot(engine)
    result = cli("source", "add", "c2", "--uri", "u", "--kind", "web-crawl", "--licence", "MIT",
                 "--crawler", "Bot 1", ok=False)  # fmt: skip
    assert result.exit_code == 1
    assert "is not a user-agent product token" in result.output and "--crawler" in result.output
    assert snapshot(engine) == before
