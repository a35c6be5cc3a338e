"""``provreg train --follow`` as a real process: --once, SIGTERM (a clean stop at a
checkpoint), SIGKILL mid-increment and an exact resume; ``provreg lineage``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from registry.faults import crash_at
from tests.conftest import Cli
from tests.continual.conftest import ROW, B, World
from trainer.run import TrainSpec, train_with_registry

ROOT = Path(__file__).resolve().parents[2]


def _follow(world: World, db_url: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    args = [
        sys.executable, "-m", "cli.main", "train", "--follow", "web",
        "--from-weights", world.origin, "--replay", "0.25", "--steps", "6",
        "--checkpoint-every", "3", "--batch-size", str(B), "--lr", "0.01", "--warmup", "1",
        "--threads", "1", "--heartbeat-s", "0.2", "--out-dir", str(world.tmp / "continual"),
        *extra,
    ]  # fmt: skip
    full = dict(os.environ)
    full.update(
        PROVREG_DATABASE_URL=db_url,
        PROVREG_STORE=str(world.store),
        PROVREG_ACTOR="tester",
        PYTHONPATH=str(ROOT),
        **(env or {}),
    )
    return subprocess.run(
        args, env=full, capture_output=True, text=True, timeout=300, cwd=world.tmp
    )


@pytest.mark.slow
def test_once_trains_what_is_new_then_exits_and_lineage_shows_it(
    world: World, db_url: str, cli: Cli
) -> None:
    world.add_version("2", "bisect.py", 2)
    done = _follow(world, db_url, "--once", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    [inc] = out["increments"]
    assert inc["number"] == 1 and inc["run"] and not out["stopped"]
    again = _follow(world, db_url, "--once", "--json")  # nothing new: no increment
    assert again.returncode == 0 and json.loads(again.stdout)["increments"] == []
    cli.env["PROVREG_STORE"] = str(world.store)
    run = world.client.get_run(inc["run"])
    tree = json.loads(cli("lineage", run.weights[-1].path, "--json").stdout)
    assert [n["run"] for n in tree["nodes"]] == [world.origin_run, inc["run"]]
    human = cli("lineage", inc["run"]).stdout
    assert f"lineage of run {inc['run']}: 2 run(s)" in human
    assert "effective training set: " in human


@pytest.mark.slow
def test_sigterm_checkpoints_and_stops_cleanly_then_it_continues(world: World, db_url: str) -> None:
    world.add_version("2", "bisect.py", 2)
    # SIGTERM arrives after step 2 (0-based 1); step 3 finishes, is checkpointed, it stops
    stopped = _follow(
        world, db_url, "--once", env=crash_at("train.after_step", 2, signal_name="TERM")
    )
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped: the current step was checkpointed" in stopped.stderr
    [inc] = world.follower(replay=Decimal("0.25")).increments()
    assert inc.status == "frozen" and inc.run is None
    [run] = [r for r in _runs(world) if r.manifest == inc.manifest]
    assert (run.status, run.steps_done) == ("interrupted", 3)
    assert run.checkpoint_path and Path(run.checkpoint_path).is_file()
    assert sum(world.consumption(run.id).values()) == 3 * B * ROW
    resumed = _follow(world, db_url, "--once")
    assert resumed.returncode == 0, resumed.stderr
    finished = world.client.get_run(run.id)
    assert (finished.status, finished.steps_done) == ("completed", 6)
    assert sum(world.consumption(run.id).values()) == 6 * B * ROW


def _runs(world: World) -> list:  # type: ignore[type-arg]
    from registry import runs

    with world.read() as s:
        return runs.list_runs(s)


@pytest.mark.slow
def test_resume_after_sigkill_mid_increment_is_exact(world: World, db_url: str, cli: Cli) -> None:
    world.add_version("2", "bisect.py", 2)
    killed = _follow(world, db_url, "--once", env=crash_at("train.after_step", 5))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [inc] = world.follower(replay=Decimal("0.25")).increments()
    [run] = [r for r in _runs(world) if r.manifest == inc.manifest]
    assert run.steps_done == 3  # steps 4 and 5 were lost with the process
    cli.env["PROVREG_STORE"] = str(world.store)
    cli("train", "--resume", run.id, "--threads", "1")  # as today
    done = _follow(world, db_url, "--once", "--json")  # the follower adopts it, measures
    assert done.returncode == 0, done.stderr
    [after] = world.follower(replay=Decimal("0.25")).increments()
    assert (after.status, after.run) == ("trained", run.id)
    # the same increment trained whole, in one go: the same consumption, the same weights
    whole = train_with_registry(
        world.client,
        TrainSpec(
            manifest=inc.manifest,
            overrides=dict(world.client.get_run(world.origin_run).config["model"]),
            steps=6,
            batch_size=B,
            seed=0 + inc.number,
            checkpoint_every=3,
            out=str(world.tmp / "whole.safetensors"),
            lr=0.01,
            warmup=1,
            parent_weights=world.origin,
        ),
        threads=1,
    )
    assert world.consumption(run.id) == world.consumption(whole.run_id)
    assert sum(world.consumption(run.id).values()) == 6 * B * ROW
    from safetensors.torch import load_file

    a = load_file(world.client.get_run(run.id).weights[-1].path)
    b = load_file(world.tmp / "whole.safetensors")
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-5 for k in a)


@pytest.mark.slow
def test_every_keeps_looking_and_sigterm_between_increments_stops_it(
    world: World, db_url: str
) -> None:
    import time

    world.add_version("2", "bisect.py", 2)
    args = [
        sys.executable, "-m", "cli.main", "train", "--follow", "web",
        "--from-weights", world.origin, "--steps", "3", "--checkpoint-every", "3",
        "--batch-size", str(B), "--threads", "1", "--every", "0.3",
        "--out-dir", str(world.tmp / "continual"),
    ]  # fmt: skip
    env = dict(os.environ)
    env.update(PROVREG_DATABASE_URL=db_url, PROVREG_STORE=str(world.store), PYTHONPATH=str(ROOT))
    follower = world.follower()  # the same follower the process finds (made first: no race)
    proc = subprocess.Popen(args, env=env, cwd=world.tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            incs = follower.increments()
            if incs and incs[-1].status == "trained":
                break
            time.sleep(0.3)
        world.add_version("3", "heapq.py", 2)  # it finds this one on a later look
        while time.monotonic() < deadline and len(follower.increments()) < 2:
            time.sleep(0.3)
        while time.monotonic() < deadline and follower.increments()[-1].status != "trained":
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)  # while it waits for more
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert [i.status for i in follower.increments()] == ["trained", "trained"]
    assert "2 increment(s) trained" in out
