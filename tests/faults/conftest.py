"""The fault suite's tools: the real ``provreg`` in subprocesses, the checks every case ends
with, and the figures the suite reports at the end (concurrent writers, kills survived, lost
shards, duplicates, tracebacks).

Every case, whatever it did to the registry, ends with ``Provreg.check``: ``shard verify
--all`` (no shard missing or changed, no orphan, no temporary file left once ``--gc`` ran),
``audit verify`` (the chain holds) and row counts (no row twice).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from registry.db.engine import transaction
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]

FIGURES: Counter[str] = Counter()
"""Summed over the session and printed by ``pytest_terminal_summary``."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    f = FIGURES
    terminalreporter.write_line(
        f"fault suite: {f['writers']} concurrent writers in {f['races']} races, "
        f"{f['kills']} kills survived; {f['lost']} lost shards, {f['duplicates']} duplicates, "
        f"{f['tracebacks']} tracebacks"
    )


@dataclass
class Provreg:
    """The real command against one registry and store, in subprocesses (and in process for
    the checks, through ``Cli``)."""

    db_url: str
    store: Path
    cwd: Path
    cli: Cli
    engine: Engine
    outputs: list[str] = field(default_factory=list)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return (
            dict(os.environ)
            | {
                "PROVREG_DATABASE_URL": self.db_url,
                "PROVREG_STORE": str(self.store),
                "PROVREG_ACTOR": "faults",
                "PYTHONPATH": str(ROOT),
            }
            | (extra or {})
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=self.env(env),
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        proc = self.start(*args, env=env)
        out, err = proc.communicate(timeout=timeout)
        self.outputs.append(err)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def together(
        self, commands: Sequence[tuple[Sequence[str], dict[str, str] | None]], timeout: float = 240
    ) -> list[subprocess.CompletedProcess[str]]:
        """Start every command at once and wait for all (a race between real processes)."""
        procs = [self.start(*args, env=env) for args, env in commands]
        done = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            self.outputs.append(err)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        FIGURES["races"] += 1
        FIGURES["writers"] += len(commands)
        return done

    def check(self, *, gc: bool = True, store: bool = True) -> dict[str, Any]:
        """The end of every case: store, audit chain and rows consistent; the figures counted.
        ``store=False`` for a case whose shards are rows only (no files to verify).

        Returns ``shard verify --all --json`` (before any gc)."""
        report: dict[str, Any] = {"problems": []}
        if store:
            report = self._check_store(gc)
        audit = self.cli("audit", "verify")
        assert audit.exit_code == 0, audit.output
        duplicates = self.duplicates()
        FIGURES["duplicates"] += duplicates
        assert duplicates == 0
        tracebacks = sum("Traceback" in e for e in self.outputs)
        FIGURES["tracebacks"] += tracebacks
        assert tracebacks == 0, [e for e in self.outputs if "Traceback" in e]
        return report

    def _check_store(self, gc: bool) -> dict[str, Any]:
        report = json.loads(self.cli("shard", "verify", "--all", "--json", ok=False).stdout)
        lost = [p for p in report["problems"] if p["problem"] == "missing"]
        FIGURES["lost"] += len(lost)
        assert report["problems"] == [], report["problems"]
        if gc:
            self.cli("shard", "verify", "--all", "--gc")
            after = json.loads(self.cli("shard", "verify", "--all", "--json").stdout)
            assert (after["orphans"], after["temp_files"]) == ([], []), after
        return report  # type: ignore[no-any-return]

    def duplicates(self) -> int:
        """Rows that say the same thing twice: a dataset version, a shard in a dataset, a
        manifest name, a ledger key (the constraints forbid them; this counts, to report)."""
        queries = [
            "SELECT count(*) - count(DISTINCT name || '@' || version) FROM datasets",
            "SELECT count(*) - count(DISTINCT id) FROM shards",
            "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT dataset_id, shard_id "
            "FROM dataset_shards) d) FROM dataset_shards",
            "SELECT count(*) - count(DISTINCT name) FROM manifests",
            "SELECT count(*) - count(DISTINCT key) FROM ledger_entries",
        ]
        with self.engine.connect() as conn:
            return sum(int(conn.execute(sa.text(q)).scalar_one()) for q in queries)

    def cli_session(self) -> Any:
        """One committed transaction, for setting up rows the case needs."""
        return transaction(self.engine, actor="faults")

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def provreg(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Provreg]:
    store = tmp_path / "store"
    cli = Cli(db_url, store)
    cli.env["PROVREG_ACTOR"] = "faults"
    yield Provreg(db_url, store, tmp_path, cli, engine)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command printed (and nothing else on stderr but progress)."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("provreg: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def jsonl(path: Path, texts: Sequence[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), "utf-8")
    return path
