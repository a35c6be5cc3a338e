"""Manifest benchmark: create a manifest of N shards on SQLite vs plain sqlite3 executemany.

    python -m bench.manifest [--shards 1000000] [--sources 100]

Prints the creation time (gather, policy check, Merkle root, freeze), the baseline (the same
(manifest_hash, shard_id) rows inserted by sqlite3.executemany into a table of the same shape),
their ratio (target <= 3x), the inclusion-proof size and verify time, and peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from manifests.merkle import verify_inclusion_against_document
from registry import manifests as svc
from registry.catalogue import licences
from registry.catalogue.sources import SourceIn, add_source
from registry.db import migrate
from registry.db.engine import make_engine, transaction


def _setup(path: Path, n_shards: int, n_sources: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with transaction(engine, actor="bench") as s:
        licences.seed(s)
        for i in range(n_sources):
            add_source(
                s,
                SourceIn(
                    name=f"src-{i}",
                    uri=f"https://site{i}.example",
                    kind="web-crawl",
                    licence="CC-BY-4.0" if i % 2 else "MIT",
                    consent_status="not-required",
                ),
            )
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO datasets (id, name, version, created_at) VALUES (1, 'bench', '1', '2026-01-01')"
    )
    ids = [hashlib.sha256(i.to_bytes(8, "big")).hexdigest() for i in range(n_shards)]
    conn.executemany(
        "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, 'parquet', '', 'active', '2026-01-01')",
        ((sid, 1 + i % n_sources, 4096 + i % 7, 10, 4000) for i, sid in enumerate(ids)),
    )
    conn.executemany(
        "INSERT INTO dataset_shards (dataset_id, shard_id) VALUES (1, ?)", ((s,) for s in ids)
    )
    conn.commit()
    conn.close()


def _baseline(path: Path, ids: list[str]) -> float:
    """sqlite3.executemany of the same rows into a table shaped like manifest_shards."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE ms (manifest_hash VARCHAR(64), shard_id VARCHAR(64), PRIMARY KEY (manifest_hash, shard_id))"
    )
    conn.execute("CREATE INDEX ix_ms_shard ON ms (shard_id)")
    start = time.perf_counter()
    conn.executemany("INSERT INTO ms VALUES (?, ?)", (("f" * 64, s) for s in ids))
    conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shards", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provreg-bench-") as tmp:
        db = Path(tmp) / "registry.db"
        t0 = time.perf_counter()
        _setup(db, args.shards, args.sources)
        print(
            f"setup: {args.shards:,} shards over {args.sources} sources in {time.perf_counter() - t0:.1f}s"
        )

        engine = make_engine(f"sqlite:///{db}")
        start = time.perf_counter()
        with transaction(engine, actor="bench") as s:
            out = svc.create_manifest(
                s, svc.ManifestIn(name="bench", intended_use="commercial", datasets=["bench"])
            )
        created = time.perf_counter() - start

        with transaction(engine, actor="bench", write=False) as s:
            ids = svc.shard_ids(s, out.hash)
            proof = svc.prove(s, out.hash, ids[len(ids) // 3])
        verify_times = []
        for _ in range(200):
            t = time.perf_counter()
            ok = verify_inclusion_against_document(proof, proof.shard, out.document)
            verify_times.append(time.perf_counter() - t)
        engine.dispose()

        baseline = _baseline(Path(tmp) / "baseline.db", ids)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"manifest {out.hash[:16]}: {out.shard_count:,} shards, created, policy-checked and frozen in {created:.2f}s"
        )
        print(f"baseline sqlite3.executemany of the same rows: {baseline:.2f}s")
        print(f"ratio: {created / baseline:.2f}x the baseline (target <= 3x)")
        print(
            f"inclusion proof: {len(proof.path)} hashes (target <= 20), valid={ok}, "
            f"verify median {sorted(verify_times)[100] * 1e6:.0f} us (target < 1000 us)"
        )
        print(f"peak RSS: {peak_mib:,.0f} MiB (target < 2048 MiB)")


if __name__ == "__main__":
    main()
