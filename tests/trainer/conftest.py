"""Real canonical shards on disk and a file-backed ShardSource over them."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from trainer.errors import ShardUnknownError
from trainer.reader import ShardRef
from trainer.tokenizer import count_tokens

torch.set_num_threads(2)


def write_shard(directory: Path, texts: Sequence[str]) -> str:
    """Write a canonical shard (as ingest does) and return its id; file name = id."""
    ids = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    tmp = directory / "tmp.parquet"
    pq.write_table(table, tmp)
    shard_id = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.rename(directory / shard_id)
    return shard_id


@dataclass
class FileSource:
    """A ShardSource over files named by shard id in `root`."""

    root: Path
    refs: dict[str, ShardRef] = field(default_factory=dict)
    opened: list[str] = field(default_factory=list)

    def add(self, texts: Sequence[str], status: str = "active") -> str:
        shard_id = write_shard(self.root, texts)
        tokens = sum(count_tokens(t) for t in texts)
        self.refs[shard_id] = ShardRef(shard_id, status, len(texts), tokens)
        return shard_id

    def set_status(self, shard_id: str, status: str) -> None:
        self.refs[shard_id] = replace(self.refs[shard_id], status=status)

    def resolve(self, shard_id: str) -> ShardRef:
        try:
            return self.refs[shard_id]
        except KeyError as exc:
            raise ShardUnknownError(f"shard {shard_id} is not registered") from exc

    def open_bytes(self, shard_id: str) -> bytes:
        self.opened.append(shard_id)
        return (self.root / shard_id).read_bytes()


def corpus(n_shards: int, per_shard: int, seed: int = 0) -> list[list[str]]:
    """Deterministic small documents of varied length, with some non-ASCII text."""
    words = ["the", "data", "shard", "model", "token", "ledger", "café", "naïve", "数据", ""]
    rng = random.Random(seed)
    return [
        [" ".join(rng.choice(words) for _ in range(rng.randrange(0, 30))) for _ in range(per_shard)]
        for _ in range(n_shards)
    ]


@pytest.fixture
def source(tmp_path: Path) -> FileSource:
    return FileSource(tmp_path)
