"""What the ingest, shard and dataset services return (frozen, built inside ``registry/``)."""

from __future__ import annotations

from datetime import datetime

from registry.entities import Entity


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

    @property
    def nothing_new(self) -> bool:
        return self.shards_linked == 0 and not self.dataset_created


class VerifyProblem(Entity):
    shard_id: str
    problem: str  # "missing" | "differs"
    detail: str


class VerifyReport(Entity):
    checked: int
    bytes: int
    problems: tuple[VerifyProblem, ...]
    orphans: tuple[str, ...]  # files in the store no shard row names
    orphans_removed: bool

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
