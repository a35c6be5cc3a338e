"""Concurrent writers as real ``provreg`` processes, one of them made to fail, on SQLite and
PostgreSQL: ingests (the same input into different datasets; into one new dataset; into an
existing one), settles of the same run, manifest creations. Each ends with ``Provreg.check``
and exact row counts: every writer succeeds or fails with one clear line, no committed shard
is lost, no row is written twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.faults import crash_at
from registry.shards.datasets import create_dataset
from tests.faults.conftest import Provreg, jsonl, one_line_error
from tests.registry.ledger import ledger_fixtures as lf

N = 4
SHARD = "8KiB"
RECORDS = [f"record {i}: " + "lorem ipsum dolor " * (i % 30) for i in range(1500)]


def _source(provreg: Provreg) -> None:
    provreg.cli(
        "source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0"
    )


def _ingest(path: Path | list[Path], dataset: str) -> list[str]:
    paths = [str(p) for p in (path if isinstance(path, list) else [path])]
    return ["ingest", *paths, "--source", "src", "--dataset", dataset, "--shard-size", SHARD]


def _ids(proc_stdout: str) -> list[str]:
    return list(json.loads(proc_stdout)["shard_ids"])


def _bad(tmp: Path) -> Path:
    path = tmp / "zz-malformed.jsonl"
    path.write_text('{"text": "fine"}\n{"text": oops}\n', "utf-8")
    return path


def test_the_same_input_into_different_datasets(provreg: Provreg, tmp_path: Path) -> None:
    """Defect 1 as the issue found it: the same shards from N processes, the last of which
    fails on a malformed file after its shards were written."""
    _source(provreg)
    good = jsonl(tmp_path / "good.jsonl", RECORDS)
    commands = [(_ingest(good, f"d{n}") + ["--json"], None) for n in range(N - 1)]
    commands.append((_ingest([good, _bad(tmp_path)], "failing"), None))
    procs = provreg.together(commands)
    assert [p.returncode for p in procs] == [0] * (N - 1) + [1], [p.stderr for p in procs]
    assert "zz-malformed.jsonl is not valid JSON lines" in one_line_error(procs[-1])
    ids = {tuple(_ids(p.stdout)) for p in procs[:-1]}
    assert len(ids) == 1 and len(next(iter(ids))) > 10
    shards = len(next(iter(ids)))
    provreg.check()
    assert provreg.count("shards") == shards
    assert provreg.count("datasets") == N - 1
    assert provreg.count("dataset_shards") == shards * (N - 1)


@pytest.mark.parametrize("dataset", ["new", "existing"])
def test_many_writers_into_one_dataset(provreg: Provreg, tmp_path: Path, dataset: str) -> None:
    """Defect 11: into a new dataset (different inputs: 7 of 8 died on the dataset's unique
    constraint) and into an existing one (the same input: a raw shard key violation)."""
    _source(provreg)
    if dataset == "existing":
        with provreg.cli_session() as s:
            create_dataset(s, "d")
        inputs = [jsonl(tmp_path / "same.jsonl", RECORDS)] * (N - 1)
    else:
        inputs = [
            jsonl(tmp_path / f"w{n}.jsonl", [f"writer {n}: {t}" for t in RECORDS[:500]])
            for n in range(N - 1)
        ]
    commands = [(_ingest(p, "d") + ["--json"], None) for p in inputs]
    commands.append((_ingest([inputs[0], _bad(tmp_path)], "d"), None))
    procs = provreg.together(commands)
    assert [p.returncode for p in procs] == [0] * (N - 1) + [1], [p.stderr for p in procs]
    one_line_error(procs[-1])
    ids = {i for p in procs[:-1] for i in _ids(p.stdout)}
    provreg.check()
    assert provreg.count("datasets") == 1
    assert provreg.count("shards") == provreg.count("dataset_shards") == len(ids)
    created = [json.loads(p.stdout)["dataset_created"] for p in procs[:-1]]
    assert created.count(True) == (1 if dataset == "new" else 0)


def test_settles_of_the_same_run(provreg: Provreg) -> None:
    """N settles of one run at once, one of them killed before its commit: the run is paid
    exactly once, whoever wins; the others say it was settled, or that a concurrent settle
    wrote it (one line)."""
    with provreg.cli_session() as s:
        src = lf.source(s, "paid", "per-mtok:2.00:EUR", {"ann": "0.5", "bob": "0.3", "cy": "0.2"})
        shard_ids = lf.shards(s, src, 3)
        m = lf.manifest(s, "m", shard_ids)
        run = lf.run(s, "a" * 32, m, {i: 1_000_000 * (k + 1) for k, i in enumerate(shard_ids)})
    commands: list[tuple[list[str], dict[str, str] | None]] = [
        (["settle", run], None) for _ in range(N - 1)
    ]
    commands.append((["settle", run], crash_at("settle.before_commit")))
    procs = provreg.together(commands)
    assert procs[-1].returncode == -9
    for p in procs[:-1]:
        assert p.returncode == 0 or "concurrent" in one_line_error(p), p.stderr
    assert any(p.returncode == 0 for p in procs[:-1])
    provreg.check(store=False)  # the run's shards are rows only
    assert provreg.count("ledger_entries") == 3  # one per contributor: 12 EUR split 5:3:2
    with provreg.cli_session() as s:
        from sqlalchemy import func, select

        from registry.db.models import LedgerEntry

        assert s.scalar(select(func.sum(LedgerEntry.amount_minor))) == 1200


def test_manifest_creations(provreg: Provreg, tmp_path: Path) -> None:
    """N manifest creations over one dataset at once: distinct names all succeed; two under
    one name give one manifest and one clear refusal; one over an unknown dataset fails."""
    _source(provreg)
    provreg.cli(*_ingest(jsonl(tmp_path / "in.jsonl", RECORDS[:300]), "d"))
    create = ["manifest", "create", "--use", "research"]
    commands: list[tuple[list[str], dict[str, str] | None]] = [
        ([*create, "--name", f"m{n}", "--dataset", "d"], None) for n in range(N - 2)
    ]
    commands.append(([*create, "--name", "m0", "--dataset", "d"], None))  # the same name again
    commands.append(([*create, "--name", "bad", "--dataset", "nothing-here"], None))
    procs = provreg.together(commands)
    assert procs[-1].returncode == 1 and "unknown dataset" in one_line_error(procs[-1])
    same_name = [procs[0], procs[-2]]
    assert sorted(p.returncode for p in same_name) == [0, 1], [p.stderr for p in same_name]
    loser = next(p for p in same_name if p.returncode)
    assert "manifest name 'm0' is taken" in one_line_error(loser)
    assert all(p.returncode == 0 for p in procs[1 : N - 2])
    provreg.check()
    assert provreg.count("manifests") == N - 2
