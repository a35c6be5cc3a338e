"""Record-proof benchmark: proof size and verify time, and what record roots cost ingest.

    python -m bench.record_proof [--records 100000] [--shards 1000] [--ingest-records 60000]

1. For each (records per shard, shards): a two-level proof (record -> shard record root ->
   ``provreg.manifest/2`` root), its length against the bound ceil(log2 R) + ceil(log2 S)
   (<= 2 ceil(log2 max)), and ``verify_record_proof`` time (median of many, with the spread;
   target < 1 ms). Only the proven shard's record tree is built: the other shards' record roots
   are random, which the manifest tree cannot tell apart.
2. Ingest's shard writer (``registry.shards.format.ShardWriter``: record ids, Parquet, zstd,
   file hash, and now the record tree) over the same texts with and without record roots,
   interleaved, repeated; the ratio of medians is the overhead (target <= 5%).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from manifests.document import SCHEMA_V2, ManifestDocument, ManifestLicence, ManifestSource
from manifests.merkle import MerkleTree
from manifests.records import RecordProof, RecordTree, verify_record_proof


def _proof(records: int, shards: int, seed: int = 7) -> tuple[RecordProof, dict[str, object]]:
    rng = random.Random(seed)
    ids = [hashlib.sha256(f"record {i}".encode()).hexdigest() for i in range(records)]
    tree = RecordTree(ids)
    shard_ids = sorted(hashlib.sha256(f"shard {i}".encode()).hexdigest() for i in range(shards))
    roots = [rng.randbytes(32).hex() for _ in shard_ids]
    leaf = shards // 2
    roots[leaf] = tree.root
    manifest = MerkleTree(shard_ids, roots)
    document = ManifestDocument(
        name="bench",
        created_at="2026-01-01T00:00:00Z",
        intended_use="research",
        parent=None,
        merkle_root=manifest.root,
        shard_count=shards,
        total_bytes=0,
        total_records=0,
        total_tokens=0,
        licences=(ManifestLicence("MIT", ()),),
        sources=(ManifestSource("bench", "web-crawl", "MIT", shards, 0, 0, 0),),
        schema=SCHEMA_V2,
    )
    shard_proof = manifest.inclusion_proof(leaf)
    index = records // 2 + 1 if records > 2 else 0
    proof = RecordProof(
        manifest=document.hash,
        record=ids[index],
        shard=shard_ids[leaf],
        record_index=index,
        record_count=records,
        record_path=tree.path(index),
        record_root=tree.root,
        leaf_index=leaf,
        leaf_count=shards,
        manifest_path=shard_proof.path,
        manifest_root=manifest.root,
    )
    return proof, document.to_dict()


def bench_proofs(configs: list[tuple[int, int]]) -> None:
    print("records/shard  shards  proof hashes  bound  verify median (spread) us")
    for records, shards in configs:
        proof, document = _proof(records, shards)
        verify_record_proof(proof, document)  # a valid proof, or this raises
        times = []
        for _ in range(300):
            t = time.perf_counter()
            verify_record_proof(proof, document)
            times.append(time.perf_counter() - t)
        hashes = len(proof.record_path) + len(proof.manifest_path)
        bound = math.ceil(math.log2(records)) + math.ceil(math.log2(shards))
        q = statistics.quantiles(times, n=20)
        print(
            f"{records:>13,}  {shards:>6,}  {hashes:>12}  {bound:>5}  "
            f"{statistics.median(times) * 1e6:>8.0f} ({q[0] * 1e6:.0f}-{q[-1] * 1e6:.0f})"
            f"   2*ceil(log2 max) = {2 * math.ceil(math.log2(max(records, shards)))}"
        )


def _texts(n: int, words_per_text: int = 100, seed: int = 3) -> list[object]:
    """Batches of varied English-like texts (about 6 bytes a word), as Arrow arrays."""
    import pyarrow as pa

    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(5000)
    ]
    batches, batch = [], []
    for i in range(n):
        batch.append(f"{i} " + " ".join(rng.choices(words, k=words_per_text)))
        if len(batch) == 8192:
            batches.append(pa.array(batch, pa.string()))
            batch = []
    if batch:
        batches.append(pa.array(batch, pa.string()))
    return batches


def _write(batches: list[object], record_roots: bool) -> float:
    from registry.shards.format import ShardWriter

    with tempfile.TemporaryDirectory() as tmp:
        got: list[object] = []
        writer = ShardWriter(
            Path(tmp), got.append, shard_bytes=16 * 1024 * 1024, record_roots=record_roots
        )
        t = time.perf_counter()
        for b in batches:
            writer.write(b)  # type: ignore[arg-type]
        writer.close()
        return time.perf_counter() - t


def bench_ingest(records: int, repeat: int, words: int = 100) -> None:
    batches = _texts(records, words)
    _write(batches, True)  # warm up imports and caches
    with_roots, without = [], []
    for _ in range(repeat):  # interleaved, so drift hits both alike
        without.append(_write(batches, False))
        with_roots.append(_write(batches, True))
    a, b = statistics.median(with_roots), statistics.median(without)
    print(
        f"\ningest writer, {records:,} records of ~{words * 6} B, {repeat} runs each, interleaved:\n"
        f"  without record roots: median {b:.3f}s (min {min(without):.3f}, max {max(without):.3f})\n"
        f"  with record roots:    median {a:.3f}s (min {min(with_roots):.3f}, "
        f"max {max(with_roots):.3f})\n"
        f"  ratio: {a / b:.3f}x ({(a / b - 1) * 100:+.1f}%; target <= +5%)"
    )


def _ingest_once(jsonl: Path, record_roots: bool) -> float:
    """The real ingest path (``ingest_paths``: read JSONL, write shards, register them in a
    fresh SQLite registry), timed from the call to its commit."""
    from registry.catalogue import licences
    from registry.catalogue.sources import SourceIn, add_source
    from registry.db import migrate
    from registry.db.engine import make_engine, transaction
    from registry.shards.ingest import ingest_paths
    from registry.shards.store import ShardStore

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/db.sqlite")
        migrate.upgrade(engine)
        with transaction(engine, actor="bench") as s:
            licences.seed(s)
            add_source(
                s,
                SourceIn(name="web", uri="https://web.example", kind="web-crawl",
                         licence="MIT", consent_status="not-required"),
            )  # fmt: skip
        store = ShardStore(Path(tmp) / "store")
        t = time.perf_counter()
        with transaction(engine, actor="bench") as s:
            ingest_paths(s, store, [jsonl], source="web", dataset="web",
                         shard_size=16 * 1024 * 1024, record_roots=record_roots)  # fmt: skip
        elapsed = time.perf_counter() - t
        engine.dispose()
        return elapsed


def bench_real_ingest(records: int, repeat: int, words: int = 100) -> None:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "in.jsonl"
        with jsonl.open("w", encoding="utf-8") as out:
            for batch in _texts(records, words):
                for text in batch.to_pylist():  # type: ignore[attr-defined]
                    out.write(json.dumps({"text": text}) + "\n")
        _ingest_once(jsonl, True)  # warm up
        with_roots, without = [], []
        for _ in range(repeat):
            without.append(_ingest_once(jsonl, False))
            with_roots.append(_ingest_once(jsonl, True))
    a, b = statistics.median(with_roots), statistics.median(without)
    print(
        f"\nreal ingest path (JSONL -> shards -> SQLite), {records:,} records of ~{words * 6} B, "
        f"{repeat} runs each, interleaved:\n"
        f"  without record roots: median {b:.3f}s (min {min(without):.3f}, max {max(without):.3f})\n"
        f"  with record roots:    median {a:.3f}s (min {min(with_roots):.3f}, "
        f"max {max(with_roots):.3f})\n"
        f"  ratio: {a / b:.3f}x ({(a / b - 1) * 100:+.1f}%; target <= +5%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=1000)
    parser.add_argument("--ingest-records", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_proofs([(1, 1), (7, 13), (1000, 1000), (args.records, args.shards)])
    # the record tree costs two small hashes a record, whatever its size: the ratio falls as
    # records grow, so it is measured for short records and for web-page-sized ones
    for words in (100, 500):
        bench_ingest(args.ingest_records, args.repeat, words)
        bench_real_ingest(args.ingest_records, args.repeat, words)


if __name__ == "__main__":
    main()
