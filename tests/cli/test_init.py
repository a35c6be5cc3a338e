"""``provreg init`` and opening databases: idempotent, and clear when something is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Cli


def test_init_creates_then_is_idempotent(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "store")
    first = cli("init")
    assert "schema created" in first.stdout and "56 licences added" in first.stdout
    again = cli("init")
    assert "up to date" in again.stdout and "0 licences added" in again.stdout
    assert "56 licences" in cli("licence", "list").stdout


def test_commands_refuse_an_uninitialised_database(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "store")
    result = cli("source", "list", ok=False)
    assert result.exit_code == 1 and "run `provreg init`" in result.stderr


def test_unopenable_database_url_is_one_clear_line(tmp_path: Path) -> None:
    for url, expect in [
        ("nosuchdb://x", "cannot use database URL"),
        (f"sqlite:///{tmp_path}/missing-dir/x.db", "cannot open database"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot open database"),
    ]:
        result = Cli(url, tmp_path / "store")("init", ok=False)
        assert result.exit_code == 1, result.output
        assert expect in result.stderr and "Traceback" not in result.output


def test_console_script_is_installed_and_exits_nonzero(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("provreg")
    env = {"PROVREG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([str(exe), "init"], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [str(exe), "source", "show", "nope"], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1 and bad.stderr.strip() == "provreg: error: unknown source 'nope'"
