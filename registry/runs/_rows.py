"""The run rows both halves of the service read: lookup, liveness, chain, and what leaves.

``lifecycle`` writes runs and ``weights`` checks files against them; both need a run by
reference, whether it has gone silent, its manifest chain and its ``RunOut``, so those live
here, below both (``lifecycle.complete_run`` records weights, so ``weights`` cannot import
``lifecycle``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.db.lookup import resolve_prefix
from registry.db.models import Consumption, TrainingRun, Weights
from registry.db.types import utcnow
from registry.entities.runs import RunOut, WeightsOut
from registry.errors import Conflict, NotFound
from registry.manifests import lineage

DEFAULT_HEARTBEAT_S = 30.0
RUN_ID_LENGTH = 32  # uuid4().hex
STALE_HEARTBEATS = 3


def run_row(session: Session, ref: str, *, lock: bool = False) -> TrainingRun:
    """A run by id or unique prefix (8+ hex digits); ``lock`` holds it for this transaction.

    Raises:
        InvalidInput: not hex, too short, or ambiguous.
        NotFound: no such run.
    """

    def by_id(run_id: str) -> TrainingRun | None:
        query = select(TrainingRun).where(TrainingRun.id == run_id)
        return session.scalars(query.with_for_update() if lock else query).first()

    if len(ref) == RUN_ID_LENGTH and ref == ref.lower():  # a whole id (the trainer's calls):
        row = by_id(ref)  # one query, no prefix resolution
        if row is not None:
            return row
    row = by_id(resolve_prefix(session, TrainingRun.id, ref, "run"))
    if row is None:  # pragma: no cover - resolve_prefix found it
        raise NotFound(f"unknown run {ref!r}")
    return row


def running_row(session: Session, ref: str) -> TrainingRun:
    """The run, locked, for a write only a running run takes.

    Raises:
        Conflict: the run is not running.
    """
    row = run_row(session, ref, lock=True)
    if row.status != "running":
        raise Conflict(f"run {row.id} is {row.status}, not running")
    return row


def heartbeat_interval(config: Mapping[str, Any]) -> float:
    """The run's ``train.heartbeat_s``, or the default when it names none (or a bad one)."""
    train = config.get("train")
    value = train.get("heartbeat_s") if isinstance(train, dict) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else DEFAULT_HEARTBEAT_S


def is_stale(row: TrainingRun, now: datetime | None = None) -> bool:
    """A ``running`` run whose process has not been heard from for a few heartbeats."""
    if row.status != "running":
        return False
    last = row.heartbeat_at or row.started_at
    limit = STALE_HEARTBEATS * heartbeat_interval(json.loads(row.config))
    return (now or utcnow()) - last > timedelta(seconds=limit)


def manifest_chain(session: Session, ref: str) -> list[str]:
    """The manifests a run's weights were trained on, oldest first.

    A fresh run: the manifest's lineage. Continued training from another run's weights: that
    run's chain, then this run's manifest.
    """
    row = run_row(session, ref)
    if row.parent_run_id is None:
        return lineage(session, row.manifest_hash)
    return [*manifest_chain(session, row.parent_run_id), row.manifest_hash]


def weights_out(w: Weights) -> WeightsOut:
    return WeightsOut(
        sha256=w.sha256,
        run=w.run_id,
        manifest=w.manifest_hash,
        path=w.path,
        bytes=w.bytes,
        created_at=w.created_at,
    )


def run_out(
    session: Session, row: TrainingRun, *, totals: tuple[int, int, int] | None = None
) -> RunOut:
    """The run with its consumption totals and weights, as of this transaction.

    ``totals`` (tokens, records, shards), when the caller has just computed them (a progress
    report knows what it added to what was there), saves summing the run's consumption again.
    """
    tokens, records, shards = (
        totals
        or session.execute(
            select(
                func.coalesce(func.sum(Consumption.tokens), 0),
                func.coalesce(func.sum(Consumption.records), 0),
                func.count(),
            ).where(Consumption.run_id == row.id)
        ).one()
    )
    weights = session.scalars(
        select(Weights).where(Weights.run_id == row.id).order_by(Weights.created_at)
    )
    return RunOut(
        id=row.id,
        manifest=row.manifest_hash,
        parent_run=row.parent_run_id,
        status="interrupted" if is_stale(row) else row.status,
        recorded_status=row.status,
        config=json.loads(row.config),
        seed=row.seed,
        tokenizer=row.tokenizer,
        code_version=row.code_version,
        steps_done=row.steps_done,
        cursor=json.loads(row.cursor) if row.cursor else None,
        checkpoint_path=row.checkpoint_path,
        loss_summary=json.loads(row.loss_summary) if row.loss_summary else None,
        error=row.error,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
        tokens=int(tokens),
        records=int(records),
        shards=int(shards),
        weights=[weights_out(w) for w in weights],
    )
