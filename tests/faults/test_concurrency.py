"""Concurrent ingests as real ``provreg`` processes on PostgreSQL, one of them made to fail:
the same input into different datasets, into one new dataset, into an existing one. Each ends
with ``Provreg.check`` and exact row counts: every writer succeeds or fails with one clear
line, no committed shard is lost, no row is written twice.

On SQLite writers take turns (the database lock), which ``test_races`` covers with threads;
settles and manifest creations are there too (threads started at one barrier overlap far more
surely than processes that each take a second or two to start).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.shards.datasets import create_dataset
from tests.faults.conftest import Provreg, jsonl, one_line_error

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize(
        "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
    ),
]

N = 4
SHARD = "8KiB"
RECORDS = [f"record {i}: " + "lorem ipsum dolor " * (i % 30) for i in range(1500)]


def _source(provreg: Provreg) -> None:
    provreg.cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")


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
    commands = [([*_ingest(good, f"d{n}"), "--json"], None) for n in range(N - 1)]
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
    commands = [([*_ingest(p, "d"), "--json"], None) for p in inputs]
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
