"""The shard store and the canonical shard format, without a database."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.errors import InvalidInput, NotFound
from registry.shards.format import ShardWriter, WrittenShard, ids_for, read_canonical
from registry.shards.store import ShardStore, hash_file
from registry.shards.token_count import count_tokens, count_tokens_array

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ShardStore]:
    if request.param == "local":
        yield ShardStore(tmp_path / "store")
        return
    s = ShardStore(f"memory://store-{tmp_path.name}")
    yield s
    if s.fs.exists(s.root):
        s.fs.rm(s.root, recursive=True)


def test_hash_file_known_answer(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert hash_file(tmp_path / "f") == (ABC_SHA256, 3)


def test_put_file_is_content_addressed_and_idempotent(store: ShardStore, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc")
    first = store.put_file(src)
    assert (first.id, first.bytes, first.added) == (ABC_SHA256, 3, True)
    assert store.path_for(ABC_SHA256).endswith(f"/sha256/ba/78/{ABC_SHA256}.parquet")
    assert store.exists(ABC_SHA256) and store.read_bytes(ABC_SHA256) == b"abc"
    assert store.hash_stored(ABC_SHA256) == (ABC_SHA256, 3)
    assert store.put_file(src).added is False
    assert list(store.ids()) == [ABC_SHA256]
    assert store.delete(ABC_SHA256) and not store.exists(ABC_SHA256)
    with pytest.raises(NotFound):
        store.open(ABC_SHA256)


def test_put_file_of_a_missing_file_leaves_nothing(store: ShardStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        store.put_file(tmp_path / "absent")
    assert list(store.ids()) == []


def test_track_removes_only_what_it_added_on_any_failure(store: ShardStore, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    kept = store.put_file(old).id
    with pytest.raises(KeyboardInterrupt), store.track():
        assert store.put_file(old).added is False
        added = store.put_file(new).id
        raise KeyboardInterrupt
    assert store.exists(kept) and not store.exists(added)


def test_nested_track_cleans_up_after_an_outer_failure(store: ShardStore, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    with pytest.raises(RuntimeError), store.track():
        with store.track():
            sid = store.put_file(f).id
        assert store.exists(sid)
        raise RuntimeError("commit failed")
    assert not store.exists(sid)


def test_bad_ids_are_refused(store: ShardStore) -> None:
    with pytest.raises(InvalidInput):
        store.path_for("../../etc/passwd")


def test_token_counts_are_utf8_bytes_plus_one() -> None:
    assert count_tokens("") == 1
    assert count_tokens("héllo") == 7
    assert count_tokens_array(pa.array(["", "héllo", "ab"])) == 1 + 7 + 3


def test_record_ids_are_sha256_of_the_utf8_text() -> None:
    texts = pa.array(["abc", "", "é"], pa.large_string()).slice(0)
    assert ids_for(texts).to_pylist() == [
        ABC_SHA256,
        hashlib.sha256(b"").hexdigest(),
        hashlib.sha256("é".encode()).hexdigest(),
    ]
    assert ids_for(pa.array(["x", "abc"]).slice(1)).to_pylist() == [ABC_SHA256]


def _write(tmp_path: Path, batches: list[list[str]], shard_bytes: int) -> list[WrittenShard]:
    out: list[WrittenShard] = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    w = ShardWriter(tmp_path, out.append, shard_bytes=shard_bytes)
    for b in batches:
        w.write(pa.array(b))
    w.close()
    return out


def test_shards_depend_on_the_records_not_on_how_they_were_batched(tmp_path: Path) -> None:
    texts = [f"document {i} " * (i % 7) for i in range(500)]
    one = _write(tmp_path / "a", [texts], shard_bytes=2000)
    many = _write(tmp_path / "b", [texts[i : i + 13] for i in range(0, 500, 13)], shard_bytes=2000)
    assert [s.id for s in one] == [s.id for s in many]
    assert len(one) > 3
    for s in one:
        assert hash_file(s.path) == (s.id, s.bytes)
    assert sum(s.records for s in one) == 500
    assert sum(s.tokens for s in one) == sum(count_tokens(t) for t in texts)


def test_a_shard_closes_at_the_record_that_reaches_the_target(tmp_path: Path) -> None:
    shards = _write(tmp_path, [["aaaa", "bb", "cccc", "d"]], shard_bytes=6)
    assert [s.records for s in shards] == [2, 2]


def test_shard_file_is_exactly_id_and_text_with_no_extra_metadata(tmp_path: Path) -> None:
    (shard,) = _write(tmp_path, [["hello", "world"]], shard_bytes=1 << 20)
    pf = pq.ParquetFile(shard.path)
    assert pf.schema_arrow.names == ["id", "text"]
    assert pf.metadata.metadata is None  # no pandas or ARROW:schema key-value metadata
    assert pf.metadata.created_by == "parquet-cpp-arrow version 26.0.1"
    assert pf.metadata.row_group(0).column(1).compression == "ZSTD"
    rows = pa.Table.from_batches(list(read_canonical(shard.path))).to_pylist()
    assert [r["text"] for r in rows] == ["hello", "world"]


def test_read_canonical_refuses_other_schemas(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"text": ["a"], "extra": [1]}), path)
    with pytest.raises(InvalidInput, match="not a canonical shard"):
        list(read_canonical(path))
    with pytest.raises(InvalidInput, match="not a Parquet file"):
        list(read_canonical(io.BytesIO(b"not parquet at all")))
