"""What the manifest services take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ManifestIn(BaseModel):
    """What a manifest is made of: datasets and/or shards, minus excluded sources."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    intended_use: str = Field(max_length=40)
    datasets: list[Annotated[str, Field(max_length=251)]] = Field(
        default_factory=list, description="NAME or NAME@VERSION"
    )
    shards: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, description="shard ids or unique prefixes"
    )
    exclude_sources: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    parent: str | None = Field(default=None, max_length=64)
    waivers: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=2000)]] = (
        Field(default_factory=dict, description="source name -> reason")
    )


class ManifestSummary(BaseModel):
    """A manifest without its document (the API's list and summary shape)."""

    model_config = ConfigDict(frozen=True)

    hash: str
    name: str
    intended_use: str
    parent: str | None
    merkle_root: str
    shard_count: int
    total_bytes: int
    total_records: int
    total_tokens: int
    created_at: datetime


class ManifestOut(ManifestSummary):
    document: dict[str, Any]


class ShardLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    bytes: int
    records: int
    tokens: int
    status: str
    record_root: str | None = None
    """In a ``provreg.manifest/2`` export only (``manifest export``)."""


class VerifyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    hash: str
    ok: bool
    problems: list[str]


class ManifestDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    added: list[str]
    removed: list[str]
    totals_a: dict[str, int]
    totals_b: dict[str, int]
    licences_added: list[str]
    licences_removed: list[str]
