"""The SIGKILL matrix: real ``provreg`` processes killed at the crash points where a kill is
most dangerous (``registry.faults``), on SQLite and PostgreSQL. After each kill: the registry
is checked (``Provreg.check``: shard verify, gc of what the kill left, audit verify, no row
twice), the work is done again or resumed, and the result compared with an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from registry import runs
from registry.faults import crash_at
from tests.conftest import snapshot
from tests.faults.conftest import FIGURES, Provreg, jsonl
from tests.registry.ledger import ledger_fixtures as lf

RECORDS = [f"record {i}: " + "lorem ipsum dolor " * (i % 30) for i in range(600)]
STDLIB = Path(os.path.dirname(os.__file__))
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}
TRAIN = ["--steps", "24", "--checkpoint-every", "8", "--batch-size", "4", "--lr", "0.01",
         "--warmup", "2", "--threads", "1", "--seed", "3",
         *(a for k, v in MODEL.items() for a in ("--set", f"{k}={v}"))]  # fmt: skip


def _killed(proc: Any) -> None:
    assert proc.returncode == -9, proc.stderr
    FIGURES["kills"] += 1


def _source(provreg: Provreg) -> None:
    provreg.cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")


def _ingest(path: Path, dataset: str) -> list[str]:
    return ["ingest", str(path), "--source", "src", "--dataset", dataset, "--shard-size",
            "8KiB", "--json"]  # fmt: skip


@pytest.mark.parametrize(
    "point", ["ingest.after_files", "ingest.before_commit", "ingest.after_commit"]
)
def test_an_ingest_killed(provreg: Provreg, tmp_path: Path, point: str) -> None:
    """Killed with its files staged, placed but not committed, or committed but not reported:
    the registry holds all of the ingest or none of it, gc removes what it left, and running
    it again gives what one uninterrupted ingest gives."""
    _source(provreg)
    path = jsonl(tmp_path / "in.jsonl", RECORDS)
    before = snapshot(provreg.engine)
    _killed(provreg.run(*_ingest(path, "d"), env=crash_at(point)))
    committed = point == "ingest.after_commit"
    assert (snapshot(provreg.engine) == before) is not committed
    provreg.check()
    report = json.loads(provreg.cli(*_ingest(path, "d")).stdout)  # again, in this process
    assert report["shards_registered"] == (0 if committed else len(report["shard_ids"]))
    whole = provreg.cli(*_ingest(path, "uninterrupted"))
    assert json.loads(whole.stdout)["shard_ids"] == report["shard_ids"]
    provreg.check()
    assert provreg.count("shards") == len(report["shard_ids"])


def test_a_settle_killed_before_its_commit(provreg: Provreg) -> None:
    with provreg.cli_session() as s:
        src = lf.source(s, "paid", "per-mtok:2.00:EUR", {"ann": "0.5", "bob": "0.5"})
        shard_ids = lf.shards(s, src, 2)
        run = lf.run(s, "c" * 32, lf.manifest(s, "m", shard_ids), dict.fromkeys(shard_ids, 10**6))
    _killed(provreg.run("settle", run, env=crash_at("settle.before_commit")))
    assert provreg.count("ledger_entries") == 0
    provreg.check(store=False)
    provreg.cli("settle", run)
    assert provreg.count("ledger_entries") == 2
    provreg.check(store=False)


def _training_registry(provreg: Provreg, tmp_path: Path) -> None:
    _source(provreg)
    text = "".join((STDLIB / m).read_text("utf-8") for m in ("textwrap.py", "bisect.py"))
    path = jsonl(tmp_path / "code.jsonl", [text[i : i + 100] for i in range(0, 4800, 100)])
    provreg.cli("ingest", str(path), "--source", "src", "--dataset", "code", "--shard-size", "800")
    provreg.cli("manifest", "create", "--name", "m", "--use", "research", "--dataset", "code")


def _tensors_digest(path: Path) -> str:
    tensors = load_file(path)
    sha = hashlib.sha256()
    for name in sorted(tensors):
        sha.update(name.encode() + tensors[name].contiguous().numpy().tobytes())
    return sha.hexdigest()


def _consumption(provreg: Provreg, run_id: str) -> dict[str, tuple[int, int]]:
    with provreg.cli_session() as s:
        return {c.shard_id: (c.tokens, c.records) for c in runs.consumption(s, run_id)}


@pytest.mark.parametrize(
    ("point", "nth"),
    [("train.after_step", 13), pytest.param("train.during_checkpoint", 2, marks=pytest.mark.slow)],
)
@pytest.mark.parametrize(
    "db_url",
    ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])],
    indirect=True,
)
def test_a_training_run_killed_resumes_at_once_and_matches_an_uninterrupted_one(
    provreg: Provreg, tmp_path: Path, point: str, nth: int
) -> None:
    """Killed after step 13 (5 steps past its checkpoint) or while writing its second
    checkpoint: ``--resume`` is allowed at once (the run's pid on this host is gone, though
    its heartbeat is fresh: defect 12), and the resumed run consumes exactly what an
    uninterrupted one does and ends with the same weights, bit for bit."""
    _training_registry(provreg, tmp_path)
    killed_out, whole_out = tmp_path / "killed.safetensors", tmp_path / "whole.safetensors"
    train = ["train", "--manifest", "m", "--out", str(killed_out), *TRAIN]
    _killed(provreg.run(*train, env=crash_at(point, nth)))
    with provreg.cli_session() as s:
        [run] = runs.list_runs(s)
    assert (run.status, run.steps_done) == ("running", 8)  # the heartbeat is fresh
    # resumed at once by another process (this one), through the real command
    resumed = provreg.cli("train", "--resume", run.id, "--threads", "1", "--json")
    assert json.loads(resumed.stdout)["status"] == "completed"
    whole = provreg.cli("train", "--manifest", "m", "--out", str(whole_out), *TRAIN, "--json")
    whole_run = json.loads(whole.stdout)["run"]  # in this process: no second torch start-up
    assert _consumption(provreg, run.id) == _consumption(provreg, whole_run)
    assert sum(t for t, _ in _consumption(provreg, run.id).values()) == 24 * 4 * 33
    assert _tensors_digest(killed_out) == _tensors_digest(whole_out)
    checkpoints = tmp_path / "killed.safetensors.checkpoints" / run.id
    assert list(checkpoints.iterdir()) == []  # no checkpoint, nor a half-written one, is left
    provreg.check()
