"""Disclosures from records: the domain table by content size (from the per-shard rows, with
the shard files gone), crawler names, the period of record dates, the HTML table and chart,
and Croissant's provenance RecordSet read back by mlcroissant."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry import disclosure, manifests
from registry.catalogue import sources
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from tests.registry import factories

FIELDS = RecordFields(url="url", author="by", licence="lic", created="at")


def _rows() -> list[dict[str, Any]]:
    """25 registrable domains: site{i}.co.uk holds i+1 records of 10 bytes each (two hosts
    each); tie.example.com and tie.example.org hold 21 records each, 210 bytes like site20 (a
    tie broken by name)."""
    rows: list[dict[str, Any]] = []
    for i in range(23):
        for n in range(i + 1):
            host = "news" if n % 2 else "www"
            rows.append({"text": f"{i:02d}-{n:03d}-abc"[:10].ljust(10, "x"),
                         "url": f"https://{host}.site{i}.co.uk/{n}", "by": f"a{n % 4}",
                         "lic": None, "at": f"2024-0{1 + i % 9}-1{n % 9}"})  # fmt: skip
    for tld in ("com", "org"):
        for n in range(21):
            rows.append({"text": f"t-{tld}-{n}".ljust(10, "y"), "url": f"http://tie.example.{tld}/{n}",
                         "by": None, "lic": "CC-BY-NC-4.0", "at": None})  # fmt: skip
    rows.append({"text": "no url here", "url": None, "by": "a0", "lic": None, "at": "2023-06-01"})
    return rows


@pytest.fixture
def crawl(session_factory: Callable[..., Any], tmp_path: Path) -> tuple[str, ShardStore]:
    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        factories.crawl(s, store, tmp_path / "crawl.jsonl", _rows(), FIELDS, shard_size=700)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["crawl"])
        )
    return m.hash, store


def test_record_figures_come_from_the_rows_without_opening_a_shard(
    session_factory: Callable[..., Any], crawl: tuple[str, ShardStore]
) -> None:
    manifest, store = crawl
    for shard in list(store.ids()):
        Path(store.path_for(shard)).unlink()
    with session_factory() as s:
        r = disclosure.build_facts(s, manifest).records
    assert r is not None and r.shards > 1
    assert r.domains_total == 25
    # the largest ten (10% of 25 would be 3)
    got = [(d.domain, d.records, d.bytes) for d in r.domains]
    # site20 and tie.example.com / .org (registrable: example.com, example.org) hold 210
    # bytes each: ranked by name
    assert got[:6] == [
        ("site22.co.uk", 23, 230), ("site21.co.uk", 22, 220), ("example.com", 21, 210),
        ("example.org", 21, 210), ("site20.co.uk", 21, 210), ("site19.co.uk", 20, 200),
    ]  # fmt: skip
    assert len(r.domains) == 10
    assert r.records_with_url == sum(range(1, 24)) + 42
    assert r.bytes_with_url == 10 * r.records_with_url
    assert r.domains[0].byte_share == round(230 / r.bytes_with_url, 6)
    assert r.authors_total == 4 and r.crawlers == ("ExampleBot",)
    assert [(x.licence, x.records) for x in r.licences] == [("CC-BY-NC-4.0", 42)]
    assert (r.records_from, r.records_to) == ("2023-06-01", "2024-09-18")


def test_eu_summary_lists_domains_by_the_rule_with_crawlers_and_record_dates(
    session_factory: Callable[..., Any], crawl: tuple[str, ShardStore]
) -> None:
    with session_factory() as s:
        f = disclosure.build_facts(s, crawl[0])

    def section_23(inputs: disclosure.DisclosureInputs) -> dict[str, Any]:
        data = json.loads(disclosure.render(f, "eu-summary", inputs))
        (sub,) = [x for x in data["sections"][1]["subsections"] if x["id"] == "2.3"]
        return {fld["label"]: fld for fld in sub["fields"]}

    plain = section_23(disclosure.DisclosureInputs())
    listed = plain["Most relevant domain names (by content size)"]["value"]
    assert [d["domain"] for d in listed] == ["site22.co.uk", "site21.co.uk", "example.com"]
    assert plain["Crawler names"] == {
        "label": "Crawler names",
        "value": ["ExampleBot"],
        "source": "registry",
    }
    assert plain["Collection period"]["value"] == "2023-06-01 to 2024-09-18 (record dates)"
    sme = section_23(disclosure.DisclosureInputs(sme=True))
    assert len(sme["Most relevant domain names (by content size)"]["value"]) == 2  # 1.25 -> 2
    assert "(SME)" in sme["Comments"]["value"]


def test_json_and_html_show_the_domain_table_and_chart(
    session_factory: Callable[..., Any], crawl: tuple[str, ShardStore]
) -> None:
    with session_factory() as s:
        f = disclosure.build_facts(s, crawl[0])
    data = json.loads(disclosure.render(f, "json"))
    assert [d["domain"] for d in data["records"]["domains"]][:1] == ["site22.co.uk"]
    assert "sme" not in data["inputs"]
    html = disclosure.render(f, "html").decode()
    assert "Records: domains by content size" in html
    assert html.count("<svg") == 4  # the three composition charts and the domain chart
    assert "<td>site22.co.uk</td><td class=num>23</td><td class=num>230</td>" in html
    assert "<script" not in html and "src=" not in html


def test_a_disclosure_without_profiled_shards_has_no_record_figures(
    session_factory: Callable[..., Any], tmp_path: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    (tmp_path / "a.jsonl").write_text('{"text": "plain"}\n', "utf-8")
    with session_factory() as s:
        sources.add_source(s, sources.SourceIn(name="p", uri="u", kind="synthetic", licence="MIT"))
        ingest_paths(s, store, [tmp_path / "a.jsonl"], source="p", dataset="p")
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["p"])
        )
        f = disclosure.build_facts(s, m.hash)
    assert f.records is None
    assert "records" not in json.loads(disclosure.render(f, "json"))
    assert "Records: domains" not in disclosure.render(f, "html").decode()


def test_croissant_reads_each_records_provenance(
    session_factory: Callable[..., Any], crawl: tuple[str, ShardStore]
) -> None:
    mlc = pytest.importorskip("mlcroissant")
    manifest, store = crawl
    with session_factory() as s:
        f = disclosure.build_facts(s, manifest, with_shards=True)
    path = Path(store.root) / "croissant.json"
    path.write_bytes(disclosure.render(f, "croissant"))
    dataset = mlc.Dataset(jsonld=str(path))
    rows = list(dataset.records("record_provenance"))
    assert len(rows) == len(_rows())
    urls = {r["record_provenance/url"] for r in rows}
    assert b"https://news.site22.co.uk/1" in urls or "https://news.site22.co.uk/1" in urls
    assert len(list(dataset.records("records"))) == len(_rows())
