"""Training runs: opening one against a manifest, recording what it consumed, and its weights.

A run is opened only if the manifest's policy still holds as the registry stands now
(``manifests.check_usable``): a refused run leaves no row at all, because nothing about it
happened yet. Progress is recorded at checkpoints, in one transaction that adds the consumption
since the previous checkpoint and moves the cursor, so a resumed run that restarts from that
cursor never counts a token twice (invariant 5).

Liveness: a training process touches ``heartbeat_at`` every ``config.train.heartbeat_s``
seconds (default 30). A run still marked ``running`` whose heartbeat is older than
``STALE_HEARTBEATS`` intervals is reported as ``interrupted`` (its process died without a word,
e.g. SIGKILL); ``resume_run`` records that. Heartbeats are the one write that is not audited:
they are a liveness signal, not a registry fact, and would flood the log.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.lookup import resolve_prefix
from registry.db.models import Consumption, ManifestShard, TrainingRun, Weights
from registry.db.paging import keyset
from registry.db.types import utcnow
from registry.errors import Conflict, InvalidInput, NotFound
from registry.manifests import ManifestOut, check_usable, get_manifest, lineage, manifest_row

DEFAULT_HEARTBEAT_S = 30.0
STALE_HEARTBEATS = 3
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 900


class ConsumptionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    shard_id: str
    tokens: int
    records: int


class WeightsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str
    run: str
    manifest: str
    path: str
    bytes: int
    created_at: datetime


class RunOut(BaseModel):
    """A run as people read it: ``status`` is ``interrupted`` for a running run gone silent."""

    model_config = ConfigDict(frozen=True)

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


class Progress(BaseModel):
    """What a checkpoint records: the consumption since the previous one, and where it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps_done: int
    cursor: dict[str, Any]
    consumption_delta: dict[str, tuple[int, int]]  # shard id -> (tokens, records)
    checkpoint_path: str | None = None
    loss_summary: dict[str, Any] | None = None


# --- reading ----------------------------------------------------------------------------------


def run_row(session: Session, ref: str, *, lock: bool = False) -> TrainingRun:
    """A run by id or unique prefix (8+ hex digits); ``lock`` holds it for this transaction.

    Raises:
        InvalidInput: not hex, too short, or ambiguous.
        NotFound: no such run.
    """
    run_id = resolve_prefix(session, TrainingRun.id, ref, "run")
    query = select(TrainingRun).where(TrainingRun.id == run_id)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:  # pragma: no cover - resolve_prefix found it
        raise NotFound(f"unknown run {ref!r}")
    return row


def heartbeat_interval(config: Mapping[str, Any]) -> float:
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


def _weights_out(w: Weights) -> WeightsOut:
    return WeightsOut(
        sha256=w.sha256,
        run=w.run_id,
        manifest=w.manifest_hash,
        path=w.path,
        bytes=w.bytes,
        created_at=w.created_at,
    )


def _out(session: Session, row: TrainingRun) -> RunOut:
    tokens, records, shards = session.execute(
        select(
            func.coalesce(func.sum(Consumption.tokens), 0),
            func.coalesce(func.sum(Consumption.records), 0),
            func.count(),
        ).where(Consumption.run_id == row.id)
    ).one()
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
        weights=[_weights_out(w) for w in weights],
    )


def get_run(session: Session, ref: str) -> RunOut:
    return _out(session, run_row(session, ref))


def list_runs(
    session: Session, *, manifest: str | None = None, limit: int | None = None
) -> list[RunOut]:
    """Runs, newest first; ``manifest`` (hash, prefix or name) narrows them to one manifest."""
    query = select(TrainingRun).order_by(TrainingRun.started_at.desc(), TrainingRun.id)
    if manifest:
        query = query.where(TrainingRun.manifest_hash == manifest_row(session, manifest).hash)
    if limit:
        query = query.limit(limit)
    return [_out(session, r) for r in session.scalars(query)]


def runs_page(
    session: Session,
    *,
    manifest: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[RunOut]:
    """Runs by id (keyset pages for the API); ``manifest`` narrows them to one manifest.

    Raises:
        NotFound: unknown manifest. InvalidInput: a limit below 1.
    """
    query = select(TrainingRun)
    if manifest:
        query = query.where(TrainingRun.manifest_hash == manifest_row(session, manifest).hash)
    query = keyset(query, [TrainingRun.id], after=after, limit=limit)
    return [_out(session, r) for r in session.scalars(query)]


def consumption(session: Session, ref: str) -> list[ConsumptionOut]:
    """Per shard, what the run fed the optimizer (as of its last checkpoint), by shard id."""
    run_id = run_row(session, ref).id
    rows = session.scalars(
        select(Consumption).where(Consumption.run_id == run_id).order_by(Consumption.shard_id)
    )
    return [ConsumptionOut(shard_id=c.shard_id, tokens=c.tokens, records=c.records) for c in rows]


def manifest_chain(session: Session, ref: str) -> list[str]:
    """The manifests a run's weights were trained on, oldest first.

    A fresh run: the manifest's lineage. Continued training from another run's weights: that
    run's chain, then this run's manifest.
    """
    row = run_row(session, ref)
    if row.parent_run_id is None:
        return lineage(session, row.manifest_hash)
    return [*manifest_chain(session, row.parent_run_id), row.manifest_hash]


# --- writing ----------------------------------------------------------------------------------


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} is not plain JSON: {exc}") from exc


def open_run(
    session: Session,
    *,
    manifest_ref: str,
    config: dict[str, Any],
    seed: int,
    tokenizer: str,
    code_version: str,
    parent_run_id: str | None = None,
) -> RunOut:
    """Open a run on a manifest whose policy still holds today.

    Raises:
        NotFound: unknown manifest or parent run.
        InvalidInput: a negative seed, an empty tokenizer or code version, a config that is
            not JSON, or a parent run that has not completed.
        PolicyViolation: the manifest's policy fails now (a source revoked or opted out, a
            shard revoked since it was made); no run is created.
    """
    manifest = manifest_row(session, manifest_ref)
    if type(seed) is not int or seed < 0:
        raise InvalidInput(f"seed must be an int >= 0, got {seed!r}")
    if not tokenizer or not code_version:
        raise InvalidInput("a run needs a tokenizer identity and a code version")
    config_json = _json(config, "run config")
    parent = None
    if parent_run_id is not None:
        parent = run_row(session, parent_run_id)
        if parent.status != "completed":
            raise InvalidInput(
                f"run {parent.id} is {parent.status}: only a completed run can be continued"
            )
    check_usable(session, manifest.hash)
    now = utcnow()
    row = TrainingRun(
        id=uuid.uuid4().hex,
        manifest_hash=manifest.hash,
        parent_run_id=parent.id if parent else None,
        status="running",
        config=config_json,
        seed=seed,
        tokenizer=tokenizer,
        code_version=code_version,
        steps_done=0,
        started_at=now,
        heartbeat_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "run.open",
        "run",
        row.id,
        {
            "manifest": manifest.hash,
            "parent_run": row.parent_run_id,
            "config": config,
            "seed": seed,
            "tokenizer": tokenizer,
            "code_version": code_version,
        },
    )
    return _out(session, row)


def resume_run(session: Session, ref: str) -> RunOut:
    """Take over an interrupted run: it must have gone silent, and the policy must still hold.

    Raises:
        Conflict: the run completed or failed, or is still alive (fresh heartbeat).
        PolicyViolation: the manifest's policy fails now.
    """
    row = run_row(session, ref, lock=True)
    if row.status in ("completed", "failed"):
        raise Conflict(f"run {row.id} is {row.status}; only an interrupted run can be resumed")
    if row.status == "running" and not is_stale(row):
        seen = (utcnow() - (row.heartbeat_at or row.started_at)).total_seconds()
        raise Conflict(
            f"run {row.id} is still running (heartbeat {seen:.0f}s ago); "
            "resume it once its process has stopped"
        )
    check_usable(session, row.manifest_hash)
    previous = "interrupted" if row.status == "running" else row.status
    row.status, row.heartbeat_at, row.error = "running", utcnow(), None
    session.flush()
    audit.record(
        session,
        "run.resume",
        "run",
        row.id,
        {"previous_status": previous, "steps_done": row.steps_done},
    )
    return _out(session, row)


def _running(session: Session, ref: str) -> TrainingRun:
    row = run_row(session, ref, lock=True)
    if row.status != "running":
        raise Conflict(f"run {row.id} is {row.status}, not running")
    return row


def _check_delta(session: Session, manifest: str, delta: Mapping[str, tuple[int, int]]) -> None:
    for shard_id, (tokens, records) in delta.items():
        if type(tokens) is not int or type(records) is not int or tokens < 0 or records < 0:
            raise InvalidInput(f"consumption of shard {shard_id} must be ints >= 0")
    ids = sorted(delta)
    members: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        members.update(
            session.scalars(
                select(ManifestShard.shard_id).where(
                    ManifestShard.manifest_hash == manifest,
                    ManifestShard.shard_id.in_(ids[i : i + _CHUNK]),
                )
            )
        )
    strangers = [s for s in ids if s not in members]
    if strangers:
        raise InvalidInput(f"shard {strangers[0]} is not in manifest {manifest}")


def record_progress(session: Session, ref: str, progress: Progress) -> RunOut:
    """Add the consumption since the last checkpoint and move the run's cursor, together.

    The caller commits this as one transaction, after its checkpoint file is on disk: the
    registry never names a checkpoint that is not there, and the consumption it holds is always
    exactly what precedes the cursor it holds.

    Idempotent by step: a report must be beyond the run's recorded ``steps_done``. The same
    report sent again (a client retrying a request whose answer it lost) is recognised by its
    step, cursor and checkpoint and changes nothing; any other report not beyond it is refused.

    Raises:
        Conflict: the run is not running, or ``steps_done`` is not beyond the recorded steps
            (unless it is a replay of the last recorded report).
        InvalidInput: negative counts, or a shard that is not in the run's manifest.
    """
    row = _running(session, ref)
    if progress.steps_done <= row.steps_done and row.steps_done > 0:
        if _is_replay(row, progress):
            return _out(session, row)  # a retried report already recorded: count it once
        raise Conflict(
            f"run {row.id} has recorded {row.steps_done} steps; a report at step "
            f"{progress.steps_done} is behind or a different report for the same step"
        )
    delta = {k: v for k, v in progress.consumption_delta.items() if v != (0, 0)}
    _check_delta(session, row.manifest_hash, delta)
    now = utcnow()
    existing = {
        c.shard_id: c
        for i in range(0, len(delta), _CHUNK)
        for c in session.scalars(
            select(Consumption).where(
                Consumption.run_id == row.id,
                Consumption.shard_id.in_(sorted(delta)[i : i + _CHUNK]),
            )
        )
    }
    for shard_id, (tokens, records) in sorted(delta.items()):
        c = existing.get(shard_id)
        if c is None:
            session.add(
                Consumption(
                    run_id=row.id, shard_id=shard_id, tokens=tokens, records=records, updated_at=now
                )
            )
        else:
            c.tokens, c.records, c.updated_at = c.tokens + tokens, c.records + records, now
    row.steps_done = progress.steps_done
    row.cursor = _json(progress.cursor, "cursor")
    row.checkpoint_path = progress.checkpoint_path
    if progress.loss_summary is not None:
        row.loss_summary = _json(progress.loss_summary, "loss summary")
    row.heartbeat_at = now
    session.flush()
    audit.record(
        session,
        "run.progress",
        "run",
        row.id,
        {
            "steps_done": progress.steps_done,
            "cursor": progress.cursor,
            "consumption_delta": {k: list(v) for k, v in sorted(delta.items())},
            "checkpoint_path": progress.checkpoint_path,
        },
    )
    return _out(session, row)


def _is_replay(row: TrainingRun, progress: Progress) -> bool:
    """Whether ``progress`` is the report that moved ``row`` to where it stands."""
    return (
        progress.steps_done == row.steps_done
        and row.cursor is not None
        and json.loads(row.cursor) == progress.cursor
        and progress.checkpoint_path == row.checkpoint_path
    )


def heartbeat(session: Session, ref: str) -> None:
    """Say the run's process is alive (not audited: see the module docstring).

    Raises:
        Conflict: the run is no longer running (e.g. another process took it over).
    """
    _running(session, ref).heartbeat_at = utcnow()
    session.flush()


def record_weights(session: Session, ref: str, *, sha256: str, path: str, size: int) -> WeightsOut:
    """Record the SHA-256 of a weights file this run stamped.

    Raises:
        InvalidInput: a malformed digest or a negative size.
        Conflict: the run is not running, or the digest is already recorded.
    """
    row = _running(session, ref)
    if _HEX64.fullmatch(sha256) is None or size < 0:
        raise InvalidInput("weights need a lowercase hex SHA-256 and a size >= 0")
    if session.get(Weights, sha256) is not None:
        raise Conflict(f"weights {sha256} are already recorded")
    w = Weights(
        sha256=sha256, run_id=row.id, manifest_hash=row.manifest_hash, path=path, bytes=size
    )
    session.add(w)
    session.flush()
    audit.record(
        session, "weights.record", "weights", sha256, {"run": row.id, "path": path, "bytes": size}
    )
    return _weights_out(w)


def finish_run(session: Session, ref: str) -> RunOut:
    """Mark a run completed.

    Raises:
        Conflict: the run is not running.
    """
    row = _running(session, ref)
    row.status, row.finished_at, row.heartbeat_at = "completed", utcnow(), utcnow()
    session.flush()
    audit.record(session, "run.finish", "run", row.id, {"steps_done": row.steps_done})
    return _out(session, row)


def complete_run(
    session: Session, ref: str, progress: Progress, *, sha256: str, path: str, size: int
) -> RunOut:
    """The last consumption, the weights' digest and ``completed``: the caller's one transaction.

    Sent again after it succeeded (same step and digest), it changes nothing and answers the
    completed run, so a client may retry it.

    Raises:
        Conflict: the run is not running (and this is not a replay), or the digest is taken.
        InvalidInput: as ``record_progress`` and ``record_weights``.
    """
    row = run_row(session, ref, lock=True)
    if row.status == "completed" and row.steps_done == progress.steps_done:
        recorded = session.get(Weights, sha256)
        if recorded is not None and recorded.run_id == row.id:
            return _out(session, row)
    record_progress(session, ref, progress)
    record_weights(session, ref, sha256=sha256, path=path, size=size)
    return finish_run(session, ref)


def fail_run(session: Session, ref: str, error: str, progress: Progress | None = None) -> RunOut:
    """Mark a run failed with the reason, after recording ``progress`` (the steps it did take
    since its last checkpoint) if given; what it recorded before stays.

    The same failure sent again (same error) changes nothing, so a client may retry it.

    Raises:
        Conflict: the run already completed, or failed with another error.
    """
    row = run_row(session, ref, lock=True)
    if row.status == "failed" and row.error == error:
        return _out(session, row)
    if row.status in ("completed", "failed"):
        raise Conflict(f"run {row.id} is already {row.status}")
    if progress is not None:
        record_progress(session, ref, progress)
    row.status, row.error, row.finished_at = "failed", error, utcnow()
    session.flush()
    audit.record(session, "run.fail", "run", row.id, {"error": error})
    return _out(session, row)


def mark_interrupted(session: Session, ref: str) -> RunOut:
    """Record that a running run stopped without finishing (Ctrl-C, or a silent process).

    Raises:
        Conflict: the run is not running.
    """
    row = _running(session, ref)
    row.status = "interrupted"
    session.flush()
    audit.record(session, "run.interrupt", "run", row.id, {"steps_done": row.steps_done})
    return _out(session, row)


# --- weights verification ---------------------------------------------------------------------


class WeightsReport(BaseModel):
    """What a weights file says about itself, and whether the registry agrees."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    ok: bool
    problems: list[str]
    offline: bool
    stamp: dict[str, Any] | None
    run: RunOut | None = None
    manifest: ManifestOut | None = None


def read_weights_header(path: str) -> tuple[str, dict[str, str] | None, list[str]]:
    """The file part of verification: its SHA-256 and its header metadata (the stamp entries).

    Returns (digest, metadata or None, problems): an unreadable header is a problem, not an
    error, so a report can still name the file's digest.

    Raises:
        NotFound: no file at ``path``.
    """
    from safetensors import SafetensorError, safe_open

    from manifests.stamp import file_sha256  # manifests.stamp imports torch: keep it lazy

    if not os.path.isfile(path):
        raise NotFound(f"no weights file at {path}")
    digest = file_sha256(path)
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata()
    except SafetensorError as exc:
        return digest, None, [f"{path} is not a readable safetensors file: {exc}"]
    return digest, dict(metadata or {}), []


def _parse_stamp(
    metadata: Mapping[str, str] | None,
) -> tuple[Any, dict[str, Any] | None, list[str]]:
    """The stamp object, the stamp as JSON (without the ``provreg.`` prefix), and problems."""
    from manifests.errors import StampError
    from manifests.stamp import WeightsStamp

    try:
        stamp = WeightsStamp.from_metadata(metadata)
    except StampError as exc:
        return None, None, [str(exc)]
    data = {k.removeprefix("provreg."): v for k, v in stamp.to_metadata().items()}
    return stamp, data, []


def verify_weights_offline(path: str) -> WeightsReport:
    """What the file alone can show: a well-formed stamp, readable tensors, the file's digest."""
    digest, metadata, problems = read_weights_header(path)
    stamp, data, stamp_problems = (
        _parse_stamp(metadata) if metadata is not None else (None, None, [])
    )
    problems += stamp_problems
    if stamp is not None:
        problems += _tensor_problems(path)
    return WeightsReport(
        path=path, sha256=digest, ok=not problems, problems=problems, offline=True, stamp=data
    )


def _tensor_problems(path: str) -> list[str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not iterable
                if not bool(f.get_tensor(key).isfinite().all()):
                    return [f"tensor {key} holds NaN or infinite values"]
    except SafetensorError as exc:
        return [f"tensors are not readable: {exc}"]
    return []


def verify_weights(session: Session, path: str) -> WeightsReport:
    """Read a weights file's digest and stamp, and check them against the registry
    (``check_weights``).

    Raises:
        NotFound: no file at ``path``.
    """
    digest, metadata, problems = read_weights_header(path)
    if metadata is None:
        return WeightsReport(
            path=path, sha256=digest, ok=False, problems=problems, offline=False, stamp=None
        )
    return check_weights(session, digest, metadata, path=path)


def check_weights(
    session: Session, sha256: str, metadata: Mapping[str, str] | None, *, path: str = ""
) -> WeightsReport:
    """The registry part of verification, for a file's SHA-256 and header stamp entries
    (``provreg.*``) read wherever the file is: in both directions.

    The digest must be one the registry recorded, for the run the stamp names; that run must
    have trained on the stamp's manifest, with its Merkle root, config, tokenizer and manifest
    chain. A malformed stamp is a problem in the report, not an error.

    Raises:
        InvalidInput: ``sha256`` is not a lowercase hex SHA-256.
    """
    if _HEX64.fullmatch(sha256) is None:
        raise InvalidInput(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
    digest = sha256
    stamp, data, problems = _parse_stamp(metadata)
    if stamp is None:
        return WeightsReport(
            path=path, sha256=digest, ok=False, problems=problems, offline=False, stamp=None
        )
    recorded = session.get(Weights, digest)
    run = session.get(TrainingRun, stamp.run)
    if run is None:
        problems.append(f"the stamp names run {stamp.run}, which this registry does not know")
    if recorded is None:
        theirs = (
            session.scalars(select(Weights.sha256).where(Weights.run_id == run.id)).all()
            if run
            else []
        )
        if theirs:
            problems.append(
                f"the file's SHA-256 {digest} is not the one recorded for run {stamp.run} "
                f"({', '.join(theirs)}): the file was changed after it was stamped"
            )
        else:
            problems.append(f"the file's SHA-256 {digest} is not recorded in this registry")
    elif recorded.run_id != stamp.run:
        problems.append(
            f"the registry recorded this file for run {recorded.run_id}, the stamp says {stamp.run}"
        )
    manifest_out = None
    if run is not None:
        problems += _stamp_vs_run(session, stamp, run)
        manifest_out = get_manifest(session, run.manifest_hash)
    return WeightsReport(
        path=path,
        sha256=digest,
        ok=not problems,
        problems=problems,
        offline=False,
        stamp=data,
        run=_out(session, run) if run is not None else None,
        manifest=manifest_out,
    )


def get_weights(session: Session, sha256: str) -> WeightsOut:
    """The registry's record of a weights file, by its SHA-256.

    Raises:
        InvalidInput: not a lowercase hex SHA-256. NotFound: not recorded here.
    """
    if _HEX64.fullmatch(sha256) is None:
        raise InvalidInput(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
    w = session.get(Weights, sha256)
    if w is None:
        raise NotFound(f"no weights with SHA-256 {sha256} are recorded")
    return _weights_out(w)


def _stamp_vs_run(session: Session, stamp: Any, run: TrainingRun) -> list[str]:
    problems = []
    if stamp.manifest != run.manifest_hash:
        problems.append(
            f"the stamp names manifest {stamp.manifest}, but run {run.id} trained on "
            f"manifest {run.manifest_hash}"
        )
    manifest = manifest_row(session, run.manifest_hash)
    if stamp.merkle_root != manifest.merkle_root:
        problems.append(
            f"the stamp's Merkle root {stamp.merkle_root} is not manifest "
            f"{manifest.hash}'s ({manifest.merkle_root})"
        )
    chain = manifest_chain(session, run.id)
    if list(stamp.manifest_chain) != chain:
        problems.append(f"the stamp's manifest chain {list(stamp.manifest_chain)} is not {chain}")
    config = json.loads(run.config)
    if stamp.config != config.get("model"):
        problems.append(f"the stamp's model config differs from run {run.id}'s")
    if stamp.tokenizer != run.tokenizer:
        problems.append(f"the stamp's tokenizer {stamp.tokenizer!r} is not {run.tokenizer!r}")
    return problems


def loss_summary(losses: list[float], previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """First, last and min loss, and a curve of interval means (one point per checkpoint).

    ``previous`` is the summary recorded before (a resumed run continues its curve).
    """
    finite = [x for x in losses if math.isfinite(x)]
    prev = dict(previous or {})
    curve = list(prev.get("curve", []))
    if finite:
        curve.append(sum(finite) / len(finite))
    mins = [m for m in (prev.get("min"), min(finite) if finite else None) if m is not None]
    return {
        "first": prev.get("first", finite[0] if finite else None),
        "last": finite[-1] if finite else prev.get("last"),
        "min": min(mins) if mins else None,
        "curve": curve,
    }
