"""The verified shard reader, over real Parquet files."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.trainer.conftest import FileSource
from trainer.errors import (
    ShardFormatError,
    ShardIntegrityError,
    ShardMissingError,
    ShardRevokedError,
    ShardUnknownError,
    TrainerError,
)
from trainer.reader import ShardRef, read_verified, verified_loader
from trainer.tokenizer import count_tokens

TEXTS = ["first record", "", "ünïcödé 数据", "last"]


def test_reads_texts_in_file_order(source: FileSource) -> None:
    shard_id = source.add(TEXTS)
    shard = read_verified(source, shard_id)
    assert shard.shard_id == shard_id and list(shard.texts) == TEXTS
    assert list(verified_loader(source)(shard_id)) == TEXTS
    assert (len(shard.texts), shard.texts[-1], shard.texts[1:3]) == (4, "last", TEXTS[1:3])
    with pytest.raises(IndexError, match="record 4 of a 4-record shard"):
        shard.texts[4]
    assert source.opened == [shard_id, shard_id]  # bytes fetched once per read


def test_revoked_shard_is_refused_before_reading(source: FileSource) -> None:
    shard_id = source.add(TEXTS, status="revoked")
    with pytest.raises(ShardRevokedError, match=f"{shard_id} is revoked"):
        read_verified(source, shard_id)
    assert source.opened == []


def test_unknown_and_malformed_ids(source: FileSource) -> None:
    with pytest.raises(ShardUnknownError):
        read_verified(source, "0" * 64)
    with pytest.raises(ValueError, match="lowercase hex"):
        read_verified(source, "ABC")


def test_missing_file(source: FileSource) -> None:
    shard_id = source.add(TEXTS)
    (source.root / shard_id).unlink()
    with pytest.raises(ShardMissingError, match=shard_id):
        read_verified(source, shard_id)


def test_tampered_bytes_fail_verification(source: FileSource) -> None:
    shard_id = source.add(TEXTS)
    path = source.root / shard_id
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ShardIntegrityError) as info:
        read_verified(source, shard_id)
    assert f"expected sha256 {shard_id}" in str(info.value)
    assert f"got {actual}" in str(info.value)
    assert isinstance(info.value, TrainerError)


def register_raw(source: FileSource, data: bytes, records: int = 0, tokens: int = 0) -> str:
    shard_id = hashlib.sha256(data).hexdigest()
    (source.root / shard_id).write_bytes(data)
    source.refs[shard_id] = ShardRef(shard_id, "active", records, tokens)
    return shard_id


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"id": ["x"], "text": ["a"], "extra": [1]}), "schema"),
        (pa.table({"text": ["a"], "id": ["x"]}), "schema"),
        (pa.table({"id": ["x"], "text": pa.array([b"a"], pa.binary())}), "schema"),
        (pa.table({"id": ["x"], "text": pa.array([None], pa.string())}), "null"),
    ],
)
def test_non_canonical_schema(source: FileSource, table: pa.Table, message: str) -> None:
    shard_id = register_raw(source, parquet_bytes(table), 1, 2)
    with pytest.raises(ShardFormatError, match=message):
        read_verified(source, shard_id)


def test_not_parquet_and_count_mismatch(source: FileSource) -> None:
    with pytest.raises(ShardFormatError, match="not a readable Parquet"):
        read_verified(source, register_raw(source, b"hello, not parquet"))
    table = pa.table({"id": ["x", "y"], "text": ["ab", "é"]})
    good = sum(count_tokens(t) for t in ["ab", "é"])
    assert read_verified(source, register_raw(source, parquet_bytes(table), 2, good)).texts
    source.refs.clear()
    with pytest.raises(ShardFormatError, match="registry recorded 2 records / 7 tokens"):
        read_verified(source, register_raw(source, parquet_bytes(table), 2, 7))
