"""Record figures frozen at manifest creation (``registry.disclosure.frozen``) equal the sums of
the shard rows they replace, for one manifest and a subset of it; a chain of manifests is
summed from the shard rows over the union of their shards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from registry import manifests
from registry.catalogue import sources
from registry.db.models import ManifestDomainSum, ManifestRecordSummary
from registry.disclosure import aggregate
from registry.disclosure.frozen import frozen_records
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from tests.registry import factories

FIELDS = RecordFields(url="url", author="by", licence="lic", created="at")


def _rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(60):
        rows.append({"text": f"record {i:03d} " + "x" * (i % 7), "by": f"a{i % 5}" if i % 3 else None,
                     "url": f"https://{'www' if i % 2 else 'news'}.site{i % 9}.co.uk/{i}" if i % 4 else None,
                     "lic": "CC-BY-NC-4.0" if i % 10 == 0 else None,
                     "at": f"2024-{1 + i % 12:02d}-0{1 + i % 9}" if i % 6 else None})  # fmt: skip
    return rows


@pytest.fixture
def two(session_factory: Callable[..., Any], tmp_path: Path) -> tuple[str, str]:
    """Manifest ``all`` of a crawl's shards, and ``some`` of its first half of them."""
    store = ShardStore(tmp_path / "store")
    with session_factory() as s:
        factories.crawl(s, store, tmp_path / "crawl.jsonl", _rows(), FIELDS, shard_size=200)
        whole = manifests.create_manifest(
            s, manifests.ManifestIn(name="all", intended_use="research", datasets=["crawl"])
        )
        ids = manifests.shard_ids(s, whole.hash)
        assert len(ids) >= 4
        part = manifests.create_manifest(
            s,
            manifests.ManifestIn(name="some", intended_use="research", shards=ids[: len(ids) // 2]),
        )
    return whole.hash, part.hash


def test_frozen_figures_equal_the_shard_rows_summed(
    session_factory: Callable[..., Any], two: tuple[str, str]
) -> None:
    whole, part = two
    with session_factory() as s:
        for h in (whole, part):
            kept = frozen_records(s, h)
            assert kept is not None
            assert kept == aggregate._live_records(s, [h])
        a, b = frozen_records(s, whole), frozen_records(s, part)
        assert a is not None and b is not None
        assert a.profiled_shards > b.profiled_shards > 0
        assert sum(d[1] for d in a.domains) == 45  # the records with a URL: 3 of every 4
        assert {d[0] for d in a.domains} == {f"site{i}.co.uk" for i in range(9)}
        assert a.authors == 5
        assert [x[:2] for x in a.licences] == [("CC-BY-NC-4.0", 6)]  # i % 10 == 0
        dates = [f"2024-{1 + i % 12:02d}-0{1 + i % 9}" for i in range(60) if i % 6]
        assert (str(a.records_from), str(a.records_to)) == (min(dates), max(dates))
        rows = s.scalar(select(func.count()).select_from(ManifestDomainSum))
        assert rows == len(a.domains) + len(b.domains)


def test_a_chain_is_summed_over_the_union_of_its_shards(
    session_factory: Callable[..., Any], two: tuple[str, str]
) -> None:
    whole, part = two
    with session_factory() as s:
        # ``some`` is inside ``all``: the union is ``all``, each shard counted once
        chain = aggregate.record_facts(s, [part, whole], [])
        alone = aggregate.record_facts(s, [whole], [])
    assert chain is not None and chain == alone


def test_a_manifest_without_profiled_shards_freezes_no_figures(
    session_factory: Callable[..., Any], tmp_path: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    path = tmp_path / "plain.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(5)), "utf-8")
    with session_factory() as s:
        sources.add_source(s, sources.SourceIn(name="plain", uri="https://p.example",
                           kind="public-dataset", licence="MIT"))  # fmt: skip
        ingest_paths(s, store, [path], source="plain", dataset="plain")
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="p", intended_use="research", datasets=["plain"])
        )
        assert frozen_records(s, m.hash) is None
        assert s.get(ManifestRecordSummary, m.hash) is None
        assert aggregate.record_facts(s, [m.hash], []) is None


def test_one_manifests_source_sums_from_its_document_equal_the_joined_rows(
    session_factory: Callable[..., Any], two: tuple[str, str]
) -> None:
    whole, part = two
    with session_factory() as s:
        for h in (whole, part):
            from_document = aggregate._document_sums(s, h)
            assert from_document is not None and from_document == aggregate._joined_sums(s, [h])
        assert aggregate._document_sums(s, "f" * 64) is None  # no such manifest
