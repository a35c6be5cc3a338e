"""Record provenance in shards (``provreg-shard-v2``): the same records give the same ids from
every input format, the per-shard sums match hand-computed figures, v1 stays v1, and a bad
record field is one clear error naming the file and line or record, leaving nothing behind."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from registry.db.models import Shard, ShardAuthor, ShardDomain, ShardRecordLicence
from registry.errors import InvalidInput
from registry.shards.format import FORMAT, FORMAT_V2
from registry.shards.ingest import ingest_dataset, ingest_paths, register_shard_files
from registry.shards.record_fields import RecordFields, normalise_date
from registry.shards.store import ShardStore
from tests.conftest import Cli, snapshot
from tests.registry.shards.test_ingest import add_source

FIELDS = RecordFields(url="u", author="a", licence="l", created="d")
ROWS: list[dict[str, Any]] = [
    {"text": "alpha", "u": "https://news.bbc.co.uk/a", "a": "ann", "l": "MIT", "d": "2024-01-05"},
    {"text": "beta!", "u": "http://www.bbc.co.uk/b?x=1", "a": "bob", "l": None, "d": None},
    {"text": "gamma gamma", "u": "https://docs.example.com/", "a": "ann", "l": "cc-by-nc-4.0",
     "d": "2024-03-01T12:30:00+02:00"},
    {"text": "δ", "u": None, "a": None, "l": "CC-BY-NC-4.0", "d": "2023-12-31T23:00:00Z"},
]  # fmt: skip


def _write_all(d: Path, rows: list[dict[str, Any]]) -> dict[str, Path]:
    """The same records as JSONL, Parquet, CSV and a saved dataset."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    table = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
    pq.write_table(table, d / "in.parquet")
    pa.csv.write_csv(table, d / "in.csv")  # nulls become empty fields: no value
    datasets.Dataset.from_dict(columns).save_to_disk(str(d / "hf"))
    return {"jsonl": d / "in.jsonl", "parquet": d / "in.parquet", "csv": d / "in.csv",
            "hf-disk": d / "hf"}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> ShardStore:
    return ShardStore(tmp_path / "store")


def test_the_same_records_give_the_same_v2_ids_from_every_format(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    inputs = _write_all(tmp_path / "in", ROWS)
    ids = {}
    with session_factory() as s:
        for fmt, path in inputs.items():
            report = ingest_paths(
                s, store, [path], source="src", dataset=f"d-{fmt}", format=fmt, fields=FIELDS,
                shard_size=12,
            )  # fmt: skip
            ids[fmt] = report.shard_ids
        columns = {k: [r[k] for r in ROWS] for k in ROWS[0]}
        ids["datasets"] = ingest_dataset(
            s, store, datasets.Dataset.from_dict(columns), source="src", dataset="mem",
            fields=FIELDS, shard_size=12,
        ).shard_ids  # fmt: skip
        formats = set(s.scalars(select(Shard.format)))
    assert len(set(ids.values())) == 1, ids
    assert len(ids["jsonl"]) == 2  # 5 + 5 + 11 bytes reach 12 at the third record
    assert formats == {FORMAT_V2}
    first = pq.read_table(store.path_for(ids["jsonl"][0]))
    assert first.schema.names == ["id", "text", "url", "author", "licence", "created"]
    assert first.column("licence").to_pylist() == ["MIT", None, "CC-BY-NC-4.0"]
    assert first.column("created").to_pylist() == ["2024-01-05", None, "2024-03-01T10:30:00Z"]


def test_without_record_fields_shards_stay_v1(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    path = _write_all(tmp_path / "in", ROWS)["jsonl"]
    with session_factory() as s:
        plain = ingest_paths(s, store, [path], source="src", dataset="plain")
        none = ingest_paths(s, store, [path], source="src", dataset="none", fields=RecordFields())
        assert set(s.scalars(select(Shard.format))) == {FORMAT}
        assert not s.scalars(select(ShardDomain)).all()
    assert plain.shard_ids == none.shard_ids
    assert pq.read_schema(store.path_for(plain.shard_ids[0])).names == ["id", "text"]


def test_the_profile_sums_are_the_hand_computed_ones(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    path = _write_all(tmp_path / "in", ROWS)["jsonl"]
    with session_factory() as s:
        (shard_id,) = ingest_paths(
            s, store, [path], source="src", dataset="d", fields=FIELDS
        ).shard_ids
        domains = {(r.domain, r.records, r.bytes, r.tokens) for r in s.scalars(select(ShardDomain))}
        authors = {(r.author, r.records, r.tokens) for r in s.scalars(select(ShardAuthor))}
        licences = {(r.licence, r.records, r.tokens) for r in s.scalars(select(ShardRecordLicence))}
        shard = s.get(Shard, shard_id)
        assert shard is not None
        span = (shard.records_from, shard.records_to)
    # bytes: alpha 5, beta! 5, "gamma gamma" 11, δ 2 (UTF-8); tokens = bytes + 1 per record
    assert domains == {("bbc.co.uk", 2, 10, 12), ("example.com", 1, 11, 12)}
    assert authors == {("ann", 2, 18), ("bob", 1, 6)}
    assert licences == {("MIT", 1, 6), ("CC-BY-NC-4.0", 2, 15)}
    assert span == (dt.date(2023, 12, 31), dt.date(2024, 3, 1))


def test_reingest_and_register_keep_one_profile(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    path = _write_all(tmp_path / "in", ROWS)["jsonl"]
    with session_factory() as s:
        (shard_id,) = ingest_paths(
            s, store, [path], source="src", dataset="d", fields=FIELDS
        ).shard_ids
        ingest_paths(s, store, [path], source="src", dataset="d2", fields=FIELDS)
        report = register_shard_files(
            s, store, [store.path_for(shard_id)], source="src", dataset="d3"
        )
        assert report.shard_ids == (shard_id,)
        assert len(s.scalars(select(ShardDomain)).all()) == 2


@pytest.mark.parametrize(
    ("fmt", "row", "message"),
    [
        ("jsonl", {"u": "www.example.com/x"}, "line 3 (record 3): field 'u' holds 'www.example.com/x', not an absolute http(s) URL"),
        ("jsonl", {"u": "ftp://example.com/x"}, "not an absolute http(s) URL with a host"),
        ("jsonl", {"u": "https:///nohost"}, "not an absolute http(s) URL with a host"),
        ("jsonl", {"d": "5 Jan 2024"}, "line 3 (record 3): field 'd': '5 Jan 2024' is not an ISO 8601 date"),
        ("jsonl", {"l": "Made-Up-1.0"}, "line 3 (record 3): field 'l': invalid licence expression 'Made-Up-1.0'"),
        ("csv", {"d": "2024-13-01"}, "in.csv: record 3: field 'd': '2024-13-01' is not an ISO 8601"),
        ("parquet", {"u": "https://exa mple.com/"}, "in.parquet: record 3: field 'u'"),
        ("hf-disk", {"l": "MIT OR"}, "record 3: field 'l': invalid licence expression"),
    ],
)  # fmt: skip
def test_a_bad_record_field_names_the_record_and_stores_nothing(
    cli: Cli, engine: Engine, tmp_path: Path, fmt: str, row: dict[str, str], message: str
) -> None:
    cli("source", "add", "src", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    rows = [dict(r) for r in ROWS[:2]] + [{**ROWS[2], **row}, ROWS[3]]
    path = _write_all(tmp_path / "in", rows)[fmt]
    store = ShardStore(tmp_path / "store")
    before = snapshot(engine)
    flags = ["--url-field", "u", "--author-field", "a", "--licence-field", "l", "--date-field", "d"]
    # one record per shard: the good records' shard files are written before the error
    result = cli("ingest", str(path), "--source", "src", "--dataset", "ds", "--format", fmt,
                 "--shard-size", "1", *flags, ok=False)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert snapshot(engine) == before
    assert sorted(store.ids()) == []


def test_record_fields_on_text_files_or_twice_are_refused(
    session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path
) -> None:
    add_source(session_factory)
    (tmp_path / "a.txt").write_text("hello", "utf-8")
    with session_factory() as s, pytest.raises(InvalidInput, match="text files hold no record"):
        ingest_paths(s, store, [tmp_path / "a.txt"], source="src", dataset="d", fields=FIELDS)
    with session_factory() as s, pytest.raises(InvalidInput, match="different input field"):
        ingest_paths(s, store, [tmp_path / "a.txt"], source="src", dataset="d",
                     fields=RecordFields(url="text"))  # fmt: skip


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2024-01-05", "2024-01-05"),
        ("20240105", "2024-01-05"),
        ("2024-01-05T10:00:00", "2024-01-05T10:00:00"),
        ("2024-01-05T10:00:00Z", "2024-01-05T10:00:00Z"),
        ("2024-01-05T10:00:00.5-05:30", "2024-01-05T15:30:00.500000Z"),
        ("2024-01-05 10:00+01:00", "2024-01-05T09:00:00Z"),
    ],
)
def test_dates_are_stored_in_one_spelling(given: str, stored: str) -> None:
    assert normalise_date(given) == stored
