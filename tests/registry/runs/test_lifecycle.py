"""A run's life in the registry (registry/runs/lifecycle.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from registry import audit, runs
from registry.catalogue import revocation
from registry.db.models import AuditEntry, TrainingRun
from registry.db.types import utcnow
from registry.entities.runs import Progress
from registry.errors import Conflict, InvalidInput, PolicyViolation
from registry.runs.processes import is_gone, this_host
from tests.registry.runs.conftest import SHAPE, TOKENS_PER_STEP, Reg, config


def replace_steps(p: Progress, steps: int) -> Progress:
    return p.model_copy(update={"steps_done": steps})


def test_progress_rules(reg: Reg) -> None:
    run = reg.open()
    cursor = {"order": "x"}
    negative = {reg.ids[0]: (-1, 0)}
    with pytest.raises(ValidationError):  # the shape refuses it; the service checks it again
        Progress(steps_done=1, cursor=cursor, consumption_delta=negative)
    bad = [
        (
            Progress.model_construct(steps_done=1, cursor=cursor, consumption_delta=negative),
            InvalidInput,
        ),
        (Progress(steps_done=1, cursor=cursor, consumption_delta={"f" * 64: (1, 1)}), InvalidInput),
    ]
    for progress, exc in bad:
        with pytest.raises(exc), reg.tx() as s:
            runs.record_progress(s, run.id, progress)
    ok = Progress(steps_done=5, cursor=cursor, consumption_delta={reg.ids[0]: (35, 1)})
    with reg.tx() as s:
        runs.record_progress(s, run.id, ok)
    with reg.tx() as s:
        runs.record_progress(s, run.id, replace_steps(ok, 10))
    assert reg.consumption(run.id) == {reg.ids[0]: (70, 2)}  # deltas add up
    with pytest.raises(Conflict, match="behind"), reg.tx() as s:
        runs.record_progress(s, run.id, replace_steps(ok, 2))
    with pytest.raises(Conflict, match="still running"), reg.tx() as s:
        runs.resume_run(s, run.id)
    with reg.tx() as s:
        runs.fail_run(s, run.id, "boom")
    with pytest.raises(Conflict, match="failed"), reg.tx() as s:
        runs.resume_run(s, run.id)
    with pytest.raises(Conflict, match="not running"), reg.tx() as s:
        runs.record_progress(s, run.id, replace_steps(ok, 7))


def test_a_replayed_report_counts_once_and_the_log_holds(reg: Reg) -> None:
    run = reg.open()
    p = Progress(
        steps_done=3,
        cursor={"order": "x"},
        consumption_delta={sid: (7, 1) for sid in reg.ids},
        checkpoint_path="/ckpt/3",
    )
    for _ in range(2):
        with reg.tx() as s:
            out = runs.record_progress(s, run.id, p)
    assert (out.steps_done, out.tokens, out.records, out.shards) == (3, 21, 3, 3)
    assert reg.consumption(run.id) == {sid: (7, 1) for sid in reg.ids}
    with reg.tx() as s:
        done = runs.complete_run(s, run.id, replace_steps(p, 6), sha256="e" * 64, path="w", size=9)
    with reg.tx() as s:  # a retried completion answers the completed run
        again = runs.complete_run(s, run.id, replace_steps(p, 6), sha256="e" * 64, path="w", size=9)
    assert done.status == again.status == "completed" and again.tokens == 42
    assert [w.sha256 for w in again.weights] == ["e" * 64]
    with reg.tx() as s:
        assert audit.verify(s).ok


def test_config_and_reports_must_be_plain_json(reg: Reg) -> None:
    with pytest.raises(InvalidInput, match="run config is not plain JSON"):
        reg.open(config={"lr": math.nan})
    run = reg.open(config={"name": "café", **SHAPE})
    with reg.tx() as s:
        assert runs.get_run(s, run.id).config == {"name": "café", **SHAPE}
    nan = Progress(steps_done=1, cursor={"x": math.inf}, consumption_delta={})
    with pytest.raises(InvalidInput, match="cursor is not plain JSON"), reg.tx() as s:
        runs.record_progress(s, run.id, nan)


def test_a_silent_run_reads_as_interrupted_and_can_be_resumed(reg: Reg) -> None:
    run = reg.open(config=config(heartbeat_s=10))
    with reg.tx() as s:
        row = s.get(TrainingRun, run.id)
        assert row is not None and not runs.is_stale(row)
        assert runs.is_stale(row, utcnow() + timedelta(seconds=31))  # 3 beats of 10 s
        row.heartbeat_at = utcnow() - timedelta(seconds=31)
    with reg.tx() as s:
        seen = runs.get_run(s, run.id)
    assert (seen.status, seen.recorded_status) == ("interrupted", "running")
    with reg.tx() as s:
        resumed = runs.resume_run(s, run.id)
    assert (resumed.status, resumed.recorded_status) == ("running", "running")
    assert runs.heartbeat_interval({"train": {"heartbeat_s": -1}}) == runs.DEFAULT_HEARTBEAT_S


def _exited_pid() -> int:
    """The pid of a process that has exited and been collected."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def test_a_run_whose_process_exited_on_this_host_resumes_at_once(reg: Reg) -> None:
    """Issue 19, defect 12: after a SIGKILL the heartbeat is still fresh, but the pid the run
    recorded on this host is gone: the resume is allowed now, and says why in the log."""
    dead = _exited_pid()
    run = reg.open(host=this_host(), pid=dead)
    with reg.tx() as s:
        resumed = runs.resume_run(s, run.id, host=this_host(), pid=os.getpid())
        assert resumed.status == "running"
        row = s.get_one(TrainingRun, run.id)
        assert (row.host, row.pid) == (this_host(), os.getpid())  # the new owner
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        assert entry.action == "run.resume"
        payload = {"previous_status": "interrupted", "steps_done": 0,
                   "exited_process": {"host": this_host(), "pid": dead}}  # fmt: skip
        assert entry.payload_sha256 == audit.payload_digest(payload)


@pytest.mark.parametrize("who", ["a live process", "another host", "no process recorded"])
def test_a_run_whose_process_may_live_waits_for_its_heartbeat(reg: Reg, who: str) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            host, pid = {
                "a live process": (this_host(), alive.pid),
                "another host": ("elsewhere", _exited_pid()),
                "no process recorded": (None, None),
            }[who]
            run = reg.open(host=host, pid=pid)
            with pytest.raises(Conflict, match="is still running"), reg.tx() as s:
                runs.resume_run(s, run.id)
        finally:
            alive.kill()


def test_heartbeats_record_the_process(reg: Reg) -> None:
    run = reg.open()
    with reg.tx() as s:
        runs.heartbeat(s, run.id)
        assert s.get_one(TrainingRun, run.id).pid is None
        runs.heartbeat(s, run.id, host="h", pid=42)
    with reg.tx() as s:
        row = s.get_one(TrainingRun, run.id)
        assert (row.host, row.pid) == ("h", 42)
    assert not is_gone("h", 42) and not is_gone(this_host(), os.getpid())


def test_a_continued_run_extends_its_parents_chain(reg: Reg) -> None:
    parent = reg.open()
    with pytest.raises(InvalidInput, match="only a completed run"):
        reg.open(parent_run_id=parent.id)
    p = Progress(steps_done=1, cursor={}, consumption_delta={reg.ids[0]: (TOKENS_PER_STEP, 1)})
    with reg.tx() as s:
        runs.complete_run(s, parent.id, p, sha256="d" * 64, path="w", size=1)
    child = reg.open(parent_run_id=parent.id)
    with reg.tx() as s:
        assert runs.manifest_chain(s, child.id) == [reg.manifest, reg.manifest]
        assert [r.id for r in runs.list_runs(s, manifest=reg.manifest)] == [child.id, parent.id]
        assert [r.id for r in runs.runs_page(s)] == sorted([child.id, parent.id])


def test_a_revoked_source_refuses_the_run_and_its_resumption(reg: Reg) -> None:
    run = reg.open()
    with reg.tx() as s:
        row = s.get(TrainingRun, run.id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(hours=1)
    with reg.tx() as s:
        revocation.revoke_source(s, "stdlib", reason="test")
    with pytest.raises(PolicyViolation):
        reg.open()
    with pytest.raises(PolicyViolation), reg.tx() as s:
        runs.resume_run(s, run.id)


def test_loss_summary_continues_a_resumed_curve() -> None:
    first = runs.loss_summary([3.0, 2.0, math.nan])
    assert first == {"first": 3.0, "last": 2.0, "min": 2.0, "curve": [2.5]}
    later = runs.loss_summary([2.5, 1.5], first)
    assert later == {"first": 3.0, "last": 1.5, "min": 1.5, "curve": [2.5, 2.0]}
    assert runs.loss_summary([], later) == later
    assert runs.loss_summary([]) == {"first": None, "last": None, "min": None, "curve": []}
