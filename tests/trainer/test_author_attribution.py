"""Exact attribution from a real training run: stopped mid-way (a checkpoint inside a record),
resumed, over more than two epochs; settlement's per-author tokens equal an independent replay
of the data order (``trainer.data.shard_order``, records in file order, bytes + 1 each)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from registry import ledger
from registry.catalogue import contributors, sources
from registry.db.models import AuthorConsumption, Consumption
from registry.entities.manifests import ManifestIn
from registry.manifests import create_manifest
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from trainer.client import LocalRegistry
from trainer.data import shard_order
from trainer.run import StopRequested, TrainSpec, train_with_registry

MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}
B, ROW = 4, 33
AUTHORS = ["ann", "bob", "", "cat", "ann", "", "bob", "dan"]


def _records() -> list[dict[str, str]]:
    return [
        {"text": f"record {i} " + "xyz" * (7 + 5 * i), "author": AUTHORS[i % len(AUTHORS)],
         "url": f"https://forum.example/{i}"}
        for i in range(12)
    ]  # fmt: skip


def _replay(store: ShardStore, shard_ids: list[str], seed: int, tokens: int) -> Counter[str]:
    """Tokens per author of the first ``tokens`` stream tokens, walked record by record."""
    out: Counter[str] = Counter()
    epoch = 0
    while tokens > 0:
        for sid in shard_order(shard_ids, seed, epoch):
            table = pq.read_table(store.path_for(sid))
            for text, author in zip(
                table.column("text").to_pylist(), table.column("author").to_pylist(), strict=True
            ):
                used = min(len(text.encode()) + 1, tokens)
                out[author or ""] += used
                tokens -= used
                if tokens == 0:
                    return out
        epoch += 1
    return out


def test_a_stopped_resumed_multi_epoch_run_pays_exact_author_tokens(
    session_factory: Any, engine: Engine, tmp_path: Path
) -> None:
    store = ShardStore(tmp_path / "store")
    data = tmp_path / "forum.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _records()), "utf-8")
    with session_factory() as s:
        contributors.add_contributor(s, name="pub")
        sources.add_source(
            s,
            sources.SourceIn(
                name="forum", uri="https://forum.example", kind="user-contributed",
                licence="MIT", terms=sources.parse_terms("per-mtok:1000:EUR"),
                contributors=[sources.ShareIn(contributor="pub", share=Decimal(1))],
                pay_authors=Decimal("0.7"),
            ),
        )  # fmt: skip
        report = ingest_paths(
            s, store, [data], source="forum", dataset="forum@1", shard_size=400,
            fields=RecordFields(url="url", author="author"),
        )  # fmt: skip
        m = create_manifest(s, ManifestIn(name="m", intended_use="research", datasets=["forum@1"]))
    ids = sorted(report.shard_ids)
    assert len(ids) >= 2
    client = LocalRegistry(engine, store=str(tmp_path / "store"), actor="test")
    spec = TrainSpec(
        manifest=m.hash, overrides=MODEL, steps=24, batch_size=B, checkpoint_every=3,
        out=str(tmp_path / "model.safetensors"), lr=1e-2, warmup=2,
    )  # fmt: skip
    steps = iter(range(1, 100))
    with pytest.raises(StopRequested):
        train_with_registry(client, spec, threads=1, should_stop=lambda: next(steps) == 5)
    with session_factory() as s:
        (run_id,) = s.scalars(select(Consumption.run_id).distinct()).all()
    train_with_registry(client, resume_run=run_id, threads=1)

    consumed = 24 * B * ROW  # about 2.3 epochs of the corpus
    with session_factory() as s:
        total = sum(s.scalars(select(Consumption.tokens)).all())
    assert total == consumed
    with session_factory() as s:
        ledger.settle_run(s, run_id, store=store)
    with session_factory() as s:
        got = {
            a: t for a, t in s.execute(select(AuthorConsumption.author, AuthorConsumption.tokens))
        }
    expected = _replay(store, ids, 0, consumed)
    assert got == dict(expected)
    assert sum(got.values()) == consumed
