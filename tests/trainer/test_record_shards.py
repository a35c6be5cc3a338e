"""A manifest of v1 and v2 shards trains: the trainer reads both formats, verified, and
attributes consumption to shards of each."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from registry import manifests, runs
from registry.db.models import Shard
from registry.shards.format import FORMAT, FORMAT_V2
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from tests.registry.shards.test_ingest import add_source
from tests.trainer.test_run_registry import MODEL, _corpus
from trainer.client import LocalRegistry
from trainer.run import TrainSpec, train_with_registry


def test_a_manifest_of_v1_and_v2_shards_trains_on_both(
    session_factory: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    add_source(session_factory, "web", licence="MIT")
    records = [r for shard in _corpus(4) for r in shard]
    half = len(records) // 2
    v2 = "".join(
        json.dumps({"text": t, "url": f"https://h{i % 3}.example.com/{i}", "by": f"u{i % 2}"})
        + "\n"
        for i, t in enumerate(records[:half])
    )
    (tmp_path / "v2.jsonl").write_text(v2, "utf-8")
    (tmp_path / "v1.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in records[half:]), "utf-8"
    )
    store = tmp_path / "store"
    with session_factory() as s:
        for name, fields in (("v2", RecordFields(url="url", author="by")), ("v1", None)):
            ingest_paths(s, ShardStore(str(store)), [tmp_path / f"{name}.jsonl"], source="web",
                         dataset="mixed", fields=fields, shard_size=800)  # fmt: skip
        formats = dict(s.execute(select(Shard.id, Shard.format)).all())
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="mixed", intended_use="research", datasets=["mixed"])
        )
    assert set(formats.values()) == {FORMAT, FORMAT_V2}
    client = LocalRegistry(engine, store=str(store), actor="test")
    spec = TrainSpec(manifest=m.hash, overrides=MODEL, steps=12, batch_size=4,
                     checkpoint_every=6, out=str(tmp_path / "w.safetensors"), lr=1e-2, warmup=2)  # fmt: skip
    result = train_with_registry(client, spec, threads=1)
    with client._read() as s:
        used = {c.shard_id for c in runs.consumption(s, result.run_id)}
    assert {formats[i] for i in used} == {FORMAT, FORMAT_V2}, (used, formats)
