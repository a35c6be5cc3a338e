"""Temporary files in the store (issue 19, defect 9): what a killed ingest leaves is listed by
``shard verify --all`` and removed by ``--gc``; what a running process holds is never removed;
a SIGTERM cleans up after itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from registry.faults import crash_at
from registry.shards.store import ShardStore
from registry.shards.uploads import UploadSink
from tests.conftest import Cli, snapshot

ROOT = Path(__file__).resolve().parents[3]


def _input(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text(
        "".join(json.dumps({"text": f"record {i} " * 20}) + "\n" for i in range(2000)), "utf-8"
    )
    return path


def _ctrl_c_as_in_a_terminal() -> None:
    """A command started in the background by a shell without job control inherits SIGINT
    ignored, and Python then installs no KeyboardInterrupt handler; the child here is the
    foreground command a user presses Ctrl-C in."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ingest(cli: Cli, path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", str(path), "--source", "src",
         "--dataset", "d", "--shard-size", "16KiB"],
        env=os.environ | cli.env | env | {"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )  # fmt: skip


def _source(cli: Cli) -> None:
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")


def test_a_killed_ingest_leaves_temporary_files_that_verify_lists_and_gc_removes(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    _source(cli)
    before = snapshot(engine)
    killed = _ingest(cli, _input(tmp_path), **crash_at("ingest.after_files"))
    assert killed.returncode == -9, killed.stderr
    assert snapshot(engine) == before
    tmp = tmp_path / "store" / "tmp"
    (staging,) = tmp.iterdir()
    assert staging.name.startswith("ingest-") and list(staging.glob("*.parquet.part"))
    report = cli("shard", "verify", "--all")
    assert f"temporary file left by a stopped process: {staging}" in report.output
    assert "1 stale temporary file(s) (run with --gc to remove them)" in report.output
    gc = cli("shard", "verify", "--all", "--gc")
    assert f"temporary file removed: {staging}" in gc.output
    assert list(tmp.iterdir()) == []
    assert "temporary" not in cli("shard", "verify", "--all").output
    again = _ingest(cli, tmp_path / "in.jsonl")
    assert again.returncode == 0, again.stderr


def test_gc_leaves_what_a_running_process_holds(cli: Cli, tmp_path: Path) -> None:
    """A running ingest's staging directory and a running upload are in use: listed as such
    and kept; a leftover of each kind (no process holds it) is removed."""
    store = ShardStore(tmp_path / "store")
    tmp = Path(store.root) / "tmp"
    with store.staging() as staging:
        (staging.path / "shard-000001.parquet.part").write_bytes(b"half a shard")
        sink = UploadSink(store, limit=1000)
        sink.write(b"some bytes")
        (tmp / "ingest-leftover").mkdir()
        (tmp / "ingest-leftover" / "shard-000001.parquet.part").write_bytes(b"x")
        (tmp / "upload-leftover.part").write_bytes(b"y")
        out = cli("shard", "verify", "--all", "--gc").output
        assert f"temporary file in use by a running process: {staging.path}" in out
        assert f"temporary file in use by a running process: {sink.path}" in out
        assert f"temporary file removed: {tmp / 'ingest-leftover'}" in out
        assert f"temporary file removed: {tmp / 'upload-leftover.part'}" in out
        assert sorted(tmp.iterdir()) == sorted([staging.path, sink.path])
        assert (staging.path / "shard-000001.parquet.part").exists()
        sink.discard()
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("signal_name", ["TERM", "INT"])
def test_sigterm_or_ctrl_c_during_an_ingest_leaves_nothing(
    cli: Cli, engine: Engine, tmp_path: Path, signal_name: str
) -> None:
    _source(cli)
    before = snapshot(engine)
    stopped = _ingest(
        cli, _input(tmp_path), **crash_at("ingest.before_commit", signal_name=signal_name)
    )
    assert stopped.returncode == 130, (stopped.returncode, stopped.stderr)
    assert stopped.stderr.splitlines() == ["provreg: interrupted: nothing was stored"]
    assert snapshot(engine) == before
    store = ShardStore(tmp_path / "store")
    assert list(store.ids()) == [] and store.temp_files() == []
