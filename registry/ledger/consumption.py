"""What runs consumed, as the ledger prices it: tokens per source, and who pays a flat fee."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import Consumption, Shard, TrainingRun


def tokens_by_source(session: Session, *where: Any) -> dict[int, int]:
    """Tokens consumed per source: one GROUP BY in the database, not a million rows in Python.

    ``where`` selects the consumption rows (``Consumption.run_id == run_id``, ...).
    """
    query = (
        select(Shard.source_id, func.sum(Consumption.tokens))
        .select_from(Consumption)
        .join(Shard, Shard.id == Consumption.shard_id)
        .where(*where)
        .group_by(Shard.source_id)
    )
    return {sid: int(total or 0) for sid, total in session.execute(query)}


@dataclass(frozen=True, slots=True)
class SourceUse:
    """A run's consumption of one source: tokens and completed records."""

    tokens: int
    records: int


def use_by_source(session: Session, run_id: str) -> dict[int, SourceUse]:
    """``tokens_by_source`` for one run, with records, in the same scan: settling a run reads
    its consumption rows once for pricing and for exact attribution."""
    query = (
        select(Shard.source_id, func.sum(Consumption.tokens), func.sum(Consumption.records))
        .select_from(Consumption)
        .join(Shard, Shard.id == Consumption.shard_id)
        .where(Consumption.run_id == run_id)
        .group_by(Shard.source_id)
    )
    return {sid: SourceUse(int(t or 0), int(r or 0)) for sid, t, r in session.execute(query)}


def first_flat_runs(
    session: Session, manifest_hash: str, source_ids: Iterable[int]
) -> dict[int, str]:
    """For each flat-fee source, the completed run under the manifest that consumed it first.

    First = earliest ``finished_at``, then smallest run id; a completed run without a finish
    time sorts after every run that has one.
    """
    firsts: dict[int, tuple[tuple[int, datetime, str], str]] = {}
    for chunk in chunked(sorted(source_ids)):
        query = (
            select(Shard.source_id, TrainingRun.id, TrainingRun.finished_at)
            .select_from(Consumption)
            .join(Shard, Shard.id == Consumption.shard_id)
            .join(TrainingRun, TrainingRun.id == Consumption.run_id)
            .where(
                TrainingRun.manifest_hash == manifest_hash,
                TrainingRun.status == "completed",
                Consumption.tokens > 0,
                Shard.source_id.in_(chunk),
            )
            .group_by(Shard.source_id, TrainingRun.id, TrainingRun.finished_at)
        )
        for sid, rid, finished in session.execute(query):
            order = (0, finished, rid) if finished else (1, datetime.max.replace(tzinfo=UTC), rid)
            if sid not in firsts or order < firsts[sid][0]:
                firsts[sid] = (order, rid)
    return {sid: rid for sid, (_, rid) in firsts.items()}
