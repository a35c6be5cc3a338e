"""Opt-out signals at ingest and at manifest creation (issue 13 part B, phase 2), over a real
database (SQLite and PostgreSQL) and store: a disallowed URL is not stored; the report counts
exclusions by origin and signal; a later observation makes a manifest fail naming the origin;
bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from registry import manifests
from registry.catalogue import sources
from registry.db.models import ShardSignalObservation, SignalExclusion
from registry.db.types import utcnow
from registry.errors import InvalidInput, PolicyViolation
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from registry.signals import observations as obs
from tests.conftest import Cli, snapshot

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = [
    {"text": "one from the forum", "url": "https://forum.example.org/t/1"},
    {"text": "two from the forum", "url": "https://forum.example.org/t/2"},
    {"text": "open forum page", "url": "https://forum.example.org/open/3"},
    {"text": "a news story", "url": "https://news.example.net/s/4"},
    {"text": "a docs page", "url": "https://docs.example.com/5"},
    {"text": "no url at all", "url": None},
]
FIELDS = RecordFields(url="url")


def _source(session: Any, crawler: str | None = "ExampleBot") -> None:
    sources.add_source(
        session,
        sources.SourceIn(
            name="crawl", uri="https://example.org", kind="web-crawl", licence="MIT",
            crawler=crawler,
        ),
    )  # fmt: skip


def _observe(session: Any, when: datetime = T0) -> None:
    obs.add_observation(
        session,
        origin="https://forum.example.org",
        kind="robots.txt",
        raw=b"User-agent: *\nContent-Usage: train-ai=n\nContent-Usage: /open/ train-ai=y\n",
        observed_at=when,
    )
    obs.add_observation(
        session,
        origin="https://news.example.net",
        kind="tdmrep.json",
        raw=b'[{"location": "/s/", "tdm-reservation": 1}]',
        observed_at=when,
    )


@pytest.fixture
def crawl(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), "utf-8")
    return path


def _stored_urls(store: ShardStore, shard_ids: tuple[str, ...]) -> list[str | None]:
    urls: list[str | None] = []
    for sid in shard_ids:
        urls += pq.read_table(store.path_for(sid)).column("url").to_pylist()
    return urls


def test_a_disallowed_url_is_not_ingested(
    session_factory: Callable[..., Any], tmp_path: Path, crawl: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        _source(s)
        _observe(s)
    with session_factory() as s:
        report = ingest_paths(s, store, [crawl], source="crawl", dataset="web@1", fields=FIELDS)
    sig = report.signals
    assert sig is not None
    assert sig["unknown_policy"] == "allow" and sig["crawler"] == "ExampleBot"
    assert sig["excluded_by"] == [
        {"origin": "https://forum.example.org", "signal": "robots-content-usage", "records": 2},
        {"origin": "https://news.example.net", "signal": "tdmrep", "records": 1},
    ]
    assert report.records == 3
    assert sorted(_stored_urls(store, report.shard_ids), key=str) == sorted(
        ["https://forum.example.org/open/3", "https://docs.example.com/5", None], key=str
    )
    with session_factory() as s:
        links = s.scalars(select(ShardSignalObservation)).all()
        assert {link.shard_id for link in links} == set(report.shard_ids)
        assert len({link.observation_id for link in links}) == 2
        assert sum(e.records for e in s.scalars(select(SignalExclusion))) == 3


def test_unknown_records_can_be_refused(
    session_factory: Callable[..., Any], tmp_path: Path, crawl: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        _source(s)
        _observe(s)
    with session_factory() as s:
        report = ingest_paths(
            s, store, [crawl], source="crawl", dataset="web@1", fields=FIELDS,
            signals_unknown="refuse",
        )  # fmt: skip
    assert report.records == 1
    assert _stored_urls(store, report.shard_ids) == ["https://forum.example.org/open/3"]


def test_a_later_observation_makes_a_manifest_fail_naming_the_origin(
    session_factory: Callable[..., Any], tmp_path: Path, crawl: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        _source(s)
        report = ingest_paths(s, store, [crawl], source="crawl", dataset="web@1", fields=FIELDS)
    assert report.records == len(ROWS)
    with session_factory() as s:
        early = manifests.create_manifest(
            s, manifests.ManifestIn(name="before", intended_use="research", datasets=["web@1"])
        )
    with session_factory() as s:
        obs.add_observation(
            s,
            origin="https://forum.example.org",
            kind="robots.txt",
            raw=b"User-agent: ExampleBot\nDisallow: /\n",
            observed_at=utcnow(),
        )
    with pytest.raises(PolicyViolation) as refused, session_factory() as s:
        manifests.create_manifest(
            s, manifests.ManifestIn(name="after", intended_use="research", datasets=["web@1"])
        )
    text = str(refused.value)
    assert "https://forum.example.org" in text and "robots-disallow" in text
    assert "3 record(s)" in text  # the shard's records of example.org (forum + open)
    with pytest.raises(PolicyViolation, match=r"forum\.example\.org"), session_factory() as s:
        manifests.check_usable(s, early.hash)  # and a run on the older manifest cannot start


def test_bad_input_changes_nothing(
    session_factory: Callable[..., Any], engine: Engine, tmp_path: Path, crawl: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        _source(s)
        _observe(s)
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match="'allow' or 'refuse'"), session_factory() as s:
        ingest_paths(
            s, store, [crawl], source="crawl", dataset="web@1", fields=FIELDS,
            signals_unknown="maybe",
        )  # fmt: skip
    assert snapshot(engine) == before
    assert not list((tmp_path / "store").rglob("*.parquet"))


def test_the_cli_reports_exclusions(cli: Cli, tmp_path: Path, crawl: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text("User-agent: *\nContent-Usage: train-ai=n\n")
    cli("source", "add", "crawl", "--uri", "https://example.org", "--kind", "web-crawl",
        "--licence", "MIT", "--crawler", "ExampleBot")  # fmt: skip
    cli("signals", "add", "https://forum.example.org", "--robots", str(robots),
        "--observed-at", "2026-11-01T00:00:00Z")  # fmt: skip
    out = cli("ingest", str(crawl), "--source", "crawl", "--dataset", "web@1",
              "--url-field", "url").stdout  # fmt: skip
    assert "excluded 3 records" in out and "https://forum.example.org" in out
    assert "unknown: 3 records kept (--signals-unknown allow)" in out


def test_disclosures_report_the_signals_honoured_and_the_records_excluded(
    session_factory: Callable[..., Any], tmp_path: Path, crawl: Path
) -> None:
    from registry import disclosure

    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        _source(s)
        _observe(s)
    with session_factory() as s:
        ingest_paths(s, store, [crawl], source="crawl", dataset="web@1", fields=FIELDS)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["web@1"])
        )
    with session_factory() as s:
        f = disclosure.build_facts(s, m.hash)
    assert f.signals is not None
    assert (f.signals.origins_checked, f.signals.records_excluded) == (2, 3)
    assert f.signals.records_excluded_by_signal == {"robots-content-usage": 2, "tdmrep": 1}
    eu = json.loads(disclosure.render(f, "eu-summary", disclosure.DisclosureInputs()))
    (sub,) = [x for x in eu["sections"][2]["subsections"] if x["id"] == "3.1"]
    fields = {fld["label"]: fld["value"] for fld in sub["fields"]}
    assert fields["Origins checked"] == "2 origins; 2 observations applied"
    assert fields["Records excluded per signal type"] == (
        "3 records: robots-content-usage 2, tdmrep 1"
    )
    assert "draft-ietf-aipref-vocab-07" in fields["Machine-readable opt-out signals honoured"]
    data = json.loads(disclosure.render(f, "json"))
    assert data["signals"]["records_excluded_by_signal"] == {"robots-content-usage": 2, "tdmrep": 1}
    html = disclosure.render(f, "html").decode()
    assert "Opt-out signals" in html and "<td>tdmrep</td><td class=num>1</td>" in html
