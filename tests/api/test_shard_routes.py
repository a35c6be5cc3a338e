"""Shards over HTTP: register (one, bulk), streamed upload checked against the id, content, HEAD."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from registry.catalogue import contributors, sources
from registry.db.engine import transaction
from registry.db.models import AuditEntry
from tests.api.conftest import UPLOAD_LIMIT, Tokens
from tests.conftest import snapshot

BLOB = b"PAR1 pretend this is a shard " * 100
BLOB_ID = hashlib.sha256(BLOB).hexdigest()


def _sid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _shard(shard_id: str, **change: object) -> dict[str, object]:
    return {
        "id": shard_id,
        "source": "crawl",
        "dataset": "web@1",
        "bytes": 10,
        "records": 2,
        "tokens": 12,
    } | change


@pytest.fixture
def crawl(engine: Engine) -> None:
    with transaction(engine, actor="test") as s:
        contributors.add_contributor(s, name="alice")
        sources.add_source(
            s, sources.SourceIn(name="crawl", uri="u", kind="web-crawl", licence="MIT")
        )


def _files(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file()) if store.exists() else []


def _register_blob(client: httpx.Client, tokens: Tokens, size: int = len(BLOB)) -> None:
    r = client.post("/shards", json=_shard(BLOB_ID, bytes=size), headers=tokens.auth("curator"))
    assert r.status_code == 201, r.text


def test_upload_then_get_round_trip(
    client: httpx.Client, api_tokens: Tokens, crawl: None, engine: Engine, store_dir: Path
) -> None:
    cur, rd = api_tokens.auth("curator"), api_tokens.auth("reader")
    _register_blob(client, api_tokens)
    assert client.head(f"/shards/{BLOB_ID}/content", headers=rd).status_code == 404
    assert client.get(f"/shards/{BLOB_ID}", headers=rd).json()["bytes"] == len(BLOB)

    r = client.put(f"/shards/{BLOB_ID}/content", content=BLOB, headers=cur)
    assert r.status_code == 201, r.text
    assert r.json() == {"id": BLOB_ID, "bytes": len(BLOB), "added": True}
    r = client.put(f"/shards/{BLOB_ID}/content", content=BLOB, headers=cur)
    assert (r.status_code, r.json()["added"]) == (200, False)  # idempotent

    got = client.get(f"/shards/{BLOB_ID}/content", headers=rd)
    assert got.status_code == 200 and got.content == BLOB
    assert got.headers["etag"] == f'"{BLOB_ID}"'
    assert hashlib.sha256(got.content).hexdigest() == BLOB_ID
    again = client.get(f"/shards/{BLOB_ID}/content", headers=rd | {"If-None-Match": f'"{BLOB_ID}"'})
    assert again.status_code == 304 and again.content == b""
    head = client.head(f"/shards/{BLOB_ID}/content", headers=rd)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(BLOB))
    assert head.headers["etag"] == f'"{BLOB_ID}"'
    assert [p.name for p in _files(store_dir)] == [f"{BLOB_ID}.parquet"]
    with engine.connect() as conn:
        actions = conn.execute(select(AuditEntry.action, AuditEntry.actor)).all()
    assert actions.count(("shard.upload", "curator")) == 1


def _chunked(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(
    ("registered_size", "body", "status", "detail"),
    [
        (len(BLOB), BLOB + b"!", 409, "hash to"),
        (len(BLOB) + 1, BLOB, 409, f"registered as {len(BLOB) + 1} bytes"),
        (len(BLOB), b"x" * (UPLOAD_LIMIT + 1), 413, f"limit of {UPLOAD_LIMIT} bytes"),
    ],
)
def test_a_rejected_upload_leaves_nothing_behind(
    client: httpx.Client,
    api_tokens: Tokens,
    crawl: None,
    engine: Engine,
    store_dir: Path,
    chunked: bool,
    registered_size: int,
    body: bytes,
    status: int,
    detail: str,
) -> None:
    _register_blob(client, api_tokens, registered_size)
    before = snapshot(engine)
    content = _chunked(body) if chunked else body
    r = client.put(
        f"/shards/{BLOB_ID}/content", content=content, headers=api_tokens.auth("curator")
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]
    assert snapshot(engine) == before
    assert _files(store_dir) == []


def test_upload_needs_a_registered_shard(
    client: httpx.Client, api_tokens: Tokens, crawl: None, store_dir: Path
) -> None:
    cur = api_tokens.auth("curator")
    r = client.put(f"/shards/{BLOB_ID}/content", content=BLOB, headers=cur)
    assert r.status_code == 404 and "not registered" in r.json()["detail"]
    r = client.put("/shards/NOTANID/content", content=BLOB, headers=cur)
    assert r.status_code == 422
    assert _files(store_dir) == []


def test_register_one_is_idempotent_and_conflicts_on_other_metadata(
    client: httpx.Client, api_tokens: Tokens, crawl: None, engine: Engine
) -> None:
    cur = api_tokens.auth("curator")
    r = client.post("/shards", json=_shard(_sid("a")), headers=cur)
    assert r.status_code == 201 and r.json()["source"] == "crawl"
    assert client.post("/shards", json=_shard(_sid("a")), headers=cur).status_code == 200
    before = snapshot(engine)
    r = client.post("/shards", json=_shard(_sid("a"), tokens=13), headers=cur)
    assert r.status_code == 409 and "other tokens" in r.json()["detail"]
    r = client.post("/shards", json=_shard(_sid("b"), source="nope"), headers=cur)
    assert r.status_code == 404
    r = client.post("/shards", json=_shard("ABC"), headers=cur)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/body/id"
    assert snapshot(engine) == before


def test_bulk_registers_all_or_nothing(
    client: httpx.Client, api_tokens: Tokens, crawl: None, engine: Engine
) -> None:
    cur, rd = api_tokens.auth("curator"), api_tokens.auth("reader")
    batch = [_shard(_sid(f"s{i}"), bytes=i) for i in range(1200)]  # > one IN (...) chunk
    r = client.post("/shards/bulk", json={"shards": batch}, headers=cur)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "registered": 1200,
        "already_registered": 0,
        "linked": 1200,
        "datasets_created": ["web@1"],
    }
    web = client.get("/datasets/web/versions/1", headers=rd).json()
    assert (web["shards"], web["bytes"]) == (1200, sum(range(1200)))
    again = client.post("/shards/bulk", json={"shards": batch[:10]}, headers=cur).json()
    assert (again["registered"], again["already_registered"], again["linked"]) == (0, 10, 0)

    before = snapshot(engine)
    for bad, status in [
        (_shard(_sid("s5"), bytes=999), 409),  # a known id with other metadata
        (_shard(_sid("new"), source="nope"), 404),
        (_shard(_sid("new"), dataset="bad name!"), 422),
        (_shard("not-an-id"), 422),
    ]:
        fresh = [_shard(_sid(f"fresh{i}")) for i in range(20)]
        r = client.post("/shards/bulk", json={"shards": [*fresh, bad]}, headers=cur)
        assert r.status_code == status, (bad, r.text)
        assert snapshot(engine) == before
    twice = [_shard(_sid("dup")), _shard(_sid("dup"), records=3)]
    r = client.post("/shards/bulk", json={"shards": twice}, headers=cur)
    assert r.status_code == 422 and "listed twice" in r.json()["detail"]
    assert client.post("/shards/bulk", json={"shards": []}, headers=cur).status_code == 422
    assert snapshot(engine) == before


def test_revoked_shard_is_not_served_nor_registered_again(
    client: httpx.Client, api_tokens: Tokens, crawl: None
) -> None:
    cur, rd = api_tokens.auth("curator"), api_tokens.auth("reader")
    _register_blob(client, api_tokens)
    assert client.put(f"/shards/{BLOB_ID}/content", content=BLOB, headers=cur).status_code == 201
    r = client.post(f"/shards/{BLOB_ID[:12]}/revoke", json={"reason": "takedown"}, headers=cur)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert (
        client.post(f"/shards/{BLOB_ID}/revoke", json={"reason": "x"}, headers=cur).status_code
        == 409
    )
    assert client.get(f"/shards/{BLOB_ID}/content", headers=rd).status_code == 403
    r = client.post("/shards", json=_shard(BLOB_ID, bytes=len(BLOB)), headers=cur)
    assert r.status_code == 403
    r = client.post("/sources/crawl/revoke", json={"reason": "opt-out"}, headers=cur)
    assert r.status_code == 200 and r.json()["source"]["status"] == "revoked"
    r = client.post("/shards", json=_shard(_sid("late")), headers=cur)
    assert r.status_code == 403 and "revoked" in r.json()["detail"]


def test_datasets_create_list_get(client: httpx.Client, api_tokens: Tokens, engine: Engine) -> None:
    cur, rd = api_tokens.auth("curator"), api_tokens.auth("reader")
    for name, version in [("web/en", "2"), ("web/en", "1"), ("books", "1"), ("a.b", "x+1")]:
        r = client.post("/datasets", json={"name": name, "version": version}, headers=cur)
        assert r.status_code == 201, r.text
    before = snapshot(engine)
    r = client.post("/datasets", json={"name": "books"}, headers=cur)
    assert r.status_code == 409 and r.json()["detail"] == "dataset books@1 already exists"
    assert client.post("/datasets", json={"name": "bad name"}, headers=cur).status_code == 422
    assert snapshot(engine) == before
    got = client.get("/datasets/web/en/versions/2", headers=rd)
    assert got.status_code == 200 and (got.json()["name"], got.json()["version"]) == ("web/en", "2")
    assert client.get("/datasets/web/en/versions/3", headers=rd).status_code == 404
    seen, after = [], None
    while True:
        params: dict[str, object] = {"limit": 1} | ({"after": after} if after else {})
        page = client.get("/datasets", params=params, headers=rd).json()
        seen += [(d["name"], d["version"]) for d in page["items"]]
        if (after := page["next"]) is None:
            break
    assert seen == [("a.b", "x+1"), ("books", "1"), ("web/en", "1"), ("web/en", "2")]
