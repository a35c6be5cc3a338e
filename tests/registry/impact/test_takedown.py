"""Takedown by each selector over a real store: the revoked shards, the replacement shards
(their ids equal to ingesting the remaining records directly), the new dataset version and
the audit row; --dry-run and bad input change nothing; a SIGKILL leaves the registry as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from registry.db.models import AuditEntry, Dataset, DatasetShard, Shard
from registry.errors import InvalidInput, NotFound
from registry.faults import crash_at
from registry.impact.takedown import takedown
from registry.shards.ingest import ingest_paths
from tests.conftest import Cli, snapshot
from tests.faults.conftest import Provreg
from tests.registry.impact.world import FIELDS, WEB, World, build, record_id, text

Tx = Callable[..., Any]


@pytest.fixture
def world(session_factory: Tx, tmp_path: Path) -> World:
    return build(session_factory, tmp_path)


def _direct(tx: Tx, world: World, tmp: Path, keep: list[int], name: str) -> str:
    """The shard id that ingesting records ``keep`` of WEB directly gives."""
    rows = [WEB[i] for i in keep]
    path = tmp / f"{name}.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": text(i), "url": WEB[i][0], "author": WEB[i][1]}) + "\n"
            for i in keep
        ),
        "utf-8",
    )
    assert rows
    with tx() as s:
        (sid,) = ingest_paths(
            s, world.store, [path], source="web", dataset=f"{name}@1", fields=FIELDS
        ).shard_ids
    return str(sid)


def _dataset(tx: Tx, ref: str) -> set[str]:
    name, version = ref.split("@")
    with tx() as s:
        ds = s.scalars(
            select(Dataset).where(Dataset.name == name, Dataset.version == version)
        ).one()
        return set(s.scalars(select(DatasetShard.shard_id).where(DatasetShard.dataset_id == ds.id)))


CASES = [
    # selector, shards revoked (by index), records kept per revoked shard (WEB indices)
    ("author", "web:bob", [0, 1], [[0], []]),
    ("domain", "beta.org", [0, 1, 2], [[0], [2], [5]]),
    ("url", "https://alpha.org/2", [1], [[3]]),
    ("record", "R4", [2], [[5]]),
    ("shard", "S1", [1], [[]]),
]


@pytest.mark.parametrize(("kind", "value", "revoked", "kept"), CASES)
def test_takedown_by_each_selector(
    session_factory: Tx, world: World, tmp_path: Path, kind: str, value: str,
    revoked: list[int], kept: list[list[int]],
) -> None:  # fmt: skip
    value = {"R4": record_id(text(4)), "S1": world.shards[1]}.get(value, value)
    with session_factory() as s:
        out = takedown(s, world.store, kind, value, "notice 42")
    assert [x.shard_id for x in out.shards] == sorted(world.shards[i] for i in revoked)
    expected = {}
    for i, keep in zip(revoked, kept, strict=True):
        expected[world.shards[i]] = (
            _direct(session_factory, world, tmp_path, keep, f"direct{i}") if keep else None
        )
    assert {x.shard_id: x.replacement for x in out.shards} == expected
    assert out.datasets == ["web@2"]
    untouched = {world.shards[i] for i in range(3) if i not in revoked}
    assert _dataset(session_factory, "web@2") == untouched | {r for r in expected.values() if r}
    assert _dataset(session_factory, "web@1") == set(world.shards)  # the old version stays
    with session_factory() as s:
        status = {i: st for i, st in s.execute(select(Shard.id, Shard.status))}
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "takedown.apply"))
    assert all(status[world.shards[i]] == "revoked" for i in revoked)
    assert all(status[r] == "active" for r in expected.values() if r)
    assert entry.object_id == str(out.id)
    assert out.records == sum(2 - len(k) for k in kept)
    assert out.tokens == 101 * out.records


def test_dry_run_and_bad_input_change_nothing(
    session_factory: Tx, engine: Engine, world: World
) -> None:
    files = sorted(
        p for p in (world.store.root and Path(str(world.store.root))).rglob("*") if p.is_file()
    )
    before = snapshot(engine)
    with session_factory() as s:
        plan = takedown(s, world.store, "author", "web:bob", "notice", dry_run=True)
    assert (plan.dry_run, plan.records, plan.datasets) == (True, 3, ["web@2"])
    assert all(x.replacement is None for x in plan.shards)
    for kind, value, reason, error, message in [
        ("author", "web:nobody", "x", NotFound, "nothing matched"),
        ("domain", "beta.org", "  ", InvalidInput, "needs a reason"),
        ("source", "web", "x", InvalidInput, "not a source"),
        ("url", "not a url", "x", InvalidInput, "http"),
    ]:
        with session_factory() as s, pytest.raises(error, match=message):
            takedown(s, world.store, kind, value, reason)
    assert snapshot(engine) == before
    after = sorted(p for p in Path(str(world.store.root)).rglob("*") if p.is_file())
    assert [p for p in after if "tmp" not in p.parts] == [p for p in files if "tmp" not in p.parts]


def test_a_second_takedown_of_the_same_records_matches_nothing(
    session_factory: Tx, world: World
) -> None:
    with session_factory() as s:
        takedown(s, world.store, "author", "web:bob", "notice")
    with session_factory() as s, pytest.raises(NotFound, match="among active shards"):
        takedown(s, world.store, "author", "web:bob", "notice")


def test_the_cli_prints_and_a_dry_run_changes_nothing(
    cli: Cli, world: World, engine: Engine
) -> None:
    before = snapshot(engine)
    dry = cli("takedown", "--author", "web:bob", "--reason", "notice", "--dry-run")
    assert "would remove 3 record(s), 303 tokens from 2 shard(s)" in dry.output
    assert "nothing changed" in dry.output
    assert snapshot(engine) == before
    bad = cli("takedown", "--author", "web:bob", "--domain", "x.org", "--reason", "n", ok=False)
    assert bad.exit_code == 1 and "exactly one" in bad.output
    done = cli("takedown", "--domain", "gamma.org", "--reason", "notice", "--json")
    assert json.loads(done.stdout)["datasets"] == ["web@2"]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["takedown.after_files", "takedown.before_commit"])
def test_a_takedown_killed_leaves_the_registry_as_before(
    provreg: Provreg, tmp_path: Path, point: str
) -> None:
    world = build(lambda actor="test": provreg.cli_session(), tmp_path)
    before = snapshot(provreg.engine)
    proc = provreg.run("takedown", "--domain", "beta.org", "--reason", "n", env=crash_at(point))
    assert proc.returncode == -9, proc.stderr
    assert snapshot(provreg.engine) == before
    provreg.check()  # shard verify --all --gc removes what the kill left, the audit chain holds
    provreg.run("takedown", "--domain", "beta.org", "--reason", "n")
    with provreg.cli_session() as s:
        assert s.scalar(select(Shard.status).where(Shard.id == world.shards[2])) == "revoked"
