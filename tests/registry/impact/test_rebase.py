"""Rebase after a takedown: the child holds the replacements (and drops shards with nothing
left), the policy judges it, training on it works and the stamp's chain names both manifests,
a run on the old manifest is refused naming the rebased one, and a new disclosure says that a
takedown happened, when and how much (not what)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from registry.disclosure.build import build_facts
from registry.errors import Conflict, NotFound, NotPermitted
from registry.impact.rebase import rebase
from registry.impact.takedown import takedown
from registry.manifests import get_manifest, shard_ids
from registry.runs import open_run
from registry.runs.weights import read_stamp
from tests.conftest import Cli, snapshot
from tests.registry.impact.world import World, build

Tx = Callable[..., Any]
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}
TRAIN = ["--steps", "3", "--checkpoint-every", "3", "--batch-size", "2", "--threads", "1",
         *(a for k, v in MODEL.items() for a in ("--set", f"{k}={v}"))]  # fmt: skip


@pytest.fixture
def world(session_factory: Tx, tmp_path: Path) -> World:
    return build(session_factory, tmp_path)


def _open(s: Any, manifest: str) -> Any:
    return open_run(s, manifest_ref=manifest, config={}, seed=0, tokenizer="provreg.bytes/1",
                    code_version="test")  # fmt: skip


def test_rebase_swaps_replacements_and_refuses_the_old_manifest(
    session_factory: Tx, engine: Engine, world: World
) -> None:
    with session_factory() as s, pytest.raises(Conflict, match="nothing to rebase"):
        rebase(s, "m1", "m1-clean")
    with session_factory() as s:
        td = takedown(s, world.store, "author", "web:bob", "notice")
    replacement = {x.shard_id: x.replacement for x in td.shards}
    with session_factory() as s:
        new = rebase(s, "m1", "m1-clean")
        held = set(shard_ids(s, new.hash))
        assert get_manifest(s, new.hash).parent == world.m1
    # shard 0 -> its replacement (ann's record); shard 1 had only bob: dropped; shard 2 kept
    assert held == {replacement[world.shards[0]], world.shards[2]}
    assert replacement[world.shards[1]] is None
    before = snapshot(engine)
    with session_factory() as s, pytest.raises(NotPermitted, match="'m1-clean'") as refused:
        _open(s, world.m1)
    assert new.hash in str(refused.value)
    assert snapshot(engine) == before
    with session_factory() as s:
        assert _open(s, new.hash).manifest == new.hash
        facts = build_facts(s, new.hash)
        old_facts = build_facts(s, world.m1)
    assert facts.takedown is not None and old_facts.takedown is None
    assert (facts.takedown.takedowns, facts.takedown.records_removed) == (1, 3)
    assert facts.takedown.tokens_removed == 303
    text = facts.model_dump_json()
    assert "bob" not in text and "beta.org/2" not in text  # how much, never what


def test_rebase_bad_input(session_factory: Tx, engine: Engine, world: World) -> None:
    with session_factory() as s:
        takedown(s, world.store, "domain", "gamma.org", "notice")
    before = snapshot(engine)
    with session_factory() as s, pytest.raises(NotFound):
        rebase(s, "no-such-manifest", "x")
    with session_factory() as s, pytest.raises(Conflict):
        rebase(s, "m1", "m2")  # the name is taken
    assert snapshot(engine) == before


@pytest.mark.slow
def test_rebase_then_train_stamps_both_manifests(cli: Cli, world: World, tmp_path: Path) -> None:
    cli("takedown", "--author", "web:bob", "--reason", "notice")
    new = cli("manifest", "rebase", "m1", "--name", "m1-clean").stdout.strip()
    out = tmp_path / "w.safetensors"
    cli("train", "--manifest", "m1-clean", "--out", str(out), *TRAIN)
    stamp = read_stamp(out)
    assert stamp.manifest == new and stamp.manifest_chain[-2:] == (world.m1, new)
    refused = cli("train", "--manifest", "m1", "--out", str(tmp_path / "x"), *TRAIN, ok=False)
    assert refused.exit_code == 1 and "m1-clean" in refused.output
    impact = json.loads(cli("impact", "--author", "web:bob", "--json").stdout)
    assert {m["name"]: m["via"] for m in impact["manifests"]}["m1-clean"] == "rebase"
    assert {r["manifest"]: r["matching_tokens"] for r in impact["runs"]}[new] == 0
