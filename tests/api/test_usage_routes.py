"""A contributor's usage over real HTTP: their own token or an admin's reads it; another
contributor's token gets 403 and learns nothing about them."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine

from registry import auth, ledger
from registry.db.engine import transaction
from tests.api.conftest import Tokens
from tests.conftest import snapshot
from tests.registry.ledger.test_authors import URLS, _run, _world


def test_usage_is_visible_only_to_its_owner(
    client: httpx.Client, api_tokens: Tokens, engine: Engine, store_dir: Path, tmp_path: Path
) -> None:
    def tx() -> object:
        return transaction(engine, actor="test")

    store, shard, m = _world(tx, tmp_path)
    assert store_dir == tmp_path / "store"  # the server reads the files the test ingested
    _run(tx, "r1", m, shard, 145, 6)
    with transaction(engine, actor="test") as s:
        ledger.settle_run(s, "r1", store=store)
        ann, _ = auth.create_token(s, name="ann", role="contributor", contributor="forum:ann")
    mine = {"Authorization": f"Bearer {ann}"}

    own = client.get("/contributors/forum:ann/usage", headers=mine)
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["tokens"] == 60 and body["runs"][0]["manifest_hash"] == m
    assert [(r["url"], r["tokens"]) for r in body["runs"][0]["records"]] == [
        (URLS[0], 20),
        (URLS[3], 40),
    ]
    admin = client.get("/contributors/forum:bob/usage", headers=api_tokens.auth("admin"))
    assert admin.status_code == 200 and admin.json()["tokens"] == 40

    other = client.get("/contributors/forum:bob/usage", headers=mine)
    assert other.status_code == 403
    assert "records" not in other.text and "https://" not in other.text
    stranger = client.get("/contributors/nobody/usage", headers=mine)
    assert stranger.status_code == 403  # refused before any lookup: no existence leak


def test_source_registration_takes_pay_authors_and_refuses_bad_shares(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    curator = api_tokens.auth("curator")
    body = {
        "name": "forum", "uri": "https://forum.example", "kind": "user-contributed",
        "licence": "MIT", "contributors": [{"contributor": "token-holder", "share": "1"}],
        "terms": {"model": "per-mtok", "amount": "1.50", "currency": "EUR"},
    }  # fmt: skip
    before = snapshot(engine)
    for bad in ("0", "1.5", "-0.5"):
        r = client.post("/sources", json=body | {"pay_authors": bad}, headers=curator)
        assert r.status_code == 422, r.text
        assert "authors' share" in r.json()["detail"]
    r = client.post(
        "/sources", json=body | {"pay_authors": "0.7", "contributors": []}, headers=curator
    )
    assert r.status_code == 422 and "source-level contributors" in r.json()["detail"]
    assert snapshot(engine) == before
    r = client.post("/sources", json=body | {"pay_authors": "0.7"}, headers=curator)
    assert r.status_code == 201, r.text
    assert r.json()["pay_authors"] == "0.7"
