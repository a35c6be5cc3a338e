"""Impact over a hand-built graph: exactly the shards, manifests (with the descendant), runs
(with what each consumed of the matching records), weights, disclosures and ledger entries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from registry.db.models import LedgerEntry, ShardRecordKey
from registry.errors import InvalidInput, NotFound
from registry.impact.report import impact
from tests.conftest import snapshot
from tests.registry.impact.world import World, build, record_id, text

Tx = Callable[..., Any]


@pytest.fixture
def world(session_factory: Tx, tmp_path: Path) -> World:
    return build(session_factory, tmp_path)


def test_author_impact_lists_exactly_what_it_reached(session_factory: Tx, world: World) -> None:
    with session_factory() as s:
        rep = impact(s, "author", "web:bob")  # r1, r2, r3: shard 0 (1), shard 1 (2)
        paid = sorted(s.scalars(select(LedgerEntry.id).where(LedgerEntry.run_id == "r1")))
    assert (rep.records, rep.tokens) == (3, 303)
    assert [(h.shard_id, h.records, h.tokens) for h in rep.shards] == sorted(
        [(world.shards[0], 1, 101), (world.shards[1], 2, 202)]
    )
    assert [(m.name, m.via) for m in rep.manifests] == [("child", "parent"), ("m1", "shards")]
    runs = {r.id: r for r in rep.runs}
    assert sorted(runs) == ["r1", "r2", "r3"]
    # r1: one full pass over both shards: exact
    assert (runs["r1"].matching_tokens, runs["r1"].precision) == (303, "exact")
    # r2 stopped inside shard 0 (1 of its 2 records): at most bob's 101 there; none of shard 1
    r2 = {u.shard_id: u for u in runs["r2"].shards}
    assert (r2[world.shards[0]].matching_tokens, r2[world.shards[0]].precision) == (101, "bound")
    assert (r2[world.shards[1]].matching_tokens, r2[world.shards[1]].precision) == (0, "exact")
    # r3 trained on the child, which holds none of the matching shards: reached by lineage, 0
    assert (runs["r3"].matching_tokens, runs["r3"].shards) == (0, [])
    assert [(w.sha256[0], w.run_id) for w in rep.weights] == [("a", "r1"), ("b", "r3")]
    assert [d.hash[0] for d in rep.disclosures] == ["1", "2", "3"]  # not m2's
    assert [e.id for e in rep.ledger] == paid and paid


def test_domain_url_record_source_and_shard_selectors(session_factory: Tx, world: World) -> None:
    with session_factory() as s:
        gamma = impact(s, "domain", "gamma.org")
        url = impact(s, "url", "https://alpha.org/2")
        rec = impact(s, "record", record_id(text(4)))
        src = impact(s, "source", "other")
        one = impact(s, "shard", world.shards[1][:12])
        keys = s.scalar(select(func.count()).select_from(ShardRecordKey))
    assert [(h.shard_id, h.records) for h in gamma.shards] == [(world.shards[2], 1)]
    assert [(h.shard_id, h.records, h.tokens) for h in url.shards] == [(world.shards[1], 1, 101)]
    assert [(h.shard_id, h.records) for h in rec.shards] == [(world.shards[2], 1)]
    assert [m.name for m in src.manifests] == ["child", "m2"]
    assert [r.id for r in src.runs] == ["r3"] and src.runs[0].matching_tokens == 101
    assert [(h.shard_id, h.records) for h in one.shards] == [(world.shards[1], 2)]
    assert keys == 7 * 2  # every record: its id and its URL
    # gamma is only in shard 2: r2 consumed none of it
    assert {r.id: r.matching_tokens for r in gamma.runs} == {"r1": 101, "r2": 0, "r3": 0}


@pytest.mark.parametrize(
    ("kind", "value", "error", "text"),
    [
        ("domain", "nowhere.org", NotFound, "nothing matched domain=nowhere.org"),
        ("url", "https://alpha.org/404", NotFound, "nothing matched"),
        ("author", "web:nobody", NotFound, "nothing matched"),
        ("author", "nocolon", InvalidInput, "SOURCE:KEY"),
        ("author", "ghost:bob", NotFound, "ghost"),
        ("record", "xyz", InvalidInput, "64 hex"),
        ("url", "ftp://x", InvalidInput, "http"),
        ("domain", "sub.alpha.org", InvalidInput, "'alpha.org'"),
        ("shard", "deadbeefdeadbeef", NotFound, ""),
        ("source", "ghost", NotFound, "ghost"),
        ("colour", "red", InvalidInput, "unknown selector"),
    ],
)
def test_bad_selectors_are_clear_and_change_nothing(
    session_factory: Tx, engine: Engine, world: World, kind: str, value: str, error: type, text: str
) -> None:
    before = snapshot(engine)
    with session_factory() as s, pytest.raises(error, match=text):
        impact(s, kind, value)
    assert snapshot(engine) == before


def test_url_impact_counts_v2_shards_that_predate_the_key_index(
    session_factory: Tx, world: World
) -> None:
    from sqlalchemy import delete, update

    from registry.db.models import Shard

    with session_factory() as s:
        flags = {sid: v for sid, v in s.execute(select(Shard.id, Shard.keys_indexed))}
        assert flags == {sid: True for sid in [*world.shards, world.other]}  # ingest set them
        assert impact(s, "url", "https://alpha.org/2").unindexed_shards == 0
    with session_factory() as s:  # shard 2 as a shard stored before the index existed
        s.execute(delete(ShardRecordKey).where(ShardRecordKey.shard_id == world.shards[2]))
        s.execute(update(Shard).where(Shard.id == world.shards[2]).values(keys_indexed=False))
    with session_factory() as s:
        rep = impact(s, "url", "https://alpha.org/2")
    assert [h.shard_id for h in rep.shards] == [world.shards[1]]
    assert rep.unindexed_shards == 1
