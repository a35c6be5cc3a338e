"""Datasets, verification, revocation and id prefixes, through services and the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from registry import audit
from registry.catalogue.revocation import revoke_source
from registry.db import lookup
from registry.db.models import AuditEntry, Shard, Source
from registry.errors import Conflict, InvalidInput, NotFound
from registry.shards import datasets
from registry.shards import lookup as shards
from registry.shards.ingest import ingest_paths
from registry.shards.store import ShardStore
from tests.conftest import Cli, snapshot
from tests.registry.shards.test_ingest import add_source


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), "utf-8")
    return path


def _source_cmd(cli: Cli, name: str = "src") -> None:
    cli("source", "add", name, "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")


@pytest.mark.parametrize("store_kind", ["local", "memory"])
def test_stats_read_the_shard_files(
    session_factory: Callable[..., Any], tmp_path: Path, store_kind: str
) -> None:
    add_source(session_factory)
    store = ShardStore(
        tmp_path / "s" if store_kind == "local" else f"memory://stats-{tmp_path.name}"
    )
    a = _jsonl(tmp_path / "a.jsonl", ["same", "same", "", "only a", "é" * 100])
    b = _jsonl(tmp_path / "b.jsonl", ["same", "only b", "only a"])
    with store.track(), session_factory() as s:
        ingest_paths(s, store, [a], source="src", dataset="d@1")
        ingest_paths(s, store, [b], source="src", dataset="d@1")
    with session_factory() as s:
        st = datasets.dataset_stats(s, store, "d")
    assert (st.shards, st.records, st.empty_records, st.distinct_records) == (2, 8, 1, 5)
    # "same": 3 copies (1 within a, 1 across); "only a": 1 across
    assert (st.duplicate_records, st.duplicates_within_shards, st.duplicates_across_shards) == (
        3,
        1,
        2,
    )
    assert st.text_bytes == 4 * 3 + 6 + 200 + 6 + 6
    assert st.tokens == st.text_bytes + 8
    assert (st.length_min, st.length_max) == (0, 200)
    assert sum(b.records for b in st.length_histogram) == 8
    assert st.length_histogram[0].records == 1  # the empty record
    with session_factory() as s:
        listed = datasets.list_datasets(s)
        shown = datasets.show_dataset(s, "d@1")
    assert [(x.name, x.version, x.shards, x.records) for x in listed] == [("d", "1", 2, 8)]
    assert shown.dataset.tokens == st.tokens and len(shown.shards) == 2


def test_dataset_commands(cli: Cli, tmp_path: Path) -> None:
    _source_cmd(cli)
    cli(
        "ingest",
        str(_jsonl(tmp_path / "a.jsonl", ["x", "y", "x"])),
        "--source",
        "src",
        "--dataset",
        "d@3",
    )
    listed = json.loads(cli("dataset", "list", "--json").output)
    assert [(d["name"], d["version"], d["records"]) for d in listed] == [("d", "3", 3)]
    shown = json.loads(cli("dataset", "show", "d@3", "--json").output)
    assert shown["dataset"]["tokens"] == 6 and len(shown["shards"]) == 1
    stats = json.loads(cli("dataset", "stats", "d@3", "--json").output)
    assert stats["duplicates_within_shards"] == 1
    assert "exact duplicates" in cli("dataset", "stats", "d@3").output
    missing = cli("dataset", "show", "d@4", ok=False)
    assert missing.exit_code == 1 and "unknown dataset d@4" in missing.output
    assert "unknown dataset" in cli("shard", "verify", "--dataset", "nope", ok=False).output


def test_verify_reports_changed_and_missing_shards(cli: Cli, tmp_path: Path) -> None:
    _source_cmd(cli)
    out = json.loads(
        cli("ingest", str(_jsonl(tmp_path / "a.jsonl", [f"r{i}" for i in range(300)])),
            "--source", "src", "--dataset", "d", "--shard-size", "500", "--json").output
    )  # fmt: skip
    first, second = out["shard_ids"][:2]
    assert "ok" in cli("shard", "verify", "--dataset", "d").output
    store = ShardStore(tmp_path / "store")
    path = Path(store.path_for(first))
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    Path(store.path_for(second)).unlink()
    result = cli("shard", "verify", "--all", ok=False)
    assert result.exit_code == 1
    assert f"DIFFERS: shard {first}" in result.output
    assert f"MISSING: shard {second}" in result.output
    assert "2 problem(s)" in result.output
    assert cli("shard", "verify", "--dataset", "d", ok=False).exit_code == 1


def test_revoke_shard_by_prefix_and_source_with_all_its_shards(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    _source_cmd(cli)
    out = json.loads(
        cli("ingest", str(_jsonl(tmp_path / "a.jsonl", [f"r{i}" for i in range(300)])),
            "--source", "src", "--dataset", "d", "--shard-size", "500", "--json").output
    )  # fmt: skip
    ids = out["shard_ids"]
    got = json.loads(cli("shard", "revoke", ids[0][:8], "--reason", "takedown 42", "--json").output)
    assert (got["id"], got["status"], got["revoked_reason"]) == (ids[0], "revoked", "takedown 42")
    assert got["revoked_at"]
    before = snapshot(engine)
    again = cli("shard", "revoke", ids[0], "--reason", "again", ok=False)
    assert "already revoked" in again.output and snapshot(engine) == before
    assert (
        "a revocation needs a reason"
        in cli("shard", "revoke", ids[1], "--reason", " ", ok=False).output
    )
    assert "too short" in cli("shard", "revoke", ids[1][:7], "--reason", "r", ok=False).output
    assert snapshot(engine) == before
    res = cli("source", "revoke", "src", "--reason", "contributor opted out")
    assert f"revoked with {len(ids) - 1} shard(s)" in res.output
    shown = json.loads(cli("dataset", "show", "d", "--json").output)
    assert {s["status"] for s in shown["shards"]} == {"revoked"}
    assert {s["revoked_reason"] for s in shown["shards"]} == {
        "takedown 42",
        "contributor opted out",
    }
    assert shown["dataset"]["revoked_shards"] == len(ids)
    assert len(list(ShardStore(tmp_path / "store").ids())) == len(ids)  # nothing deleted
    src = json.loads(cli("source", "show", "src", "--json").output)
    assert (src["status"], src["revoked_reason"]) == ("revoked", "contributor opted out")
    with engine.connect() as conn:
        actions = conn.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["shard.revoke", "source.revoke"]
    assert "audit log intact" in cli("audit", "verify").output


def test_revoke_source_twice_is_a_conflict(session_factory: Callable[..., Any]) -> None:
    add_source(session_factory)
    with session_factory() as s:
        src, n = revoke_source(s, "src", "gone")
    assert (src.status, n) == ("revoked", 0)
    with pytest.raises(Conflict), session_factory() as s:
        revoke_source(s, "src", "again")
    with pytest.raises(NotFound), session_factory() as s:
        revoke_source(s, "ghost", "x")


def test_resolve_prefix(session_factory: Callable[..., Any]) -> None:
    add_source(session_factory)
    a = "abcdef01" + "0" * 56
    b = "abcdef01" + "1" * 56
    c = "abcdef02" + "2" * 56
    with session_factory() as s:
        sid = s.scalars(select(Source.id)).one()
        rows = [{"id": i, "source_id": sid, "bytes": 1, "records": 1, "tokens": 2,
                 "format": "provreg-shard-v1", "store_uri": "x", "status": "active"} for i in (a, b, c)]  # fmt: skip
        s.execute(insert(Shard), rows)
        audit.record(s, "test.seed", "shard", "3", {})
    with session_factory() as s:
        assert lookup.resolve_prefix(s, Shard.id, "ABCDEF02") == c
        assert lookup.resolve_prefix(s, Shard.id, a) == a
        assert shards.resolve_shard_id(s, "abcdef010") == a
        assert shards.get_shard(s, "abcdef011").id == b
        with pytest.raises(InvalidInput, match=r"ambiguous: 2 shards match"):
            lookup.resolve_prefix(s, Shard.id, "abcdef01")
        with pytest.raises(InvalidInput, match="too short"):
            lookup.resolve_prefix(s, Shard.id, "abcdef0")
        with pytest.raises(InvalidInput, match="not a shard id"):
            lookup.resolve_prefix(s, Shard.id, "xyz12345")
        with pytest.raises(NotFound, match="no manifest id starts with"):
            lookup.resolve_prefix(s, Shard.id, "ffffffff", what="manifest")


def test_parse_ref() -> None:
    assert datasets.parse_ref("web") == ("web", "1")
    assert datasets.parse_ref("web@2024.1") == ("web", "2024.1")
    for bad in ("", "@1", "web@", "a b", "web@x y"):
        with pytest.raises(InvalidInput):
            datasets.parse_ref(bad)
