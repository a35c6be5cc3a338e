"""A small real registry for impact and takedown tests: records ingested through the real
writer (three v2 shards of the source ``web``, one shard of ``other``), manifests frozen by
the real service, runs and weights as the trainer's rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from registry.catalogue import contributors, sources
from registry.db.models import Disclosure, ShardRecordKey, TrainingRun, Weights
from registry.entities.manifests import ManifestIn
from registry.manifests import create_manifest
from registry.shards.format import ids_for
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.record_keys import record_key
from registry.shards.store import ShardStore
from tests.registry.factories import consume

FIELDS = RecordFields(url="url", author="author")

# 2 records a shard (shard size 2 x 120 bytes): shard 0 = r0 r1, shard 1 = r2 r3, shard 2 = r4 r5
WEB = [
    ("https://alpha.org/1", "ann"),
    ("https://beta.org/1", "bob"),
    ("https://alpha.org/2", "bob"),
    ("https://beta.org/2", "bob"),
    ("https://beta.org/3", "cat"),
    ("https://gamma.org/1", "cat"),
]


def text(i: int) -> str:
    return f"record {i:02d} " + "x" * (100 - 10)  # 100 bytes


def write_jsonl(path: Path, rows: list[tuple[str, str]], offset: int = 0) -> Path:
    path.write_text(
        "".join(
            json.dumps({"text": text(offset + i), "url": u, "author": a}) + "\n"
            for i, (u, a) in enumerate(rows)
        ),
        "utf-8",
    )
    return path


@dataclass
class World:
    shards: list[str]  # web's three shards, in record order
    other: str  # the shard of source other
    m1: str  # web@1 (all three shards)
    m2: str  # other@1 only
    child: str  # a child of m1 holding other's shard only
    store: ShardStore


def add_web_source(tx: Callable[..., Any]) -> None:
    with tx() as s:
        contributors.add_contributor(s, name="alice")
        for name in ("web", "other"):
            sources.add_source(
                s,
                sources.SourceIn(
                    name=name,
                    uri=f"https://example.org/{name}",
                    kind="web-crawl",
                    licence="MIT",
                    contributors=[sources.ShareIn(contributor="alice", share=Decimal(1))],
                    terms=sources.parse_terms("per-mtok:1000:EUR"),
                ),
            )


def ingest_web(tx: Callable[..., Any], store: ShardStore, tmp: Path) -> tuple[list[str], str]:
    with tx() as s:
        web = ingest_paths(s, store, [write_jsonl(tmp / "web.jsonl", WEB)], source="web",
                           dataset="web@1", shard_size=200, fields=FIELDS)  # fmt: skip
        other = ingest_paths(
            s, store, [write_jsonl(tmp / "other.jsonl", [("https://delta.org/1", "dan")], 10)],
            source="other", dataset="other@1", shard_size=200, fields=FIELDS,
        )  # fmt: skip
        assert len(web.shard_ids) == 3
        ids = [shard_of(s, text(i)) for i in (0, 2, 4)]  # in record order
        assert sorted(ids) == sorted(web.shard_ids)
    return ids, other.shard_ids[0]


def record_id(t: str) -> str:
    import pyarrow as pa

    return str(ids_for(pa.array([t])).to_pylist()[0])


def shard_of(s: Any, t: str) -> str:
    """The shard holding the record with text ``t`` (through the record key index)."""
    key = record_key(record_id(t))
    return str(
        s.scalar(
            select(ShardRecordKey.shard_id).where(
                ShardRecordKey.kind == "record", ShardRecordKey.key == key
            )
        )
    )


def run(s: Any, run_id: str, manifest: str, consumed: dict[str, tuple[int, int]],
        status: str = "completed", steps: int = 10) -> None:  # fmt: skip
    s.execute(insert(TrainingRun), [{
        "id": run_id, "manifest_hash": manifest, "status": status, "config": "{}", "seed": 0,
        "tokenizer": "provreg.bytes/1", "code_version": "test", "steps_done": steps,
    }])  # fmt: skip
    if consumed:
        consume(s, run_id, consumed)


def build(tx: Callable[..., Any], tmp: Path) -> World:
    """Two manifests (m1 over web, m2 over other), a child of m1; runs r1 (m1, one full pass),
    r2 (m1, stopped early inside shard 0), r3 (the child); weights of r1 and r3; disclosures of
    m1, r2 and r3's weights; r1 settled."""
    store = ShardStore(tmp / "store")
    add_web_source(tx)
    ids, other = ingest_web(tx, store, tmp)
    with tx() as s:
        m1 = create_manifest(s, ManifestIn(name="m1", intended_use="research", datasets=["web@1"]))
        m2 = create_manifest(
            s, ManifestIn(name="m2", intended_use="research", datasets=["other@1"])
        )
        child = create_manifest(
            s,
            ManifestIn(name="child", intended_use="research", datasets=["other@1"], parent=m1.hash),
        )
        full = {i: (202, 2) for i in ids}
        run(s, "r1", m1.hash, full)
        run(s, "r2", m1.hash, {ids[0]: (101, 1)}, status="failed", steps=1)
        run(s, "r3", child.hash, {other: (101, 1)})
        s.execute(insert(Weights), [
            {"sha256": "a" * 64, "run_id": "r1", "manifest_hash": m1.hash, "path": "w1.safetensors", "bytes": 1},
            {"sha256": "b" * 64, "run_id": "r3", "manifest_hash": child.hash, "path": "w3.safetensors", "bytes": 1},
        ])  # fmt: skip
        s.execute(insert(Disclosure), [
            {"hash": k * 64, "subject_kind": kind, "subject": subj, "format": "json",
             "media_type": "application/json", "content": b"{}"}
            for k, kind, subj in (("1", "manifest", m1.hash), ("2", "run", "r2"),
                                  ("3", "weights", "b" * 64), ("4", "manifest", m2.hash))
        ])  # fmt: skip
    from registry.ledger import settle_run

    with tx() as s:
        settle_run(s, "r1")
    return World(ids, other, m1.hash, m2.hash, child.hash, store)
