"""What the continual-training services hand out: followers, increments and the lineage tree."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from registry.entities import Entity


class FollowerOut(Entity):
    """A ``train --follow``: the dataset it follows and from which weights it started."""

    id: str
    dataset: str  # NAME or NAME@VERSION
    origin_run: str
    origin_weights: str
    replay: Decimal
    eval_fraction: Decimal
    seed: int
    settings: dict[str, Any]
    created_at: datetime


class IncrementOut(Entity):
    """One increment: its manifest's delta (new) and replay (ancestors') shards, its run, and
    what was measured after it (drift vs its ancestors, eval losses, growth)."""

    follower: str
    number: int
    manifest: str
    parent_manifest: str | None
    run: str | None
    status: str  # frozen (manifest made, not trained yet) or trained
    delta_shards: list[str]
    replay_shards: list[str]
    eval_shards: list[str]
    delta_tokens: int
    replay_tokens: int
    drift: dict[str, Any] | None
    growth: dict[str, Any] | None
    eval_losses: dict[str, float] | None


class LineageNode(Entity):
    """One run of a chain, oldest first, with its increment when a follower made it."""

    run: str
    parent_run: str | None
    manifest: str
    manifest_name: str
    status: str
    steps: int
    tokens: int
    weights: list[str]  # paths of the stamped files
    weights_sha256: list[str]
    growth: dict[str, Any] | None
    increment: IncrementOut | None


class LineageOut(Entity):
    """The tree of a checkpoint's training: runs, increments, and the effective training set
    (the union of every manifest's shards over the chain)."""

    run: str
    manifest_chain: list[str]
    nodes: list[LineageNode]
    effective_shards: list[str]
    effective_tokens: int  # the registered tokens of the union's shards
    consumed_tokens: int  # what the chain's runs fed the optimizer (replays counted again)
    eval_sets: list[str]  # the columns of the loss table, by increment manifest
    loss_table: list[dict[str, Any]]  # rows: {"increment": n, "run": id, "losses": {set: loss}}
