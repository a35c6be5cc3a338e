"""Held-out shards are never trained on; the forgetting table fills; replay respects the
policy; bad input changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from registry import continual, manifests
from registry.db.models import Shard
from registry.errors import InvalidInput, NotFound
from tests.conftest import Cli, snapshot
from tests.continual.conftest import World
from trainer.errors import ShardUnknownError
from trainer.reader import read_verified


@pytest.mark.slow
def test_eval_shards_are_never_trained_on_and_fill_the_loss_table(world: World) -> None:
    v2 = world.add_version("2", "bisect.py", 4)
    world.follower(eval_fraction=Decimal("0.25"), replay=Decimal("0.25")).run(once=True)
    v3 = world.add_version("3", "heapq.py", 4)
    follower = world.follower(eval_fraction=Decimal("0.25"), replay=Decimal("0.25"))
    follower.run(once=True)
    incs = follower.increments()
    assert [len(i.eval_shards) for i in incs] == [1, 1]
    held = {s for i in incs for s in i.eval_shards}
    assert held <= set(v2) | set(v3)
    for inc in incs:
        assert inc.run is not None
        # not in the manifest, never consumed, never replayed, never a delta
        with world.read() as s:
            in_manifest = set(manifests.shard_ids(s, inc.manifest))
        assert not held & in_manifest
        assert not held & set(world.consumption(inc.run))
        assert not held & (set(inc.delta_shards) | set(inc.replay_shards))
        # the training loader's source refuses a held-out shard
        source = world.client.shard_source(inc.manifest)
        with pytest.raises(ShardUnknownError):
            read_verified(source, inc.eval_shards[0])
    # forgetting table: after increment 1, inc 1's set; after increment 2, both sets
    assert list(incs[0].eval_losses or {}) == [incs[0].manifest]
    assert set(incs[1].eval_losses or {}) == {incs[0].manifest, incs[1].manifest}
    assert all(0 < v < 10 for i in incs for v in (i.eval_losses or {}).values())
    tree = world.lineage(incs[1].run or "")
    assert tree.eval_sets == [incs[0].manifest, incs[1].manifest]
    assert [r["increment"] for r in tree.loss_table] == [1, 2]
    assert tree.loss_table[1]["losses"] == incs[1].eval_losses
    # drift was measured against the ancestors and stored
    assert all(0 <= (i.drift or {})["bytes_jsd"] <= 1 for i in incs)
    assert incs[0].drift is not None and incs[0].drift["domain_mix_jsd"] is None  # v1 shards


def test_a_revoked_ancestor_shard_is_never_replayed(world: World) -> None:
    revoked = world.v1[0]
    with world.engine.begin() as conn:
        conn.execute(sa.update(Shard).where(Shard.id == revoked).values(status="revoked"))
    world.add_version("2", "bisect.py", 3)
    # replay as much as can be: every usable ancestor shard is a candidate
    [done] = world.follower(replay=Decimal("0.9")).run(once=True).increments
    replayed = set(done.increment.replay_shards)
    assert replayed == set(world.v1) - {revoked}
    assert revoked not in world.consumption(done.increment.run or "")


def test_the_replay_sample_is_deterministic_and_seeded() -> None:
    candidates = {f"{i:064x}": 100 for i in range(20)}
    one = continual.replay_sample(
        candidates, delta_tokens=900, fraction=Decimal("0.25"), seed=1, number=2
    )
    assert one == continual.replay_sample(
        candidates, delta_tokens=900, fraction=Decimal("0.25"), seed=1, number=2
    )
    assert len(one) == 3  # 900 / 3 = 300 tokens: three 100-token shards
    other = continual.replay_sample(
        candidates, delta_tokens=900, fraction=Decimal("0.25"), seed=2, number=2
    )
    assert len(other) == 3 and other != one
    assert not continual.replay_sample(
        candidates, delta_tokens=900, fraction=Decimal(0), seed=1, number=1
    )


@pytest.mark.parametrize("fraction", ["1", "-0.1", "1.5"])
def test_replay_outside_the_range_is_refused(world: World, fraction: str) -> None:
    world.add_version("2", "bisect.py", 2)
    before = snapshot(world.engine)
    with pytest.raises(InvalidInput, match=r"replay fraction must be in \[0, 1\)"):
        world.follower(replay=Decimal(fraction))
    assert snapshot(world.engine) == before


def test_following_a_missing_dataset_or_unverified_weights_is_refused(world: World) -> None:
    before = snapshot(world.engine)
    with pytest.raises(NotFound, match="unknown dataset nope"):
        world.follower(dataset="nope")
    with pytest.raises(NotFound, match="unknown dataset web@9"):
        world.follower(dataset="web@9")
    forged = world.tmp / "forged.safetensors"
    data = bytearray((world.tmp / "origin.safetensors").read_bytes())
    data[-1] ^= 0x01  # a tensor byte: the stamp still parses, the digest is unknown
    forged.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="do not verify against this registry"):
        world.follower(from_weights=str(forged))
    assert snapshot(world.engine) == before


def test_eval_dataset_overlapping_the_training_shards_is_refused(world: World, cli: Cli) -> None:
    world.add_version("2", "bisect.py", 2)
    cli.env["PROVREG_STORE"] = str(world.store)
    before = snapshot(world.engine)
    bad = cli(
        "manifest", "create", "--name", "x", "--use", "research", "--dataset", "web@1",
        "--eval-dataset", "web@1", ok=False,
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "overlaps the training shards" in bad.output and "--eval-dataset" in bad.output
    assert snapshot(world.engine) == before
    good = cli(
        "manifest", "create", "--name", "x", "--use", "research", "--dataset", "web@1",
        "--eval-dataset", "web@2", "--json",
    )  # fmt: skip
    import json

    made = json.loads(good.stdout)
    with world.read() as s:
        assert continual.eval_shards(s, made["hash"]) == sorted(made["eval_shards"])
        assert not set(made["eval_shards"]) & set(manifests.shard_ids(s, made["hash"]))
    split = json.loads(
        cli(
            "manifest", "create", "--name", "y", "--use", "research", "--dataset", "web@1",
            "--eval-fraction", "0.34", "--json",
        ).stdout
    )  # fmt: skip
    assert len(split["eval_shards"]) == 1 and split["shard_count"] == 2


def test_run_show_prints_the_loss_table(world: World, cli: Cli) -> None:
    world.add_version("2", "bisect.py", 4)
    follower = world.follower(eval_fraction=Decimal("0.25"))
    [done] = follower.run(once=True).increments
    cli.env["PROVREG_STORE"] = str(world.store)
    import json

    shown = json.loads(cli("run", "show", done.increment.run or "", "--json").stdout)
    assert shown["loss_table"] == [
        {"increment": 1, "run": done.increment.run, "losses": done.increment.eval_losses}
    ]
    human = cli("run", "show", done.increment.run or "").stdout
    assert "eval loss" in human and "increment 1" in human


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--follow", "web", "--replay", "1"], "give --replay a fraction in [0, 1)"),
        (["--follow", "nope"], "unknown dataset nope: there is nothing to follow"),
        (["--follow", "web", "--grow-width", "0.5"], "grow width must be >= 1"),
        (["--follow", "web", "--manifest", "web-v1"], "--follow makes its own manifests"),
    ],
)
def test_follow_bad_input_through_the_cli_changes_nothing(
    world: World, cli: Cli, args: list[str], message: str
) -> None:
    world.add_version("2", "bisect.py", 2)
    cli.env["PROVREG_STORE"] = str(world.store)
    before = snapshot(world.engine)
    bad = cli("train", *args, "--from-weights", world.origin, "--once", ok=False)
    assert bad.exit_code == 1 and message in bad.output, bad.output
    assert snapshot(world.engine) == before
