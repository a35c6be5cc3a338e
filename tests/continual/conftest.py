"""A registry with a followed dataset that grows by versions, and trained origin weights."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy import Engine

from registry import continual, manifests, runs
from registry.db.models import Source
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer.client import LocalRegistry
from trainer.continual import Follower, FollowSpec
from trainer.run import TrainSpec, train_with_registry

torch.set_num_threads(1)
STDLIB = Path(os.path.dirname(os.__file__))
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}
B, ROW = 4, 33  # sequences per step, block_size + 1


def corpus(module: str, n_shards: int, per_shard: int = 6) -> list[list[str]]:
    """A stdlib module's source cut into ~100-byte records: each module is its own 'domain'."""
    text = (STDLIB / module).read_text("utf-8")
    records = [text[i : i + 100] for i in range(0, len(text), 100)]
    return [records[i * per_shard : (i + 1) * per_shard] for i in range(n_shards)]


@dataclass
class World:
    client: LocalRegistry
    engine: Engine
    store: Path
    tmp: Path
    source: Source
    session_factory: Any
    origin: str  # the origin weights file
    origin_run: str
    v1: list[str]

    def add_version(self, version: str, module: str, n: int) -> list[str]:
        """Register n new shards as ``web@version`` (what a new dataset version does)."""
        with self.session_factory() as s:
            src = s.get(Source, self.source.id)
            return shard_files.register(
                s, src, "web", self.store, corpus(module, n), version=version
            )

    def spec(self, **kw: Any) -> FollowSpec:
        base: dict[str, Any] = {
            "dataset": "web",
            "from_weights": self.origin,
            "steps": 6,
            "batch_size": B,
            "checkpoint_every": 3,
            "lr": 1e-2,
            "warmup": 1,
            "out_dir": str(self.tmp / "continual"),
        }
        return FollowSpec(**(base | kw))

    def follower(self, **kw: Any) -> Follower:
        return Follower(self.client, self.spec(**kw), threads=1)

    def read(self) -> Any:
        return self.client._read()

    def consumption(self, run_id: str) -> dict[str, int]:
        with self.read() as s:
            return {c.shard_id: c.tokens for c in runs.consumption(s, run_id)}

    def lineage(self, run_id: str) -> Any:
        with self.read() as s:
            return continual.lineage(s, run_id)


@pytest.fixture
def world(session_factory, engine: Engine, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        v1 = shard_files.register(s, src, "web", store, corpus("textwrap.py", 3), version="1")
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="web-v1", intended_use="research", datasets=["web@1"])
        )
        s.expunge(src)
    client = LocalRegistry(engine, store=str(store), actor="test")
    out = tmp_path / "origin.safetensors"
    result = train_with_registry(
        client,
        TrainSpec(
            manifest=m.hash,
            overrides=MODEL,
            steps=4,
            batch_size=B,
            checkpoint_every=2,
            out=str(out),
            lr=1e-2,
            warmup=1,
        ),
        threads=1,
    )
    return World(client, engine, store, tmp_path, src, session_factory, str(out), result.run_id, v1)
