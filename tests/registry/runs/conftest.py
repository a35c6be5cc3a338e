"""A registry with one manifest over three shards (rows only: the runs service reads no file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from registry import manifests, runs
from registry.entities.runs import RunOut
from tests.registry import factories as f

# What a run's config must declare (registry.runs.lifecycle.StreamShape): each step is one batch
# of 1 row of 6 + 1 tokens, so a run has consumed exactly 7 tokens per step.
SHAPE: dict[str, Any] = {"train": {"steps": 100, "batch_size": 1}, "model": {"block_size": 6}}
TOKENS_PER_STEP = 7


def config(**train: Any) -> dict[str, Any]:
    """``SHAPE`` with more ``train`` settings."""
    return {"train": SHAPE["train"] | train, "model": SHAPE["model"]}


@dataclass
class Reg:
    tx: Callable[..., Any]  # one committed transaction, as a command or a request opens it
    manifest: str
    ids: list[str]

    def open(self, **kw: Any) -> RunOut:
        args: dict[str, Any] = {
            "manifest_ref": self.manifest,
            "config": SHAPE,
            "seed": 0,
            "tokenizer": "t",
            "code_version": "c",
        }
        with self.tx() as s:
            return runs.open_run(s, **(args | kw))

    def consumption(self, run_id: str) -> dict[str, tuple[int, int]]:
        with self.tx() as s:
            return {c.shard_id: (c.tokens, c.records) for c in runs.consumption(s, run_id)}


@pytest.fixture
def reg(session_factory: Callable[..., Any]) -> Reg:
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        ids = f.shards(s, src, "code", 3)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
    return Reg(session_factory, m.hash, ids)
