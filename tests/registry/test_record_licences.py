"""Record licences in manifests, through the registry: the facts come from the per-shard rows
(SQL, no shard opened), a commercial manifest is refused over one record's licence with its
counts, and a manifest without record licences has the document it always had."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from manifests.document import ManifestDocument
from registry import manifests
from registry.errors import PolicyViolation
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from tests.conftest import snapshot
from tests.registry.shards.test_ingest import add_source

ROWS = [
    {"text": "open words", "lic": None, "url": "https://a.example.com/1"},
    {"text": "shared, not sold", "lic": "CC-BY-NC-4.0", "url": "https://b.example.org/2"},
    {"text": "more shared", "lic": "CC-BY-NC-4.0", "url": "https://b.example.org/3"},
    {"text": "given away", "lic": "CC0-1.0", "url": None},
]


def _ingest(session_factory: Callable[..., Any], tmp_path: Path) -> ShardStore:
    add_source(session_factory, "web", licence="MIT")
    add_source(session_factory, "plain", licence="MIT")
    store = ShardStore(tmp_path / "store")
    (tmp_path / "web.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), "utf-8")
    (tmp_path / "plain.jsonl").write_text('{"text": "v1 text"}\n', "utf-8")
    with session_factory() as s:
        ingest_paths(s, store, [tmp_path / "web.jsonl"], source="web", dataset="web",
                     fields=RecordFields(url="url", licence="lic"), shard_size=20)  # fmt: skip
        ingest_paths(s, store, [tmp_path / "plain.jsonl"], source="plain", dataset="plain")
    return store


def test_a_commercial_manifest_is_refused_over_record_licences_naming_counts(
    session_factory: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    store = _ingest(session_factory, tmp_path)
    before = snapshot(engine)
    for shard in store.ids():  # the policy reads the rows, never the files
        Path(store.path_for(shard)).unlink()
    with session_factory() as s, pytest.raises(PolicyViolation) as caught:
        manifests.create_manifest(
            s,
            manifests.ManifestIn(name="sell", intended_use="commercial", datasets=["web", "plain"]),
        )
    # "shared, not sold" (16 bytes) and "more shared" (11): 2 records, 16 + 11 + 2 tokens
    assert caught.value.violations == [
        "[non-commercial] source 'web': 2 record(s), 29 tokens under record licence "
        "CC-BY-NC-4.0: CC-BY-NC-4.0 forbids commercial use"
    ]
    assert snapshot(engine) == before


def test_v1_and_v2_shards_in_one_manifest_list_record_licences_only_where_they_are(
    session_factory: Callable[..., Any], tmp_path: Path
) -> None:
    _ingest(session_factory, tmp_path)
    with session_factory() as s:
        m = manifests.create_manifest(
            s,
            manifests.ManifestIn(name="study", intended_use="research", datasets=["web", "plain"]),
        )
        _, raw = manifests.manifest_document(s, m.hash)
        assert manifests.verify_manifest(s, m.hash).ok
    doc = json.loads(raw)
    by_name = {src["name"]: src for src in doc["sources"]}
    assert "record_licences" not in by_name["plain"]
    assert by_name["web"]["record_licences"] == [
        {"licence": "CC-BY-NC-4.0", "records": 2, "tokens": 29, "obligations": ["attribution"]},
        {"licence": "CC0-1.0", "records": 1, "tokens": 11, "obligations": []},
    ]
    assert ManifestDocument.from_dict(json.loads(raw)).canonical_bytes() == raw


def test_a_manifest_without_record_licences_keeps_the_document_shape(
    session_factory: Callable[..., Any], tmp_path: Path
) -> None:
    _ingest(session_factory, tmp_path)
    with session_factory() as s:
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="old", intended_use="commercial", datasets=["plain"])
        )
        _, raw = manifests.manifest_document(s, m.hash)
    (src,) = json.loads(raw)["sources"]
    assert sorted(src) == sorted([
        "name", "kind", "licence", "shards", "bytes", "records", "tokens", "obligations",
    ])  # fmt: skip
