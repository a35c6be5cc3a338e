"""The ledger over real HTTP: admins settle runs and read the summary; a contributor token reads
only its own contributor's statement; a refused or bad request changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from registry.db.engine import transaction
from tests.api.conftest import Tokens
from tests.conftest import snapshot
from tests.registry.ledger import ledger_fixtures as fx

RUN = "a1" * 16
RUNNING = "b2" * 16
HOLDER = "token-holder"  # the contributor the conftest's contributor token belongs to


@pytest.fixture
def world(engine: Engine, api_tokens: Tokens) -> dict[str, Any]:
    with transaction(engine, actor="test") as s:
        news = fx.source(s, "news", "per-mtok:1.50:EUR", {HOLDER: "0.3333", "bob": "0.6667"})
        books = fx.source(s, "books", "flat:50.00:EUR", {"carol": "0.75", HOLDER: "0.25"})
        n, b = fx.shards(s, news, 2), fx.shards(s, books, 1)
        m = fx.manifest(s, "m1", n + b)
        fx.run(s, RUN, m, {n[0]: 1_000_000, n[1]: 234_567, b[0]: 10})
        fx.run(s, RUNNING, m, {n[0]: 5}, status="running")
    return {"manifest": m}


def _totals(body: dict[str, Any]) -> list[tuple[str, int]]:
    return [(t["currency"], t["amount_minor"]) for t in body["totals"]]


def test_settle_then_statements_and_summary(
    client: httpx.Client, api_tokens: Tokens, world: dict[str, Any]
) -> None:
    admin, mine = api_tokens.auth("admin"), api_tokens.auth("contributor")
    r = client.post(f"/runs/{RUN[:12]}/settle", headers=admin)  # a prefix names the run
    assert r.status_code == 200, r.text
    # news: 1,234,567 tok x EUR 1.50/M = 185 cents: holder 62, bob 123 (largest remainder);
    # books: flat EUR 50.00 = 5000 cents: carol 3750, holder 1250.
    assert (r.json()["run_id"], r.json()["entries_added"], _totals(r.json())) == (
        RUN,
        4,
        [("EUR", 5185)],
    )
    again = client.post(f"/runs/{RUN}/settle", headers=admin).json()
    assert (again["already_settled"], again["entries_added"], again["entries_existing"]) == (
        True,
        0,
        4,
    )

    own = client.get(f"/contributors/{HOLDER}/statement", headers=mine)
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["contributor"] == HOLDER and _totals(body) == [("EUR", 1312)]
    assert sorted((e["source"], e["amount_minor"]) for e in body["entries"]) == [
        ("books", 1250),
        ("news", 62),
    ]
    assert [(s["source"], s["amount_minor"]) for s in body["by_source"]] == [
        ("news", 62),
        ("books", 1250),
    ]
    assert _totals(client.get("/contributors/bob/statement", headers=admin).json()) == [
        ("EUR", 123)
    ]
    future = client.get(
        f"/contributors/{HOLDER}/statement", params={"from": "2999-01-01"}, headers=mine
    ).json()
    assert (future["entries"], future["totals"], future["date_from"]) == ([], [], "2999-01-01")

    summary = client.get("/ledger/summary", headers=admin)
    assert summary.status_code == 200, summary.text
    s = summary.json()
    assert (s["entries"], s["contributors_compensated"], _totals(s)) == (4, 3, [("EUR", 5185)])


def test_a_contributor_cannot_read_another_statement_and_only_admins_settle(
    client: httpx.Client, api_tokens: Tokens, world: dict[str, Any], engine: Engine
) -> None:
    before = snapshot(engine)
    other = client.get("/contributors/bob/statement", headers=api_tokens.auth("contributor"))
    assert other.status_code == 403
    assert "cannot read 'bob'" in other.json()["detail"], other.text
    for role in ("curator", "trainer", "reader", "contributor"):
        r = client.post(f"/runs/{RUN}/settle", headers=api_tokens.auth(role))
        assert r.status_code == 403, (role, r.text)
        assert client.get("/ledger/summary", headers=api_tokens.auth(role)).status_code == 403
    assert client.post(f"/runs/{RUN}/settle").status_code == 401
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "detail"),
    [
        ("POST", f"/runs/{RUNNING}/settle", None, 409, "only a completed run can be settled"),
        ("POST", f"/runs/{'c3' * 16}/settle", None, 404, "run"),
        ("GET", "/contributors/nobody/statement", None, 404, "nobody"),
        (
            "GET",
            f"/contributors/{HOLDER}/statement",
            {"from": "2026-02-01", "to": "2026-01-01"},
            422,
            "start date 2026-02-01 is after the end date 2026-01-01",
        ),
        ("GET", f"/contributors/{HOLDER}/statement", {"from": "yesterday"}, 422, "from"),
    ],
)
def test_bad_requests_are_clear_problems_and_change_nothing(
    client: httpx.Client,
    api_tokens: Tokens,
    world: dict[str, Any],
    engine: Engine,
    method: str,
    path: str,
    params: dict[str, str] | None,
    status: int,
    detail: str,
) -> None:
    before = snapshot(engine)
    r = client.request(method, path, params=params, headers=api_tokens.auth("admin"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.text
    assert snapshot(engine) == before
