"""The impact report: everything a selection of records reached, from shards to payments."""

from __future__ import annotations

from pydantic import Field

from registry.entities import Entity

PRECISIONS = ("exact", "bound")


class ShardHit(Entity):
    """A shard holding matching records: how many, and their tokens (``provreg.bytes/1``)."""

    shard_id: str
    source: str
    status: str
    records: int
    tokens: int
    shard_records: int
    shard_tokens: int


class ManifestHit(Entity):
    hash: str
    name: str
    parent: str | None
    via: str = Field(
        description="'shards' (holds a matching shard), 'parent' (a descendant) or 'rebase' "
        "(a descendant made by manifest rebase after a takedown)"
    )


class RunShardUse(Entity):
    """What a run consumed of one matching shard, and of the matching records in it.

    ``matching_tokens`` is exact when the run consumed none of the shard (0) or whole passes
    over it (each pass feeds every record once); otherwise the consumption records only say
    how much of the shard, not which records, and ``matching_tokens`` is an upper bound."""

    shard_id: str
    consumed_tokens: int
    consumed_records: int
    matching_tokens: int
    precision: str


class RunHit(Entity):
    id: str
    manifest: str
    status: str
    steps_done: int
    matching_tokens: int
    precision: str = Field(description="'exact', or 'bound' when any shard's figure is a bound")
    shards: list[RunShardUse]


class WeightsHit(Entity):
    sha256: str
    path: str
    run_id: str


class DisclosureHit(Entity):
    hash: str
    subject_kind: str
    subject: str
    format: str


class LedgerHit(Entity):
    id: int
    run_id: str | None
    source: str
    contributor_id: int
    currency: str
    amount_minor: int
    kind: str


class ImpactReport(Entity):
    """``selector`` as given (``domain=example.com``); every list sorted for stable output."""

    selector: str
    records: int
    tokens: int
    shards: list[ShardHit]
    manifests: list[ManifestHit]
    runs: list[RunHit]
    weights: list[WeightsHit]
    disclosures: list[DisclosureHit]
    ledger: list[LedgerHit]
    unindexed_shards: int = Field(
        0,
        description="v2 shards stored before the record key index (URL and record-id "
        "selectors cannot see inside them; domain and author selectors can)",
    )


class TakedownShardOut(Entity):
    shard_id: str
    source: str
    records_removed: int
    tokens_removed: int
    replacement: str | None = Field(description="the shard with the other records; None if none")


class TakedownOut(Entity):
    """A takedown, applied or (``dry_run``) planned: without replacement ids when planned,
    since they exist only once the files are written."""

    id: int | None
    selector: str
    reason: str
    dry_run: bool
    records: int
    tokens: int
    shards: list[TakedownShardOut]
    datasets: list[str] = Field(description="the new dataset versions, NAME@N+1")
