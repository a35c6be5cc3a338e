"""Manifests over HTTP (create, document, shards, proof, verify) and every role rule of the
dataset, shard, manifest and token routes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from manifests.merkle import InclusionProof, verify_inclusion_against_document
from registry import auth
from registry.catalogue import contributors, sources
from registry.db.engine import transaction
from registry.db.models import TOKEN_ROLES
from registry.entities.shards import ShardIn
from registry.shards.registration import register_shards
from registry.shards.store import ShardStore
from tests.api.conftest import Tokens
from tests.conftest import Cli, snapshot

READERS = {"admin", "curator", "trainer", "reader"}
CURATORS = {"admin", "curator"}
BLOBS = [f"shard number {i}".encode() * 50 for i in range(5)]
IDS = sorted(hashlib.sha256(b).hexdigest() for b in BLOBS)


@pytest.fixture
def seeded(engine: Engine, store_dir: Any) -> str:
    """Source ``crawl`` (MIT), dataset ``web@1`` of five registered shards, manifest ``m``;
    for each role, a source, a shard and a token that only that role's request touches."""
    with transaction(engine, actor="test") as s:
        contributors.add_contributor(s, name="alice")
        for name in ["crawl", *(f"src-{r}" for r in TOKEN_ROLES)]:
            sources.add_source(
                s, sources.SourceIn(name=name, uri="u", kind="web-crawl", licence="MIT")
            )
        shards = [
            ShardIn(id=i, source="crawl", dataset="web@1", bytes=len(b), records=1, tokens=9)
            for i, b in zip(
                IDS, sorted(BLOBS, key=lambda b: hashlib.sha256(b).hexdigest()), strict=True
            )
        ]
        shards += [
            ShardIn(id=_rid(r), source="crawl", bytes=1, records=1, tokens=1) for r in TOKEN_ROLES
        ]
        register_shards(s, ShardStore(store_dir), shards)
        for role in TOKEN_ROLES:
            auth.create_token(s, name=f"victim-{role}", role="reader")
    from registry import manifests

    with transaction(engine, actor="test") as s:
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["web@1"])
        )
    return m.hash


def _rid(role: str) -> str:
    return hashlib.sha256(f"revocable {role}".encode()).hexdigest()


Rule = tuple[str, Callable[[str], str], Callable[[str], Any] | None, set[str]]


def _rules(digest: str) -> list[Rule]:
    same = lambda p: lambda _role: p  # noqa: E731
    blob = BLOBS[0]
    blob_id = hashlib.sha256(blob).hexdigest()
    return [
        ("GET", same("/datasets"), None, READERS),
        ("GET", same("/datasets/web/versions/1"), None, READERS),
        ("POST", same("/datasets"), lambda r: {"name": f"by-{r}"}, CURATORS),
        ("POST", same("/shards"), lambda r: _shard(f"one {r}"), CURATORS),
        ("POST", same("/shards/bulk"), lambda r: {"shards": [_shard(f"bulk {r}")]}, CURATORS),
        ("GET", same(f"/shards/{IDS[0]}"), None, READERS),
        ("PUT", same(f"/shards/{blob_id}/content"), lambda r: blob, CURATORS),
        ("GET", same(f"/shards/{blob_id}/content"), None, READERS),
        ("HEAD", same(f"/shards/{blob_id}/content"), None, READERS),
        ("POST", lambda r: f"/shards/{_rid(r)}/revoke", lambda r: {"reason": "x"}, CURATORS),
        ("POST", lambda r: f"/sources/src-{r}/revoke", lambda r: {"reason": "x"}, CURATORS),
        ("POST", same("/manifests"), lambda r: _manifest(f"m-{r}"), CURATORS),
        ("GET", same("/manifests"), None, READERS),
        ("GET", same("/manifests/m"), None, READERS),
        ("GET", same(f"/manifests/{digest}/document"), None, READERS),
        ("GET", same("/manifests/m/shards"), None, READERS),
        ("GET", same(f"/manifests/m/proof/{IDS[1]}"), None, READERS),
        ("GET", same("/manifests/m/verify"), None, READERS),
        ("POST", lambda r: f"/tokens/victim-{r}/revoke", None, {"admin"}),
    ]


def _shard(seed: str) -> dict[str, Any]:
    shard_id = hashlib.sha256(seed.encode()).hexdigest()
    return {"id": shard_id, "source": "crawl", "bytes": 1, "records": 1, "tokens": 1}


def _manifest(name: str, **change: Any) -> dict[str, Any]:
    return {"name": name, "intended_use": "research", "datasets": ["web@1"]} | change


def _send(
    client: httpx.Client, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    if isinstance(body, bytes):
        return client.request(method, path, content=body, headers=headers)
    return client.request(method, path, json=body, headers=headers)


def test_every_role_rule_of_the_new_routes(
    client: httpx.Client, api_tokens: Tokens, seeded: str
) -> None:
    wrong: list[str] = []
    for method, path_for, body, allowed in _rules(seeded):
        path, payload = path_for("nobody"), body("nobody") if body else None
        r = _send(client, method, path, payload, {})
        if r.status_code != 401:
            wrong.append(f"{method} {path} without token: {r.status_code}")
        r = _send(client, method, path, payload, {"Authorization": f"Bearer {api_tokens.revoked}"})
        if r.status_code != 401:
            wrong.append(f"{method} {path} revoked token: {r.status_code}")
        for role in TOKEN_ROLES:
            path, payload = path_for(role), body(role) if body else None
            r = _send(client, method, path, payload, api_tokens.auth(role))
            expected = "2xx" if role in allowed else "403"
            got = "2xx" if r.is_success else str(r.status_code)
            if got != expected:
                wrong.append(
                    f"{method} {path} as {role}: {r.status_code} (wanted {expected}) {r.text}"
                )
    assert wrong == []


def test_document_is_the_exported_bytes_with_an_immutable_etag(
    client: httpx.Client, api_tokens: Tokens, seeded: str, cli: Cli
) -> None:
    rd = api_tokens.auth("reader")
    exported = cli("manifest", "export", "m").output.splitlines()[0].encode("utf-8")
    for _ in range(2):  # a miss, then the cache
        r = client.get(f"/manifests/{seeded}/document", headers=rd)
        assert r.status_code == 200 and r.content == exported
        assert r.headers["content-type"] == "application/json"
        assert r.headers["etag"] == f'"{seeded}"'
        assert "immutable" in r.headers["cache-control"]
        assert hashlib.sha256(r.content).hexdigest() == seeded
    assert client.get("/manifests/m/document", headers=rd).content == exported
    r = client.get(f"/manifests/{seeded}/document", headers=rd | {"If-None-Match": f'"{seeded}"'})
    assert r.status_code == 304
    r = client.get(f"/manifests/{'0' * 64}/document", headers=rd)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_proof_verifies_offline_against_the_document(
    client: httpx.Client, api_tokens: Tokens, seeded: str
) -> None:
    rd = api_tokens.auth("reader")
    document = json.loads(client.get(f"/manifests/{seeded}/document", headers=rd).content)
    for shard_id in IDS:
        r = client.get(f"/manifests/{seeded[:10]}/proof/{shard_id}", headers=rd)
        assert r.status_code == 200, r.text
        proof = InclusionProof.from_dict(r.json())
        assert verify_inclusion_against_document(proof, shard_id, document)
        assert not verify_inclusion_against_document(
            proof, IDS[0] if shard_id != IDS[0] else IDS[1], document
        )
    outsider = _rid("admin")
    assert client.get(f"/manifests/m/proof/{outsider}", headers=rd).status_code == 404
    verify = client.get("/manifests/m/verify", headers=rd).json()
    assert verify == {"hash": seeded, "ok": True, "problems": []}


def test_shards_and_manifests_paginate(
    client: httpx.Client, api_tokens: Tokens, seeded: str
) -> None:
    rd = api_tokens.auth("reader")
    got, after = [], None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        page = client.get("/manifests/m/shards", params=params, headers=rd).json()
        assert len(page["items"]) <= 2
        got += [s["id"] for s in page["items"]]
        if (after := page["next"]) is None:
            break
    assert got == IDS
    cur = api_tokens.auth("curator")
    hashes = {seeded}
    for i in range(3):
        r = client.post("/manifests", json=_manifest(f"more{i}", shards=IDS[: i + 1]), headers=cur)
        assert r.status_code == 201, r.text
        hashes.add(r.json()["hash"])
    listed, after = [], None
    for _ in range(10):
        params = {"limit": 1} | ({"after": after} if after else {})
        page = client.get("/manifests", params=params, headers=rd).json()
        listed += [m["hash"] for m in page["items"]]
        if (after := page["next"]) is None:
            break
    assert listed == sorted(hashes)


def test_create_is_idempotent_409_on_a_different_manifest_403_on_policy(
    client: httpx.Client, api_tokens: Tokens, seeded: str, engine: Engine
) -> None:
    cur = api_tokens.auth("curator")
    r = client.post("/manifests", json=_manifest("m"), headers=cur)
    assert r.status_code == 200 and r.json()["hash"] == seeded  # the same request again
    before = snapshot(engine)
    r = client.post("/manifests", json=_manifest("m", intended_use="commercial"), headers=cur)
    assert r.status_code == 409 and "other intended use" in r.json()["detail"]
    r = client.post("/manifests", json=_manifest("m", datasets=[], shards=IDS[:2]), headers=cur)
    assert r.status_code == 409 and "other shards" in r.json()["detail"]
    assert snapshot(engine) == before
    r = client.post(f"/shards/{IDS[0]}/revoke", json={"reason": "takedown"}, headers=cur)
    assert r.status_code == 200
    before = snapshot(engine)
    r = client.post("/manifests", json=_manifest("after-takedown"), headers=cur)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["type"] == "urn:provreg:problem:policy-violation"
    assert body["violations"] and any(IDS[0] in v for v in body["violations"])
    assert snapshot(engine) == before


def test_token_revoked_through_the_api_stops_working_at_once(
    client: httpx.Client, api_tokens: Tokens, engine: Engine
) -> None:
    with transaction(engine, actor="test") as s:
        plaintext, _ = auth.create_token(s, name="soon-gone", role="reader")
    bearer = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/datasets", headers=bearer).status_code == 200  # now cached
    r = client.post("/tokens/soon-gone/revoke", headers=api_tokens.auth("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert client.get("/datasets", headers=bearer).status_code == 401
    assert (
        client.post("/tokens/soon-gone/revoke", headers=api_tokens.auth("admin")).status_code == 409
    )
