"""``/impact``, ``/takedowns`` and ``/manifests/{ref}/rebase`` over a real server: curators
and admins may, readers and trainers may not; bad input is a problem+json changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.conftest import Tokens
from tests.conftest import snapshot
from tests.registry.impact.world import World, build


@pytest.fixture
def world(session_factory: Callable[..., Any], tmp_path: Path) -> World:
    return build(session_factory, tmp_path)  # its store is the server's (tmp_path / "store")


def test_impact_takedown_and_rebase_with_the_roles(
    client: httpx.Client, api_tokens: Tokens, world: World, engine: Engine
) -> None:
    for role in ("reader", "trainer"):
        assert client.get("/impact", params={"author": "web:bob"},
                          headers=api_tokens.auth(role)).status_code == 403  # fmt: skip
    r = client.get("/impact", params={"author": "web:bob"}, headers=api_tokens.auth("curator"))
    assert r.status_code == 200, r.text
    assert r.json()["records"] == 3 and {m["name"] for m in r.json()["manifests"]} == {
        "m1",
        "child",
    }
    before = snapshot(engine)
    for params, status in [({"domain": "nowhere.org"}, 404), ({}, 422),
                           ({"domain": "a.org", "url": "https://a.org/"}, 422)]:  # fmt: skip
        bad = client.get("/impact", params=params, headers=api_tokens.auth("admin"))
        assert bad.status_code == status and bad.headers["content-type"].startswith(
            "application/problem+json"
        )
    body = {"author": "web:bob", "reason": "notice 7"}
    assert (
        client.post("/takedowns", json=body, headers=api_tokens.auth("reader")).status_code == 403
    )
    dry = client.post("/takedowns", json=body | {"dry_run": True}, headers=api_tokens.auth("admin"))
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert (
        client.post(
            "/takedowns", json={"reason": "x"}, headers=api_tokens.auth("curator")
        ).status_code
        == 422
    )
    assert snapshot(engine) == before
    done = client.post("/takedowns", json=body, headers=api_tokens.auth("curator"))
    assert done.status_code == 201, done.text
    assert done.json()["datasets"] == ["web@2"] and done.json()["records"] == 3
    rebase = {"name": "m1-clean"}
    assert client.post(f"/manifests/{world.m1}/rebase", json=rebase,
                       headers=api_tokens.auth("trainer")).status_code == 403  # fmt: skip
    made = client.post(
        f"/manifests/{world.m1}/rebase", json=rebase, headers=api_tokens.auth("curator")
    )
    assert made.status_code == 201, made.text
    assert made.json()["parent"] == world.m1
    again = client.post(
        f"/manifests/{world.m1}/rebase", json=rebase, headers=api_tokens.auth("curator")
    )
    assert again.status_code == 409
