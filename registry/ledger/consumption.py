"""What runs consumed, as the ledger prices it: tokens per source, and who pays a flat fee.

Every query here reads the consumption rows alone: each carries its shard's source and size
(``models.Consumption``, migration 0013), so a million rows are summed per source without a
million shard lookups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import Consumption, TrainingRun


def tokens_by_source(session: Session, *where: Any) -> dict[int, int]:
    """Tokens consumed per source: one GROUP BY in the database, not a million rows in Python.

    ``where`` selects the consumption rows (``Consumption.run_id == run_id``, ...).
    """
    query = (
        select(Consumption.source_id, func.sum(Consumption.tokens))
        .where(*where)
        .group_by(Consumption.source_id)
    )
    return {sid: int(total or 0) for sid, total in session.execute(query)}


def whole_passes() -> Any:
    """How many times a consumption row read its shard in whole (its tokens // the shard's)."""
    return Consumption.tokens // Consumption.shard_tokens


def irregular_use() -> Any:
    """1 where a consumption row is not whole passes over its shard (read in part, or a number
    of completed records other than passes x records), else 0; guarded against empty shards."""
    odd = (Consumption.tokens % Consumption.shard_tokens != 0) | (
        Consumption.records != whole_passes() * Consumption.shard_records
    )
    return case(((Consumption.tokens > 0) & (Consumption.shard_tokens > 0) & odd, 1), else_=0)


@dataclass(frozen=True, slots=True)
class SourceUse:
    """A run's consumption of one source: tokens and completed records; ``irregular`` if some
    shard of it was not read in whole passes (its records are then attributed from the file)."""

    tokens: int
    records: int
    irregular: bool = False


def use_by_source(session: Session, run_id: str) -> dict[int, SourceUse]:
    """``tokens_by_source`` for one run, with records and whether any shard was read in part,
    in the same scan: settling a run reads its consumption rows once for pricing and for exact
    attribution."""
    query = (
        select(
            Consumption.source_id,
            func.sum(Consumption.tokens),
            func.sum(Consumption.records),
            func.max(irregular_use()),
        )
        .where(Consumption.run_id == run_id)
        .group_by(Consumption.source_id)
    )
    return {
        sid: SourceUse(int(t or 0), int(r or 0), bool(odd))
        for sid, t, r, odd in session.execute(query)
    }


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
            select(Consumption.source_id, TrainingRun.id, TrainingRun.finished_at)
            .select_from(Consumption)
            .join(TrainingRun, TrainingRun.id == Consumption.run_id)
            .where(
                TrainingRun.manifest_hash == manifest_hash,
                TrainingRun.status == "completed",
                Consumption.tokens > 0,
                Consumption.source_id.in_(chunk),
            )
            .group_by(Consumption.source_id, TrainingRun.id, TrainingRun.finished_at)
        )
        for sid, rid, finished in session.execute(query):
            order = (0, finished, rid) if finished else (1, datetime.max.replace(tzinfo=UTC), rid)
            if sid not in firsts or order < firsts[sid][0]:
                firsts[sid] = (order, rid)
    return {sid: rid for sid, (_, rid) in firsts.items()}
