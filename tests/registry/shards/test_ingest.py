"""Ingest through the services and the real CLI: every format, determinism, idempotence, and
bad input that changes nothing (no row, no orphan file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from registry.catalogue import sources
from registry.db.models import AuditEntry, DatasetShard, Shard
from registry.errors import Conflict, InvalidInput, NotFound, NotPermitted
from registry.faults import crash_at
from registry.shards.ingest import ingest_dataset, ingest_paths, register_shard_files
from registry.shards.store import ShardStore, hash_file
from tests.conftest import Cli, snapshot

TEXTS = ["first document", "", "zweites Dokument: äöü", "first document", "x" * 3000]
ROOT = Path(__file__).resolve().parents[3]


def add_source(session_factory: Callable[..., Any], name: str = "src", **kw: Any) -> None:
    with session_factory() as s:
        spec = {
            "name": name,
            "uri": "https://example.org",
            "kind": "synthetic",
            "licence": "CC0-1.0",
        }
        sources.add_source(s, sources.SourceIn(**(spec | kw)))


@pytest.fixture
def store(tmp_path: Path) -> ShardStore:
    return ShardStore(tmp_path / "store")


def write_inputs(d: Path, texts: list[str]) -> dict[str, Path]:
    """The same records in every format."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "in.jsonl").write_text(
        "".join(json.dumps({"text": t, "n": i}) + "\n" for i, t in enumerate(texts)), "utf-8"
    )
    pq.write_table(pa.table({"n": list(range(len(texts))), "text": texts}), d / "in.parquet")
    pa.csv.write_csv(pa.table({"text": texts}), d / "in.csv")
    (d / "files").mkdir()
    for i, t in enumerate(texts):
        (d / "files" / f"{i:03d}.txt").write_bytes(t.encode())
    ds = datasets.Dataset.from_dict({"text": texts, "n": list(range(len(texts)))})
    ds.save_to_disk(str(d / "hf"))
    return {"jsonl": d / "in.jsonl", "parquet": d / "in.parquet", "csv": d / "in.csv",
            "text": d / "files", "hf-disk": d / "hf"}  # fmt: skip


def test_every_format_of_the_same_records_gives_the_same_shard(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    inputs = write_inputs(tmp_path / "in", TEXTS)
    ids = {}
    for fmt, path in inputs.items():
        with store.track(), session_factory() as s:
            r = ingest_paths(s, store, [path], source="src", dataset=f"d-{fmt}", format=fmt)
        assert (r.records, r.tokens) == (5, sum(len(t.encode()) + 1 for t in TEXTS)), fmt
        ids[fmt] = r.shard_ids
    with store.track(), session_factory() as s:
        r = ingest_dataset(
            s, store, datasets.Dataset.from_dict({"text": TEXTS}), source="src", dataset="mem"
        )
        ids["Dataset"] = r.shard_ids
    gen = lambda: ({"text": t} for t in TEXTS)  # noqa: E731
    with store.track(), session_factory() as s:
        r = ingest_dataset(
            s, store, datasets.IterableDataset.from_generator(gen), source="src", dataset="it"
        )
        ids["IterableDataset"] = r.shard_ids
    assert len(set(ids.values())) == 1, ids
    (shard_id,) = ids["jsonl"]
    assert hash_file(store.path_for(shard_id))[0] == shard_id
    rows = pq.read_table(store.path_for(shard_id)).to_pylist()
    assert [r["text"] for r in rows] == TEXTS
    with session_factory() as s:
        assert s.scalars(select(Shard.records)).all() == [5]
        assert len(s.scalars(select(DatasetShard.dataset_id)).all()) == 7


def test_text_per_line_and_globs(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    (tmp_path / "a.txt").write_text("one\r\ntwo\n\nthree", "utf-8")
    (tmp_path / "b.txt").write_text("four\n", "utf-8")
    with store.track(), session_factory() as s:
        r = ingest_paths(
            s, store, [str(tmp_path / "*.txt")], source="src", dataset="lines", per_line=True
        )
    rows = pq.read_table(store.path_for(r.shard_ids[0])).column("text").to_pylist()
    assert rows == ["one", "two", "three", "four"]


def test_same_input_gives_identical_ids_in_two_stores(
    session_factory: Callable[..., Any], tmp_path: Path
) -> None:
    add_source(session_factory)
    path = write_inputs(tmp_path / "in", [f"record {i} " * (i % 50) for i in range(3000)])["jsonl"]
    reports = []
    for store in (ShardStore(tmp_path / "s1"), ShardStore(f"memory://det-{tmp_path.name}")):
        with store.track(), session_factory() as s:
            reports.append(
                ingest_paths(
                    s, store, [path], source="src", dataset=f"d{len(reports)}", shard_size=20_000
                )
            )
    assert len(reports[0].shard_ids) > 5
    assert reports[0].shard_ids == reports[1].shard_ids


def test_reingest_adds_nothing_and_changes_nothing(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    path = write_inputs(tmp_path / "in", TEXTS)["jsonl"]
    first = cli("ingest", str(path), "--source", "src", "--dataset", "web@2")
    assert "created dataset web@2" in first.output and "1 new" in first.output
    before = snapshot(engine)
    again = cli("ingest", str(path), "--source", "src", "--dataset", "web@2")
    assert "nothing new" in again.output
    assert snapshot(engine) == before


BAD = [
    ("missing path", lambda d: [str(d / "nope.jsonl")], [], "no such file"),
    ("broken link", lambda d: [_link(d)], [], "no such file"),
    ("glob matching nothing", lambda d: [str(d / "*.nothing")], [], "no file matches"),
    (
        "not JSON lines",
        lambda d: [_bytes(d, "bin.jsonl", b"PAR1\x00\xff\xfe garbage")],
        [],
        "is not valid JSON lines",
    ),
    ("not Parquet", lambda d: [_bytes(d, "t.parquet", b"just text")], [], "is not a Parquet file"),
    ("not UTF-8 text", lambda d: [_bytes(d, "b.txt", b"ok\xff\xfe")], [], "is not UTF-8 text"),
    (
        "missing field jsonl",
        lambda d: [_bytes(d, "m.jsonl", b'{"text":"a"}\n{"body":"b"}\n')],
        [],
        "record 2 has no text field 'text'",
    ),
    ("missing field parquet", lambda d: [_parquet(d, {"body": ["a"]})], [], "no column 'text'"),
    ("missing field csv", lambda d: [_bytes(d, "m.csv", b"body\na\n")], [], "no column 'text'"),
    (
        "non-text jsonl",
        lambda d: [_bytes(d, "n.jsonl", b'{"text":"a"}\n{"text":5}\n')],
        [],
        "non-text value",
    ),
    ("non-text parquet", lambda d: [_parquet(d, {"text": [1, 2]})], [], "not text"),
    ("unknown source", lambda d: [_good(d)], ["--source", "ghost"], "unknown source 'ghost'"),
    ("revoked source", lambda d: [_good(d)], ["--source", "revoked"], "is revoked"),
    ("opted-out source", lambda d: [_good(d)], ["--source", "optout"], "has opted out"),
    ("bad dataset name", lambda d: [_good(d)], ["--dataset", "bad name@1"], "dataset name"),
    ("unknown format", lambda d: [_good(d)], ["--format", "xml"], "unknown format"),
    ("bad shard size", lambda d: [_good(d)], ["--shard-size", "lots"], "is not a size"),
    # issue 19, defect 3: invalid UTF-8 is refused by every reader, naming file and line/record
    (
        "not UTF-8 jsonl",
        lambda d: [_bytes(d, "u.jsonl", b'{"text":"ok"}\n\n{"text":"caf\xe9"}\n')],
        [],
        "u.jsonl: line 3 (record 2) is not valid UTF-8 text",
    ),
    (
        "not UTF-8 parquet",
        lambda d: [_parquet_bytes(d, [b"ok", b"caf\xe9"])],
        [],
        "p.parquet: record 2 is not valid UTF-8 text",
    ),
    (
        "not UTF-8 csv",
        lambda d: [_bytes(d, "u.csv", b"text\nok\ncaf\xe9\n")],
        [],
        "u.csv: record 2 is not valid UTF-8 text",
    ),
    (
        "not UTF-8 save_to_disk",
        lambda d: [_hf_bytes(d, [b"ok", b"ok", b"caf\xe9"])],
        [],
        "record 3 is not valid UTF-8 text",
    ),
    # issue 19, defect 8: a symlink cycle is reported as one
    ("symlink cycle", lambda d: [_cycle(d)], [], "a symlink cycle"),
]


def _bytes(d: Path, name: str, data: bytes) -> str:
    (d / name).write_bytes(data)
    return str(d / name)


def _link(d: Path) -> str:
    os.symlink(d / "gone.jsonl", d / "link.jsonl")
    return str(d / "link.jsonl")


def _invalid_text(values: list[bytes]) -> pa.Array:
    """A string array holding exactly these bytes, UTF-8 or not (pyarrow does not check)."""
    offsets = [0]
    for v in values:
        offsets.append(offsets[-1] + len(v))
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, pa.array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(values))],
    )


def _parquet_bytes(d: Path, values: list[bytes]) -> str:
    pq.write_table(pa.table({"text": _invalid_text(values)}), d / "p.parquet")
    return str(d / "p.parquet")


def _hf_bytes(d: Path, values: list[bytes]) -> str:
    datasets.Dataset(pa.table({"text": _invalid_text(values)})).save_to_disk(str(d / "hf"))
    return str(d / "hf")


def _cycle(d: Path) -> str:
    os.symlink(d / "loop.jsonl", d / "loop.jsonl")
    return str(d / "loop.jsonl")


def _parquet(d: Path, columns: dict[str, list[Any]]) -> str:
    pq.write_table(pa.table(columns), d / "p.parquet")
    return str(d / "p.parquet")


def _good(d: Path) -> str:
    return _bytes(
        d,
        "good.jsonl",
        "".join(json.dumps({"text": f"fresh record {i}"}) + "\n" for i in range(400)).encode(),
    )


@pytest.mark.parametrize(("label", "paths", "args", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line_and_leaves_no_row_or_file(
    cli: Cli, engine: Engine, tmp_path: Path, label: str, paths: Any, args: list[str], message: str
) -> None:
    for name, extra in (("src", []), ("revoked", []), ("optout", ["--consent", "opted-out"])):
        cli(
            "source",
            "add",
            name,
            "--uri",
            "u",
            "--kind",
            "synthetic",
            "--licence",
            "CC0-1.0",
            *extra,
        )
    cli("source", "revoke", "revoked", "--reason", "takedown")
    d = tmp_path / "in"
    d.mkdir()
    old = _bytes(d, "old.jsonl", b'{"text": "registered before"}\n')
    cli("ingest", old, "--source", "src", "--dataset", "ds")
    store = ShardStore(tmp_path / "store")
    files_before, before = sorted(store.ids()), snapshot(engine)
    # a good file first, with small shards, so that shard files reach the store before the error
    inputs = [_good(d), old, *paths(d)] if not args else paths(d)
    opts = {"--source": "src", "--dataset": "ds", "--shard-size": "1KiB"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        opts[flag] = value
    result = cli("ingest", *inputs, *[x for kv in opts.items() for x in kv], ok=False)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert result.output.count("provreg: error:") == 1
    assert snapshot(engine) == before
    assert sorted(store.ids()) == files_before, "an orphan shard file was left in the store"
    assert not any((tmp_path / "store" / "tmp").rglob("*.part*"))


class _InterruptedStore(ShardStore):
    """A real store that is interrupted (Ctrl-C) just after it has taken its fourth shard file."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.adopted: list[str] = []

    def adopt(self, local_path: Any, shard_id: str, **kw: Any) -> bool:
        added = super().adopt(local_path, shard_id, **kw)
        self.adopted.append(shard_id)
        if len(self.adopted) == 4:
            raise KeyboardInterrupt
        return added


def test_interrupt_during_ingest_leaves_nothing(
    session_factory: Callable[..., Any], engine: Engine, store: ShardStore
) -> None:
    add_source(session_factory)
    before = snapshot(engine)
    interrupted = _InterruptedStore(store.root)

    def gen() -> Iterator[dict[str, str]]:
        for i in range(30_000):
            yield {"text": f"record number {i}"}

    with pytest.raises(KeyboardInterrupt), interrupted.track(), session_factory() as s:
        ingest_dataset(
            s,
            interrupted,
            datasets.IterableDataset.from_generator(gen),
            source="src",
            dataset="d",
            shard_size=4096,
        )
    assert len(interrupted.adopted) == 4  # files were in the store when the interrupt came
    assert snapshot(engine) == before
    assert list(store.ids()) == []


def test_shard_of_another_source_is_a_conflict_after_files_were_written(
    session_factory: Callable[..., Any], engine: Engine, store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory, "a")
    add_source(session_factory, "b")
    path = write_inputs(tmp_path / "in", TEXTS)["jsonl"]
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"text": "only in b"}) + "\n")
    with store.track(), session_factory() as s:
        ingest_paths(s, store, [path], source="a", dataset="d")
    before, files = snapshot(engine), sorted(store.ids())
    with (
        pytest.raises(Conflict, match="already registered under source 'a'"),
        store.track(),
        session_factory() as s,
    ):
        ingest_paths(s, store, [other], source="b", dataset="d")
        ingest_paths(s, store, [path], source="b", dataset="d")
    assert snapshot(engine) == before
    assert sorted(store.ids()) == files


def test_revoked_data_cannot_be_ingested_again(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    path = write_inputs(tmp_path / "in", TEXTS)["jsonl"]
    out = json.loads(cli("ingest", str(path), "--source", "src", "--dataset", "d", "--json").output)
    cli("shard", "revoke", out["shard_ids"][0][:10], "--reason", "takedown notice 17")
    before = snapshot(engine)
    result = cli("ingest", str(path), "--source", "src", "--dataset", "other", ok=False)
    assert result.exit_code == 1 and "revoked" in result.output
    assert snapshot(engine) == before


def test_no_ai_training_licence_may_still_be_stored(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    with session_factory() as s:
        from registry.db.models import Licence

        ids = s.scalars(select(Licence.spdx_id).where(Licence.no_ai_training.is_(True))).all()
    assert ids == ["LicenseRef-tdm-reserved"]  # the seeded licence that forbids AI training
    add_source(session_factory, licence=ids[0])
    with store.track(), session_factory() as s:
        r = ingest_paths(
            s, store, [write_inputs(tmp_path / "in", TEXTS)["jsonl"]], source="src", dataset="d"
        )
    assert r.shards_registered == 1


def test_register_existing_canonical_shards(
    session_factory: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    add_source(session_factory)
    first = ShardStore(tmp_path / "first")
    with first.track(), session_factory() as s:
        r = ingest_paths(
            s, first, [write_inputs(tmp_path / "in", TEXTS)["jsonl"]], source="src", dataset="a"
        )
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(first.read_bytes(r.shard_ids[0]))
    second = ShardStore(tmp_path / "second")
    with second.track(), session_factory() as s:
        got = register_shard_files(s, second, [copy], source="src", dataset="b")
    assert got.shard_ids == r.shard_ids and got.shards_registered == 0 and got.shards_linked == 1
    assert (got.records, got.tokens) == (r.records, r.tokens)
    assert second.read_bytes(r.shard_ids[0]) == copy.read_bytes()
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": ["a"]}), bad)
    before = snapshot(engine)
    with (
        pytest.raises(InvalidInput, match="not a canonical shard"),
        second.track(),
        session_factory() as s,
    ):
        register_shard_files(s, second, [copy, bad], source="src", dataset="c")
    assert snapshot(engine) == before


def test_crash_before_commit_leaves_registry_unchanged_and_orphan_reported(
    cli: Cli, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    path = write_inputs(tmp_path / "in", TEXTS)["jsonl"]
    before = snapshot(engine)
    env = os.environ | cli.env | crash_at("ingest.before_commit") | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", str(path), "--source", "src", "--dataset", "d"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    assert snapshot(engine) == before
    store = ShardStore(tmp_path / "store")
    (orphan,) = store.ids()
    report = cli("shard", "verify", "--all")
    assert f"orphan file found (no shard names it): {store.uri_for(orphan)}" in report.output
    cli("shard", "verify", "--all", "--gc")
    assert list(store.ids()) == []
    assert "verified 0 shard(s)" in cli("shard", "verify", "--all").output


def test_unknown_source_and_dataset_via_services(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match="unknown source"), session_factory() as s:
        ingest_paths(
            s, store, [write_inputs(tmp_path / "in", TEXTS)["jsonl"]], source="nobody", dataset="d"
        )
    add_source(session_factory, consent_status="opted-out")
    with pytest.raises(NotPermitted), session_factory() as s:
        ingest_dataset(
            s, store, datasets.Dataset.from_dict({"text": ["a"]}), source="src", dataset="d"
        )
    with session_factory() as s:
        assert (
            s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("dataset.%"))).all()
            == []
        )
