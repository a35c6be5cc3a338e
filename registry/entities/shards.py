"""The shapes of the shard package: what its services take (``ShardIn``) and return (frozen,
built inside ``registry/``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from manifests.digests import HEX64
from registry import limits
from registry.entities import Entity
from registry.shards.format import FORMAT


class ShardIn(BaseModel):
    """One shard to register: its id (the SHA-256 of its bytes) and what it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=HEX64, description="SHA-256 of the bytes, lowercase hex")
    source: str = Field(min_length=1, max_length=200, description="a registered source")
    dataset: str | None = Field(
        default=None, min_length=1, max_length=251, description="NAME[@VERSION] to link it to"
    )
    bytes: int = Field(ge=0, le=limits.MAX_SHARD_COUNT, strict=True)
    records: int = Field(ge=0, le=limits.MAX_SHARD_COUNT, strict=True)
    tokens: int = Field(ge=0, le=limits.MAX_SHARD_COUNT, strict=True)
    format: str = Field(default=FORMAT, min_length=1, max_length=40)


class RegisterReport(Entity):
    """What a registration did: new rows, shards already registered alike, dataset links."""

    registered: int
    already_registered: int
    linked: int
    datasets_created: tuple[str, ...]


class UploadOut(Entity):
    id: str
    bytes: int
    added: bool  # False when the store already held these bytes


class ManifestShardOut(Entity):
    """A manifest's shard as the registry stands now; ``status`` folds in its source's status."""

    shard_id: str
    status: str
    records: int
    tokens: int
    source: str
    reason: str | None = None  # why it is not active


class ShardOut(Entity):
    id: str
    source: str
    bytes: int
    records: int
    tokens: int
    format: str
    store_uri: str
    status: str
    revoked_reason: str | None
    revoked_at: datetime | None
    created_at: datetime


class DatasetOut(Entity):
    id: int
    name: str
    version: str
    description: str | None
    created_at: datetime
    shards: int
    bytes: int
    records: int
    tokens: int
    revoked_shards: int


class DatasetDetail(Entity):
    dataset: DatasetOut
    shards: tuple[ShardOut, ...]


class IngestReport(Entity):
    """What an ingest did; ``nothing_new`` is the idempotent re-ingest."""

    dataset: str
    version: str
    dataset_created: bool
    source: str
    shard_ids: tuple[str, ...]
    shards_registered: int  # new shard rows
    shards_linked: int  # shards newly added to the dataset (new or registered before)
    shards_already_in_dataset: int
    records: int
    tokens: int
    bytes_written: int
    input_bytes: int
    seconds: float
    signals: dict[str, Any] | None = None
    """What opt-out signals did (``registry.signals.admission.AdmissionReport``), when records
    carry URLs: kept, excluded by origin and signal, unknown and the policy for them."""

    @property
    def nothing_new(self) -> bool:
        return self.shards_linked == 0 and not self.dataset_created


class VerifyProblem(Entity):
    shard_id: str
    problem: str  # "missing" | "differs"
    detail: str


class TempFileOut(Entity):
    """A file or directory in the store's ``tmp``: ``stale`` when no live process holds it
    (what a killed ingest or upload left), else in use."""

    path: str
    bytes: int
    stale: bool


class VerifyReport(Entity):
    checked: int
    bytes: int
    problems: tuple[VerifyProblem, ...]
    orphans: tuple[str, ...]  # files in the store no shard row names
    orphans_removed: bool
    orphans_in_use: tuple[str, ...] = ()  # orphans a running transaction is placing: kept
    temp_files: tuple[TempFileOut, ...] = ()
    temp_removed: int = 0  # stale temporary entries removed (gc)

    @property
    def ok(self) -> bool:
        return not self.problems


class LengthBucket(Entity):
    low: int  # bytes, inclusive
    high: int | None  # exclusive; None = no upper bound
    records: int


class DatasetStats(Entity):
    dataset: str
    version: str
    shards: int
    records: int
    tokens: int
    text_bytes: int
    empty_records: int
    distinct_records: int
    duplicate_records: int  # records whose id appeared earlier (within or across shards)
    duplicates_within_shards: int
    duplicates_across_shards: int  # duplicates whose every copy is in another shard
    length_min: int | None
    length_mean: float | None
    length_quantiles: dict[str, int]  # p10, p50, p90, p99 of UTF-8 byte length
    length_max: int | None
    length_histogram: tuple[LengthBucket, ...]
