"""Followers and their increments: where a ``train --follow`` is, kept in the registry.

An increment is frozen in one transaction: the dataset's shards that no ancestor manifest
holds (the delta, less a held-out sample when the follower evaluates), plus a deterministic
replay sample of the ancestors' shards that are still usable (``registry.continual.replay``),
become a child manifest of the previous increment's (its parent), checked by the policy like
any manifest. Revoked shards and shards of revoked or opted-out sources are never candidates,
and the policy refuses anything else it would refuse elsewhere.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit
from registry.continual.evaluation import add_eval_shards, eval_shards
from registry.continual.replay import eval_split, replay_sample
from registry.db.models import (
    ContinualFollower,
    ContinualIncrement,
    Dataset,
    DatasetShard,
    IncrementShard,
    Manifest,
    ManifestEvalShard,
    ManifestShard,
    Shard,
    Source,
)
from registry.entities.continual import FollowerOut, IncrementOut
from registry.entities.manifests import ManifestIn
from registry.errors import Conflict, InvalidInput, NotFound
from registry.manifests import create_manifest
from registry.runs._rows import manifest_chain, run_row
from registry.shards.datasets import DEFAULT_VERSION, parse_ref

EVERY_VERSION = "*"


def check_replay(fraction: Decimal) -> Decimal:
    """Raises: InvalidInput: outside [0, 1) (1 would replay forever: no new data's share)."""
    if not Decimal(0) <= fraction < Decimal(1):
        raise InvalidInput(
            f"the replay fraction must be in [0, 1), got {fraction}", field="continual.replay"
        )
    return fraction


def _dataset_ids(session: Session, name: str, version: str) -> list[int]:
    query = select(Dataset.id).where(Dataset.name == name)
    if version != EVERY_VERSION:
        query = query.where(Dataset.version == version)
    ids = list(session.scalars(query))
    if not ids:
        shown = name if version == EVERY_VERSION else f"{name}@{version}"
        raise NotFound(f"unknown dataset {shown}: there is nothing to follow")
    return ids


def _split_ref(ref: str) -> tuple[str, str]:
    """``NAME`` follows every version of the name; ``NAME@VERSION`` that version only."""
    name, version = parse_ref(ref)
    return (name, version) if "@" in ref else (name, EVERY_VERSION)


def _follower_out(row: ContinualFollower) -> FollowerOut:
    ref = (
        row.dataset
        if row.dataset_version == EVERY_VERSION
        else f"{row.dataset}@{row.dataset_version}"
    )
    return FollowerOut(
        id=row.id,
        dataset=ref,
        origin_run=row.origin_run_id,
        origin_weights=row.origin_weights,
        replay=row.replay,
        eval_fraction=row.eval_fraction,
        seed=row.seed,
        settings=json.loads(row.settings),
        created_at=row.created_at,
    )


def follow(
    session: Session,
    *,
    dataset: str,
    origin_run: str,
    origin_weights: str,
    replay: Decimal,
    eval_fraction: Decimal = Decimal(0),
    seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> tuple[FollowerOut, bool]:
    """The follower of ``dataset`` from ``origin_weights`` (a SHA-256) with this replay,
    hold-out and seed, created if new; True when created. A restarted follower is the same
    row: the registry knows where it is. Another replay (say) is another follower, with its
    own increments: how the demo compares replay with none from the same weights.

    Raises:
        InvalidInput: a replay or eval fraction out of range, a malformed dataset reference.
        NotFound: no such dataset (version) or run.
    """
    check_replay(replay)
    replay, eval_fraction = replay.normalize(), eval_fraction.normalize()  # 0.250 is 0.25
    if not Decimal(0) <= eval_fraction < Decimal(1):
        raise InvalidInput(f"the evaluation fraction must be in [0, 1), got {eval_fraction}")
    name, version = _split_ref(dataset)
    _dataset_ids(session, name, version)
    run = run_row(session, origin_run)
    existing = session.scalars(
        select(ContinualFollower).where(
            ContinualFollower.dataset == name,
            ContinualFollower.dataset_version == version,
            ContinualFollower.origin_weights == origin_weights,
            ContinualFollower.replay == replay,
            ContinualFollower.eval_fraction == eval_fraction,
            ContinualFollower.seed == seed,
        )
    ).first()
    if existing is not None:
        return _follower_out(existing), False
    row = ContinualFollower(
        id=uuid.uuid4().hex,
        dataset=name,
        dataset_version=version,
        origin_run_id=run.id,
        origin_weights=origin_weights,
        replay=replay,
        eval_fraction=eval_fraction,
        seed=seed,
        settings=json.dumps(settings or {}, sort_keys=True, separators=(",", ":")),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "continual.follow",
        "follower",
        row.id,
        {"dataset": dataset, "origin_weights": origin_weights, "replay": str(replay)},
    )
    return _follower_out(row), True


def _manifest_shards(session: Session, hashes: list[str]) -> set[str]:
    if not hashes:
        return set()
    return set(
        session.scalars(
            select(ManifestShard.shard_id).where(ManifestShard.manifest_hash.in_(hashes))
        )
    )


def _eval_of(session: Session, hashes: list[str]) -> set[str]:
    if not hashes:
        return set()
    return set(
        session.scalars(
            select(ManifestEvalShard.shard_id).where(ManifestEvalShard.manifest_hash.in_(hashes))
        )
    )


def _usable(session: Session, ids: set[str]) -> dict[str, int]:
    """The shards among ``ids`` that may still be trained on: active, of an active source that
    has not opted out; shard id -> registered tokens."""
    if not ids:
        return {}
    rows = session.execute(
        select(Shard.id, Shard.tokens)
        .join(Source, Source.id == Shard.source_id)
        .where(
            Shard.id.in_(sorted(ids)),
            Shard.status == "active",
            Source.status == "active",
            Source.consent_status != "opted-out",
        )
    )
    return {str(r[0]): int(r[1]) for r in rows}


def _increment_out(session: Session, row: ContinualIncrement) -> IncrementOut:
    roles: dict[str, list[str]] = {"delta": [], "replay": []}
    for shard_id, role in session.execute(
        select(IncrementShard.shard_id, IncrementShard.role)
        .where(IncrementShard.increment_id == row.id)
        .order_by(IncrementShard.shard_id)
    ):
        roles[role].append(shard_id)
    manifest = session.get_one(Manifest, row.manifest_hash)
    return IncrementOut(
        follower=row.follower_id,
        number=row.number,
        manifest=row.manifest_hash,
        parent_manifest=manifest.parent_hash,
        run=row.run_id,
        status=row.status,
        delta_shards=roles["delta"],
        replay_shards=roles["replay"],
        eval_shards=eval_shards(session, row.manifest_hash),
        delta_tokens=row.delta_tokens,
        replay_tokens=row.replay_tokens,
        drift=json.loads(row.drift) if row.drift else None,
        growth=json.loads(row.growth) if row.growth else None,
        eval_losses=json.loads(row.eval_losses) if row.eval_losses else None,
    )


def increments(session: Session, follower_id: str) -> list[IncrementOut]:
    """The follower's increments, first to last."""
    rows = session.scalars(
        select(ContinualIncrement)
        .where(ContinualIncrement.follower_id == follower_id)
        .order_by(ContinualIncrement.number)
    )
    return [_increment_out(session, r) for r in rows]


def increment_for_run(session: Session, run_id: str) -> IncrementOut | None:
    row = session.scalars(
        select(ContinualIncrement).where(ContinualIncrement.run_id == run_id)
    ).first()
    return _increment_out(session, row) if row is not None else None


def _increment_row(session: Session, follower_id: str, number: int) -> ContinualIncrement:
    row = session.scalars(
        select(ContinualIncrement).where(
            ContinualIncrement.follower_id == follower_id, ContinualIncrement.number == number
        )
    ).first()
    if row is None:
        raise NotFound(f"follower {follower_id} has no increment {number}")
    return row


def freeze_next(session: Session, follower_id: str, *, previous_run: str) -> IncrementOut | None:
    """Freeze the next increment after ``previous_run`` (the origin run, or the last
    increment's run): None when the dataset holds nothing new.

    Raises:
        PolicyViolation: the policy refuses the child manifest (nothing is written).
    """
    follower = session.get(ContinualFollower, follower_id)
    if follower is None:
        raise NotFound(f"unknown follower {follower_id}")
    chain = manifest_chain(session, previous_run)
    seen = _manifest_shards(session, chain) | _eval_of(session, chain)
    dataset_ids = _dataset_ids(session, follower.dataset, follower.dataset_version)
    in_dataset = set(
        session.scalars(
            select(DatasetShard.shard_id).where(DatasetShard.dataset_id.in_(dataset_ids))
        )
    )
    fresh = _usable(session, in_dataset - seen)
    if not fresh:
        return None
    number = 1 + int(
        session.scalar(
            select(func.coalesce(func.max(ContinualIncrement.number), 0)).where(
                ContinualIncrement.follower_id == follower_id
            )
        )
        or 0
    )
    held = eval_split(
        sorted(fresh), fraction=follower.eval_fraction, seed=follower.seed, number=number
    )
    delta = sorted(set(fresh) - set(held))
    delta_tokens = sum(fresh[s] for s in delta)
    candidates = _usable(session, _manifest_shards(session, chain))
    replay = replay_sample(
        candidates,
        delta_tokens=delta_tokens,
        fraction=follower.replay,
        seed=follower.seed,
        number=number,
    )
    parent = session.get_one(Manifest, chain[-1])
    base = follower.dataset.replace("/", "-")
    made = create_manifest(
        session,
        ManifestIn(
            name=f"{base}.continual-{follower.id[:8]}.{number}",
            intended_use=parent.intended_use,
            shards=[*delta, *replay],
            parent=parent.hash,
        ),
    )
    add_eval_shards(session, made.hash, held)
    row = ContinualIncrement(
        follower_id=follower_id,
        number=number,
        manifest_hash=made.hash,
        delta_shards=len(delta),
        delta_tokens=delta_tokens,
        replay_shards=len(replay),
        replay_tokens=sum(candidates[s] for s in replay),
        status="frozen",
    )
    session.add(row)
    session.flush()
    session.add_all(
        [IncrementShard(increment_id=row.id, shard_id=s, role="delta") for s in delta]
        + [IncrementShard(increment_id=row.id, shard_id=s, role="replay") for s in replay]
    )
    session.flush()
    audit.record(
        session,
        "continual.increment",
        "follower",
        follower_id,
        {"number": number, "manifest": made.hash, "delta": len(delta), "replay": len(replay)},
    )
    return _increment_out(session, row)


def attach_run(session: Session, follower_id: str, number: int, run_id: str) -> IncrementOut:
    """The increment is trained by ``run_id`` (recorded once: another run is a conflict)."""
    row = _increment_row(session, follower_id, number)
    run = run_row(session, run_id)
    if run.manifest_hash != row.manifest_hash:
        raise InvalidInput(f"run {run.id} is not on increment {number}'s manifest")
    if row.run_id is not None and row.run_id != run.id:
        raise Conflict(f"increment {number} is trained by run {row.run_id}")
    row.run_id = run.id
    session.flush()
    return _increment_out(session, row)


def record_results(
    session: Session,
    follower_id: str,
    number: int,
    *,
    drift: dict[str, Any] | None,
    eval_losses: dict[str, float] | None,
    growth: dict[str, Any] | None,
) -> IncrementOut:
    """What the increment measured after training; it is then ``trained``."""
    row = _increment_row(session, follower_id, number)
    if row.run_id is None:
        raise InvalidInput(f"increment {number} has no run yet")
    row.drift = json.dumps(drift, sort_keys=True) if drift is not None else None
    row.eval_losses = json.dumps(eval_losses, sort_keys=True) if eval_losses is not None else None
    row.growth = json.dumps(growth, sort_keys=True) if growth is not None else None
    row.status = "trained"
    session.flush()
    audit.record(
        session,
        "continual.trained",
        "follower",
        follower_id,
        {"number": number, "run": row.run_id, "eval": eval_losses, "drift": drift},
    )
    return _increment_out(session, row)


__all__ = [
    "DEFAULT_VERSION",
    "EVERY_VERSION",
    "attach_run",
    "check_replay",
    "follow",
    "freeze_next",
    "increment_for_run",
    "increments",
    "record_results",
]
