"""A run's life: opened against a manifest, progress at checkpoints, and how it ends.

A run is opened only if the manifest's policy still holds as the registry stands now
(``manifests.check_usable``): a refused run leaves no row at all, because nothing about it
happened yet. Progress is recorded at checkpoints, in one transaction that adds the consumption
since the previous checkpoint and moves the cursor, so a resumed run that restarts from that
cursor never counts a token twice (invariant 5).

Liveness: a training process touches ``heartbeat_at`` every ``config.train.heartbeat_s``
seconds (default 30), and records its host and pid with it (and when it opens or resumes the
run). A run still marked ``running`` whose heartbeat is older than ``STALE_HEARTBEATS``
intervals is reported as ``interrupted`` (its process died without a word, e.g. SIGKILL);
``resume_run`` records that. On the run's own host, a resume need not wait that long: if the
recorded pid has exited, the run is taken over at once (``registry.runs.processes``).
Heartbeats are the one write that is not audited: they are a liveness signal, not a registry
fact, and would flood the log.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from manifests.canonical import compact_json
from manifests.digests import is_hex64
from registry import audit, limits
from registry.db.chunks import chunked
from registry.db.models import (
    Consumption,
    Manifest,
    ManifestShard,
    Shard,
    Tokenizer,
    TrainingRun,
    Weights,
)
from registry.db.paging import keyset
from registry.db.types import utcnow
from registry.entities.runs import ConsumptionOut, Progress, RunOut
from registry.errors import Conflict, ImplausibleReport, InvalidInput, NotFound
from registry.lineage import run_changed
from registry.manifests import check_usable, manifest_row
from registry.runs._rows import is_stale, run_out, run_row, running_row
from registry.runs.processes import is_gone
from registry.runs.weights import record_weights

# --- reading ----------------------------------------------------------------------------------


def get_run(session: Session, ref: str) -> RunOut:
    """A run by id or unique prefix.

    Raises:
        InvalidInput: not hex, too short, or ambiguous. NotFound: no such run.
    """
    return run_out(session, run_row(session, ref))


def list_runs(
    session: Session, *, manifest: str | None = None, limit: int | None = None
) -> list[RunOut]:
    """Runs, newest first; ``manifest`` (hash, prefix or name) narrows them to one manifest."""
    query = select(TrainingRun).order_by(TrainingRun.started_at.desc(), TrainingRun.id)
    if manifest:
        query = query.where(TrainingRun.manifest_hash == manifest_row(session, manifest).hash)
    if limit:
        query = query.limit(limit)
    return [run_out(session, r) for r in session.scalars(query)]


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
    return [run_out(session, r) for r in session.scalars(query)]


def consumption(session: Session, ref: str) -> list[ConsumptionOut]:
    """Per shard, what the run fed the optimizer (as of its last checkpoint), by shard id."""
    run_id = run_row(session, ref).id
    rows = session.scalars(
        select(Consumption).where(Consumption.run_id == run_id).order_by(Consumption.shard_id)
    )
    return [ConsumptionOut.model_validate(c) for c in rows]


# --- opening and resuming ---------------------------------------------------------------------


def _json(value: Any, what: str) -> str:
    try:
        text = compact_json(value)
        text.encode("utf-8")  # a lone surrogate ("\\ud800") is JSON but not storable text
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidInput(f"{what} is not plain JSON: {exc}") from exc
    return text


# --- what a run's config must declare, and what its reports may say --------------------------


@dataclass(frozen=True)
class StreamShape:
    """What a run's config says about the token stream it trains on (``trainer/data.py``).

    Every optimizer step takes one batch on each of ``world_size`` processes (a torchrun job
    declares it as ``world_size``; one process otherwise): ``batch_size`` rows of
    ``block_size + 1`` consecutive stream tokens (inputs are a row without its last token,
    targets without its first). Rows do not overlap, so after ``s`` steps a run has consumed
    exactly ``s * tokens_per_step`` tokens, and its stream has run
    ``ceil(that / manifest tokens)`` epochs at most.
    """

    steps: int
    batch_size: int
    block_size: int
    world_size: int = 1

    @property
    def tokens_per_step(self) -> int:
        return self.world_size * self.batch_size * (self.block_size + 1)

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> StreamShape | None:
        """The shape ``config`` declares (``train.steps``, ``train.batch_size``,
        ``model.block_size``, or ``train.block_size`` for a model that has none), or None when it declares none of them: a loop of its own
        (``trainer.library``, e.g. one that tokenises records itself) whose reports are checked
        without a shape (``_implausible``).

        Raises:
            InvalidInput: some are given and one is missing or not a whole number >= 1, or the
                run's stream would exceed ``limits.MAX_SAFE_INT`` tokens.
        """
        train, model = config.get("train"), config.get("model")
        train = train if isinstance(train, dict) else {}
        model = model if isinstance(model, dict) else {}
        if not ({"steps", "batch_size", "block_size"} & train.keys() or "block_size" in model):
            return None
        found = {
            "train.steps": train.get("steps"),
            "train.batch_size": train.get("batch_size"),
            "model.block_size": model.get("block_size", train.get("block_size")),
            "world_size": config.get("world_size", 1),
        }
        sizes = {k: v for k, v in found.items() if type(v) is int and 1 <= v <= limits.MAX_SAFE_INT}
        bad = [k for k in found if k not in sizes]
        if bad:
            raise InvalidInput(
                f"run config must give {', '.join(bad)} as whole numbers from 1 to 2**53-1: "
                "the registry checks a run's consumption against its steps, batch and block sizes"
            )
        shape = cls(
            sizes["train.steps"],
            sizes["train.batch_size"],
            sizes["model.block_size"],
            sizes["world_size"],
        )
        if shape.steps * shape.tokens_per_step > limits.MAX_SAFE_INT:
            raise InvalidInput(
                f"a run of {shape.steps:,} steps of {shape.tokens_per_step:,} tokens would "
                f"consume more than {limits.MAX_SAFE_INT:,} tokens"
            )
        return shape


def open_run(
    session: Session,
    *,
    manifest_ref: str,
    config: dict[str, Any],
    seed: int,
    tokenizer: str,
    code_version: str,
    parent_run_id: str | None = None,
    host: str | None = None,
    pid: int | None = None,
) -> RunOut:
    """Open a run on a manifest whose policy still holds today; ``host`` and ``pid`` name the
    trainer process (``processes.this_process()``), when the caller knows it.

    Raises:
        NotFound: unknown manifest, parent run or tokenizer (a SHA-256 id that is not
            registered; ``provreg.bytes/1`` needs no row).
        InvalidInput: a seed out of range, an empty or too long tokenizer or code version, a
            config that is not JSON or does not declare its stream (``StreamShape.of``), or a
            parent run that has not completed.
        PolicyViolation: the manifest's policy fails now (a source revoked or opted out, a
            shard revoked since it was made); no run is created.
    """
    manifest = manifest_row(session, manifest_ref)
    if type(seed) is not int or not 0 <= seed <= limits.MAX_SAFE_INT:
        raise InvalidInput(f"seed must be an int from 0 to 2**53-1, got {seed!r}")
    if not tokenizer or not code_version:
        raise InvalidInput("a run needs a tokenizer identity and a code version")
    limits.check_text(tokenizer, "tokenizer identity", limits.LABEL)
    limits.check_text(code_version, "code version", limits.LABEL)
    if is_hex64(tokenizer) and session.get(Tokenizer, tokenizer) is None:
        raise NotFound(f"tokenizer {tokenizer} is not registered", field="train.tokenizer")
    config_json = _json(config, "run config")
    StreamShape.of(config)
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
        host=host,
        pid=pid,
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
    run_changed(session, row, "START")
    return run_out(session, row)


def resume_run(
    session: Session, ref: str, *, host: str | None = None, pid: int | None = None
) -> RunOut:
    """Take over an interrupted run: it must have gone silent (or its recorded process, on this
    host, has exited), and the policy must still hold. ``host`` and ``pid`` name the process
    taking it over; without them the run records none (it waits for heartbeats again).

    Raises:
        Conflict: the run completed or failed, or is still alive (fresh heartbeat, and its
            process is not known to have exited).
        PolicyViolation: the manifest's policy fails now.
    """
    row = run_row(session, ref, lock=True)
    if row.status in ("completed", "failed"):
        raise Conflict(f"run {row.id} is {row.status}; only an interrupted run can be resumed")
    exited = row.status == "running" and is_gone(row.host, row.pid)
    if row.status == "running" and not is_stale(row) and not exited:
        seen = (utcnow() - (row.heartbeat_at or row.started_at)).total_seconds()
        where = f" by pid {row.pid} on {row.host}" if row.host and row.pid else ""
        raise Conflict(
            f"run {row.id} is still running{where} (heartbeat {seen:.0f}s ago); "
            "resume it once its process has stopped"
        )
    check_usable(session, row.manifest_hash)
    previous = "interrupted" if row.status == "running" else row.status
    gone = {"host": row.host, "pid": row.pid} if exited else None
    row.status, row.heartbeat_at, row.error = "running", utcnow(), None
    row.host, row.pid = host, pid
    session.flush()
    audit.record(
        session,
        "run.resume",
        "run",
        row.id,
        {"previous_status": previous, "steps_done": row.steps_done}
        | ({"exited_process": gone} if gone else {}),
    )
    return run_out(session, row)


# --- progress and liveness --------------------------------------------------------------------


@dataclass(frozen=True)
class _ShardFacts:
    """What judging and adding a report needs of one shard it names: its size, and what the
    run had recorded of it before."""

    tokens: int
    records: int
    used_tokens: int | None  # None: the run has no row for the shard yet
    used_records: int
    source_id: int


def _shard_facts(
    session: Session, row: TrainingRun, delta: Mapping[str, tuple[int, int]]
) -> dict[str, _ShardFacts]:
    """Each reported shard's size and recorded consumption, in one query per chunk (a join of
    the manifest's membership, the shard and the run's consumption row), as plain tuples: a
    checkpoint's transaction is on the training loop's clock.

    Raises:
        InvalidInput: a count that is not a whole number from 0 to 2**53-1, or a shard that is
            not in the run's manifest.
    """
    for shard_id, (tokens, records) in delta.items():
        limits.check_count(tokens, f"tokens of shard {shard_id}")
        limits.check_count(records, f"records of shard {shard_id}")
    ids = sorted(delta)
    facts: dict[str, _ShardFacts] = {}
    used = and_(Consumption.run_id == row.id, Consumption.shard_id == ManifestShard.shard_id)
    for chunk in chunked(ids):
        query = (
            select(
                ManifestShard.shard_id,
                Shard.tokens,
                Shard.records,
                Consumption.tokens,
                Consumption.records,
                Shard.source_id,
            )
            .join(Shard, Shard.id == ManifestShard.shard_id)
            .outerjoin(Consumption, used)
            .where(ManifestShard.manifest_hash == row.manifest_hash)
            .where(ManifestShard.shard_id.in_(chunk))
        )
        for sid, size_t, size_r, used_t, used_r, source_id in session.execute(query):
            facts[sid] = _ShardFacts(size_t, size_r, used_t, used_r or 0, source_id)
    strangers = [s for s in ids if s not in facts]
    if strangers:
        raise InvalidInput(f"shard {strangers[0]} is not in manifest {row.manifest_hash}")
    return facts


@dataclass(frozen=True)
class _RunTotals:
    """The run's recorded consumption before a report, and its manifest's token stream."""

    tokens: int
    records: int
    shards: int
    stream: int


def _run_totals(session: Session, row: TrainingRun) -> _RunTotals:
    stream = select(Manifest.total_tokens).where(Manifest.hash == row.manifest_hash)
    tokens, records, shards, total = session.execute(
        select(
            func.coalesce(func.sum(Consumption.tokens), 0),
            func.coalesce(func.sum(Consumption.records), 0),
            func.count(),
            stream.scalar_subquery(),
        ).where(Consumption.run_id == row.id)
    ).one()
    return _RunTotals(int(tokens), int(records), int(shards), int(total or 0))


def _processes(world_size: int) -> str:
    return f"{world_size} processes x " if world_size > 1 else ""


def _implausible(
    row: TrainingRun,
    progress: Progress,
    totals: Mapping[str, tuple[int, int]],
    facts: Mapping[str, _ShardFacts],
    before: _RunTotals,
    added: int,
) -> str | None:
    """Why the run's consumption after this report cannot be true, or None.

    ``totals`` are the run's tokens and records of each shard the report names, once it is
    added; ``facts`` those shards' sizes; ``before`` the run's totals before the report;
    ``added`` the tokens the report adds. The rule
    (``StreamShape``): after ``s`` steps the run consumed exactly ``s * tokens_per_step``
    tokens; of each shard at most its tokens and records times the epochs that many tokens
    span; and a record completes with its end-of-text token, so never more records than tokens.
    A run that declares no shape gets the last two checks, its epochs counted from what it
    reported.
    """
    try:
        shape = StreamShape.of(json.loads(row.config))
    except InvalidInput as exc:
        return f"its config cannot be checked against: {exc.detail}"
    steps = progress.steps_done
    if shape is not None and steps > shape.steps:
        return f"step {steps:,} is beyond the run's {shape.steps:,} steps"
    reported = before.tokens + added
    consumed = reported if shape is None else steps * shape.tokens_per_step
    if shape is not None and reported != consumed:
        return (
            f"{reported:,} tokens in {steps:,} steps; {steps:,} steps of "
            f"{_processes(shape.world_size)}{shape.batch_size} rows of {shape.block_size + 1} "
            f"tokens are exactly {consumed:,}"
        )
    stream = before.stream
    epochs = -(-consumed // stream) if stream else 0
    for shard_id, (tokens, records) in sorted(totals.items()):
        size_t, size_r = facts[shard_id].tokens, facts[shard_id].records
        if tokens > size_t * epochs or records > size_r * epochs:
            return (
                f"shard {shard_id} holds {size_t:,} tokens and {size_r:,} records; "
                f"{consumed:,} tokens span {epochs} epoch(s) of the manifest's {stream:,}, "
                f"so at most {size_t * epochs:,} tokens and {size_r * epochs:,} records of it, "
                f"not {tokens:,} and {records:,}"
            )
        if records > tokens:
            return f"{records:,} records of shard {shard_id} completed in {tokens:,} tokens"
    return None


def _refuse(session: Session, row: TrainingRun, progress: Progress, reason: str) -> None:
    """Fail the run with ``reason`` and record the refused report; raise ``ImplausibleReport``
    (its writes are committed: see ``registry.errors.ImplausibleReport``)."""
    row.status, row.error, row.finished_at = "failed", f"report refused: {reason}", utcnow()
    session.flush()
    audit.record(
        session,
        "run.report_refused",
        "run",
        row.id,
        {
            "reason": reason,
            "steps_done": progress.steps_done,
            "consumption_delta": {
                k: list(v) for k, v in sorted(progress.consumption_delta.items())
            },
        },
    )
    raise ImplausibleReport(
        f"run {row.id}'s report at step {progress.steps_done:,} is refused and the run failed: "
        f"{reason}"
    )


def record_progress(session: Session, ref: str, progress: Progress) -> RunOut:
    """Add the consumption since the last checkpoint and move the run's cursor, together.

    The caller commits this as one transaction, after its checkpoint file is on disk: the
    registry never names a checkpoint that is not there, and the consumption it holds is always
    exactly what precedes the cursor it holds.

    Idempotent by step: a report must be beyond the run's recorded ``steps_done``. The same
    report sent again (a client retrying a request whose answer it lost) is recognised by its
    step, cursor and checkpoint and changes nothing; any other report not beyond it is refused.

    Checked against what it can be (``_implausible``): a report whose figures the run's steps
    cannot hold is refused, the run failed and the refusal audited (``ImplausibleReport``).

    Raises:
        Conflict: the run is not running, or ``steps_done`` is not beyond the recorded steps
            (unless it is a replay of the last recorded report).
        InvalidInput: counts that are not whole numbers from 0 to 2**53-1, a shard that is not
            in the run's manifest, a cursor or path that cannot be stored.
        ImplausibleReport: consumption the run's steps cannot have produced (the run fails).
    """
    row = running_row(session, ref)
    if progress.steps_done <= row.steps_done and row.steps_done > 0:
        if _is_replay(row, progress):
            return run_out(session, row)  # a retried report already recorded: count it once
        raise Conflict(
            f"run {row.id} has recorded {row.steps_done} steps; a report at step "
            f"{progress.steps_done} is behind or a different report for the same step"
        )
    limits.check_count(progress.steps_done, "steps done")
    delta = {k: v for k, v in progress.consumption_delta.items() if v != (0, 0)}
    facts = _shard_facts(session, row, delta)
    cursor = _json(progress.cursor, "cursor")
    summary = _json(progress.loss_summary, "loss summary") if progress.loss_summary else None
    if progress.checkpoint_path is not None:
        limits.check_text(progress.checkpoint_path, "checkpoint path", limits.PATH)
    now = utcnow()
    totals = {
        shard_id: (
            tokens + (facts[shard_id].used_tokens or 0),
            records + facts[shard_id].used_records,
        )
        for shard_id, (tokens, records) in delta.items()
    }
    before = _run_totals(session, row)
    added = sum(t for t, _ in delta.values())
    reason = _implausible(row, progress, totals, facts, before, added)
    if reason is not None:
        _refuse(session, row, progress, reason)
    new = [s for s in sorted(totals) if facts[s].used_tokens is None]
    old = [s for s in sorted(totals) if facts[s].used_tokens is not None]
    if new:  # Core statements, not ORM objects: no unit of work to build for plain rows
        session.execute(
            insert(Consumption),
            [
                {"run_id": row.id, "shard_id": s, "tokens": totals[s][0],
                 "records": totals[s][1], "updated_at": now, "source_id": facts[s].source_id,
                 "shard_tokens": facts[s].tokens, "shard_records": facts[s].records}
                for s in new
            ],
        )  # fmt: skip
    if old:  # ORM bulk UPDATE by primary key
        session.execute(
            update(Consumption),
            [{"run_id": row.id, "shard_id": s, "tokens": totals[s][0],
              "records": totals[s][1], "updated_at": now}
             for s in old],
        )  # fmt: skip
    row.steps_done = progress.steps_done
    row.cursor = cursor
    row.checkpoint_path = progress.checkpoint_path
    if summary is not None:
        row.loss_summary = summary
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
    after = (
        before.tokens + added,
        before.records + sum(n for _, n in delta.values()),
        before.shards + len(new),
    )
    return run_out(session, row, totals=after)


def _is_replay(row: TrainingRun, progress: Progress) -> bool:
    """Whether ``progress`` is the report that moved ``row`` to where it stands."""
    return (
        progress.steps_done == row.steps_done
        and row.cursor is not None
        and json.loads(row.cursor) == progress.cursor
        and progress.checkpoint_path == row.checkpoint_path
    )


def heartbeat(
    session: Session, ref: str, *, host: str | None = None, pid: int | None = None
) -> None:
    """Say the run's process is alive (not audited: see the module docstring); ``host`` and
    ``pid``, when given, name that process.

    Raises:
        Conflict: the run is no longer running (e.g. another process took it over).
    """
    row = running_row(session, ref)
    row.heartbeat_at = utcnow()
    if host is not None and pid is not None:
        row.host, row.pid = host, pid
    session.flush()


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


# --- how a run ends ---------------------------------------------------------------------------


def finish_run(session: Session, ref: str) -> RunOut:
    """Mark a run completed.

    Raises:
        Conflict: the run is not running.
    """
    row = running_row(session, ref)
    row.status, row.finished_at, row.heartbeat_at = "completed", utcnow(), utcnow()
    session.flush()
    audit.record(session, "run.finish", "run", row.id, {"steps_done": row.steps_done})
    run_changed(session, row, "COMPLETE")
    return run_out(session, row)


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
            return run_out(session, row)
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
    error = limits.storable_text(error, limits.ERROR)  # a failure is recorded, whatever it says
    row = run_row(session, ref, lock=True)
    if row.status == "failed" and row.error == error:
        return run_out(session, row)
    if row.status in ("completed", "failed"):
        raise Conflict(f"run {row.id} is already {row.status}")
    if progress is not None:
        record_progress(session, ref, progress)
    row.status, row.error, row.finished_at = "failed", error, utcnow()
    session.flush()
    audit.record(session, "run.fail", "run", row.id, {"error": error})
    run_changed(session, row, "FAIL")
    return run_out(session, row)


def mark_interrupted(session: Session, ref: str) -> RunOut:
    """Record that a running run stopped without finishing (Ctrl-C, or a silent process).

    Raises:
        Conflict: the run is not running.
    """
    row = running_row(session, ref)
    row.status = "interrupted"
    session.flush()
    audit.record(session, "run.interrupt", "run", row.id, {"steps_done": row.steps_done})
    run_changed(session, row, "ABORT")
    return run_out(session, row)
