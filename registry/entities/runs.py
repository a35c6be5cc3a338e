"""What the runs service hands out (and the progress report it takes): frozen pydantic models.

``RunOut`` names its manifest and parent ``manifest`` and ``parent_run`` (the API's words), and
``WeightsOut`` its run ``run``; ``registry.runs`` builds them from the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from manifests.digests import HEX64
from registry import limits
from registry.entities import Entity
from registry.entities.manifests import ManifestOut


class ConsumptionOut(Entity):
    """What a run fed the optimizer from one shard, as of its last checkpoint."""

    shard_id: str
    tokens: int
    records: int


class WeightsOut(Entity):
    """A weights file a run stamped, by the SHA-256 of its bytes."""

    sha256: str
    run: str
    manifest: str
    path: str
    bytes: int
    created_at: datetime


class RunOut(Entity):
    """A run as people read it: ``status`` is ``interrupted`` for a running run gone silent."""

    id: str
    manifest: str
    parent_run: str | None
    status: str
    recorded_status: str
    config: dict[str, Any]
    seed: int
    tokenizer: str
    code_version: str
    steps_done: int
    cursor: dict[str, Any] | None
    checkpoint_path: str | None
    loss_summary: dict[str, Any] | None
    error: str | None
    started_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    tokens: int
    records: int
    shards: int
    weights: list[WeightsOut]


Count = Annotated[int, Field(ge=0, le=limits.MAX_SAFE_INT, strict=True)]
"""A whole number a report may carry: exact in JSON (RFC 8785), and in a 64-bit column."""


class Progress(BaseModel):
    """What a checkpoint records: the consumption since the previous one, and where it stands.

    An input (the trainer sends it), so unknown fields are refused rather than dropped, and
    every count is bounded here; ``registry.runs.record_progress`` checks the figures against
    what the run's steps can have consumed (``docs/api.md``, "What a run may report").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps_done: Count
    cursor: dict[str, Any]
    consumption_delta: dict[
        Annotated[str, Field(pattern=HEX64)], tuple[Count, Count]
    ]  # shard id -> (tokens, records)
    checkpoint_path: str | None = Field(default=None, max_length=limits.PATH)
    loss_summary: dict[str, Any] | None = None


class WeightsReport(Entity):
    """What a weights file says about itself, and whether the registry agrees."""

    path: str
    sha256: str
    ok: bool
    problems: list[str]
    offline: bool
    stamp: dict[str, Any] | None
    run: RunOut | None = None
    manifest: ManifestOut | None = None
