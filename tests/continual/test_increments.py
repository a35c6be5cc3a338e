"""Increments: child manifests with delta and replay, one run each, exact chains."""

from __future__ import annotations

from decimal import Decimal

import pytest

from registry import continual, manifests, runs
from registry.runs import read_stamp
from tests.continual.conftest import ROW, B, World


@pytest.mark.slow
def test_three_increments_with_replay_chain_exactly(world: World) -> None:
    v2 = world.add_version("2", "bisect.py", 2)
    follower = world.follower(replay=Decimal("0.25"))
    first = follower.run(once=True)
    assert [i.increment.number for i in first.increments] == [1]
    v3 = world.add_version("3", "heapq.py", 3)
    v4 = world.add_version("4", "copy.py", 2)
    second = world.follower(replay=Decimal("0.25")).run(once=True)
    # v3 and v4 arrived together: one increment holds both
    assert [i.increment.number for i in second.increments] == [2]
    assert second.follower.id == first.follower.id  # the registry knew where it was
    v5 = world.add_version("5", "string.py", 2)
    third = world.follower(replay=Decimal("0.25")).run(once=True)
    incs = world.follower(replay=Decimal("0.25")).increments()
    assert [i.number for i in incs] == [1, 2, 3] and len(third.increments) == 1

    with world.read() as s:
        origin_manifest = runs.get_run(s, world.origin_run).manifest
        shard_tokens = {x.id: x.tokens for x in manifests.shard_lines(s, origin_manifest)}
        for inc in incs:
            shard_tokens |= {x.id: x.tokens for x in manifests.shard_lines(s, inc.manifest)}
    # deltas: exactly the new versions' shards
    assert [set(i.delta_shards) for i in incs] == [set(v2), set(v3) | set(v4), set(v5)]
    seen = set(world.v1)
    parents = [origin_manifest]
    for inc in incs:
        # replay: only ancestors' shards, sized to >= 25% of the increment's tokens, and
        # short of the target without its last shard (whole shards)
        assert set(inc.replay_shards) <= seen
        delta = sum(shard_tokens[s] for s in inc.delta_shards)
        replayed = sum(shard_tokens[s] for s in inc.replay_shards)
        assert (inc.delta_tokens, inc.replay_tokens) == (delta, replayed)
        target = continual.replay_target(delta, Decimal("0.25"))
        assert target == -(-delta // 3)  # 0.25 / 0.75 = 1/3 of the delta, rounded up
        assert replayed >= target or set(inc.replay_shards) == seen
        assert inc.parent_manifest == parents[-1]
        parents.append(inc.manifest)
        seen |= set(inc.delta_shards)
    # runs: parent_run is the previous increment's; consumption only of the manifest's shards
    previous = world.origin_run
    for inc in incs:
        assert inc.run is not None
        run = world.client.get_run(inc.run)
        assert (run.parent_run, run.status, run.steps_done) == (previous, "completed", 6)
        used = world.consumption(inc.run)
        assert sum(used.values()) == run.tokens == 6 * B * ROW
        assert set(used) <= set(inc.delta_shards) | set(inc.replay_shards)
        stamp = read_stamp(run.weights[-1].path)
        assert list(stamp.manifest_chain) == parents[: inc.number + 1]
        previous = inc.run
    # the union over the chain, and the consumed total (replays counted again)
    tree = world.lineage(previous)
    assert set(tree.effective_shards) == seen
    assert tree.effective_tokens == sum(shard_tokens[s] for s in seen)
    assert tree.consumed_tokens == 4 * B * ROW + 3 * 6 * B * ROW
    assert [n.run for n in tree.nodes] == [world.origin_run, *(i.run for i in incs)]
    assert tree.manifest_chain == parents
