"""The readers at their edges (issue 19): records up to the limit and one past it in every
format (defect 7), FIFOs and other special files (defect 8). Invalid UTF-8 and symlink cycles
are in ``test_ingest.BAD`` (through the CLI, with the database and store checked unchanged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.errors import InvalidInput
from registry.shards import readers
from registry.shards.readers import MAX_RECORD_BYTES, expand_paths, read_inputs
from registry.shards.store import ShardStore
from tests.conftest import Cli, snapshot

ROOT = Path(__file__).resolve().parents[3]
MiB = 1024 * 1024


def texts(paths: list[Path], fmt: str | None = None, per_line: bool = False) -> list[str]:
    arrays = read_inputs(expand_paths(paths, fmt), fmt, "text", per_line=per_line)
    return [t for a in arrays for t in a.to_pylist()]


def _jsonl(path: Path, values: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": v}) + "\n" for v in values), "utf-8")
    return path


def test_records_beyond_the_readers_block_ingest(cli: Cli, tmp_path: Path) -> None:
    """Defect 7: a 12 MiB record (three of pyarrow's 4 MiB blocks) in JSONL and CSV, between
    small ones, ingests whole and in order, through the real CLI."""
    big = "x" * (12 * MiB)
    values = ["small one", big, "small two"]
    jsonl = _jsonl(tmp_path / "big.jsonl", values)
    csv = tmp_path / "big.csv"
    csv.write_text("text\n" + "".join(f'"{v}"\n' for v in values), "utf-8")
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    ids = []
    for path in (jsonl, csv):
        out = cli("ingest", str(path), "--source", "src", "--dataset", path.suffix[1:], "--json")
        ids.append(json.loads(out.stdout)["shard_ids"])
    assert ids[0] == ids[1]  # the same records, the same shard
    store = ShardStore(tmp_path / "store")
    got = [t for i in ids[0] for t in pq.read_table(store.path_for(i)).column("text").to_pylist()]
    assert got == values


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """The readers with a 4 KiB record limit and 1 KiB blocks: the same code paths as 64 MiB
    and 4 MiB, in milliseconds."""
    limit = 4096
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", limit)
    monkeypatch.setattr(readers, "BLOCK", 1024)
    monkeypatch.setattr(readers, "_JSON_LARGE_BLOCK", limit + 1024)
    monkeypatch.setattr(readers, "_CSV_LARGE_BLOCK", 2 * limit + 1024)
    return limit


@pytest.mark.parametrize("offset", [0, 1, 500, 1023])
def test_lines_up_to_the_limit_read_in_order_and_the_first_longer_is_named(
    small_limit: int, tmp_path: Path, offset: int
) -> None:
    """Every JSONL line up to the limit reads back (wherever the block boundaries fall); the
    first line over it is refused by number, whatever precedes it."""
    frame = len(json.dumps({"text": ""}))
    sizes = [offset, 10, small_limit - frame, 3000, small_limit - frame, 1, 2000]
    values = [chr(97 + i % 26) * n for i, n in enumerate(sizes)]
    path = _jsonl(tmp_path / "in.jsonl", values)
    assert texts([path]) == values
    _jsonl(path, [*values, "y" * (small_limit - frame + 1), "after"])
    with pytest.raises(InvalidInput, match=r"in.jsonl: line 8 is longer than the limit"):
        texts([path])


def test_every_format_refuses_a_record_over_the_limit_naming_it(
    small_limit: int, tmp_path: Path
) -> None:
    over = "z" * (small_limit + 1)
    cases: dict[str, tuple[Path, str | None, bool, str]] = {}
    p = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["a", over]}), p)
    cases["parquet"] = (
        p,
        None,
        False,
        r"in.parquet: record 2 holds .* of text, over the limit of .* per record",
    )
    c = tmp_path / "in.csv"
    c.write_text(f"text\na\nb\n{over}\n", "utf-8")
    cases["csv"] = (c, None, False, r"in.csv: record 3 holds")
    t = tmp_path / "lines.txt"
    t.write_text(f"a\n{over}\nb\n", "utf-8")
    cases["text lines"] = (t, None, True, r"lines.txt: line 2 is longer than the limit")
    d = tmp_path / "docs"
    d.mkdir()
    (d / "one.txt").write_text("fine", "utf-8")
    (d / "two.txt").write_text(over, "utf-8")
    cases["text files"] = (d, "text", False, r"two.txt is .*: one document per file may be")
    for path, fmt, per_line, message in cases.values():
        with pytest.raises(InvalidInput, match=message):
            texts([path], fmt, per_line)


@pytest.mark.slow
def test_a_record_of_exactly_64_mib_ingests_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    """Defect 7 at the real limit: a JSONL line of exactly ``MAX_RECORD_BYTES`` reads back;
    a line one byte longer is refused with its line number and the limit."""
    assert 64 * MiB == MAX_RECORD_BYTES
    frame = len(json.dumps({"text": ""}))
    value = "q" * (MAX_RECORD_BYTES - frame)
    path = _jsonl(tmp_path / "limit.jsonl", ["before", value, "after"])
    got = texts([path])
    assert [len(t) for t in got] == [6, len(value), 5] and got[1] == value
    del got
    _jsonl(path, ["before", value + "q", "after"])
    with pytest.raises(
        InvalidInput, match=r"limit.jsonl: line 2 is longer than the limit of 64 MiB"
    ):
        texts([path])


def _cli(db_url: str, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "PROVREG_DATABASE_URL": db_url,
        "PROVREG_STORE": str(store),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize("named", ["in a directory", "by name"])
def test_a_fifo_is_refused_at_once_by_name(
    cli: Cli, db_url: str, engine: Any, tmp_path: Path, named: str
) -> None:
    """Defect 8: a FIFO among the inputs is refused before anything is read (opening it would
    wait for a writer forever, and Ctrl-C could not stop the reader thread)."""
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    d = tmp_path / "in"
    d.mkdir()
    _jsonl(d / "a.jsonl", ["fine"])
    os.mkfifo(d / "pipe.jsonl")
    before = snapshot(engine)
    target = str(d) if named == "in a directory" else str(d / "pipe.jsonl")
    proc = _cli(db_url, tmp_path / "store", "ingest", target, "--source", "src", "--dataset", "d")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"provreg: error: {d / 'pipe.jsonl'}: is a FIFO (named pipe), not a regular file; "
        "ingest reads only files"
    ]
    assert snapshot(engine) == before


def test_other_special_files_are_refused_too(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "s.jsonl"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        with pytest.raises(InvalidInput, match="is a socket, not a regular file"):
            expand_paths([tmp_path], None)
    finally:
        sock.close()
    with pytest.raises(InvalidInput, match="is a character device"):
        expand_paths(["/dev/null"], "text")


def test_a_cycle_of_two_links_is_a_cycle(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b.txt", tmp_path / "a.txt")
    os.symlink(tmp_path / "a.txt", tmp_path / "b.txt")
    with pytest.raises(InvalidInput, match=r"[ab].txt: a symlink cycle"):
        expand_paths([tmp_path], None)
