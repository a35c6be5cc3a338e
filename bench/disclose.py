"""JSON disclosure of a manifest of 1,000,000 shards over 10,000 sources (``--shards`` scales),
whose records come from 100,000 registrable domains (``--domains``; each shard holds
``--domains-per-shard`` of them, as ingest's per-shard ``shard_domains`` rows).

Rows are written with raw sqlite3 into a fresh SQLite file under /tmp (no manifest service: the
bench measures the disclosure, not manifest creation); the record figures are then frozen as
creation freezes them (``registry.disclosure.frozen``, timed and printed apart), and the same
figures summed from the shard rows (what a disclosure did before) are timed after it. Prints the disclosure's wall time and its
ratio to a plain DuckDB GROUP BY source over the same rows (already in Arrow), measured in the
same run, and to a plain DuckDB GROUP BY domain over the same (shard, domain) rows. Targets:
at most 5 s for 1M shards, and at most 20x the GROUP BY domain.

    python -m bench.disclose [--shards 1000000] [--sources 10000] [--domains 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import tempfile
import time
from pathlib import Path

KINDS = ("web-crawl", "public-dataset", "licensed", "user-contributed", "synthetic", "proprietary")
LICENCES = ("MIT", "CC-BY-4.0", "CC-BY-SA-4.0 OR MIT", "Apache-2.0", "CC0-1.0")


def build(path: Path, shards: int, sources: int, domains: int = 0, per_shard: int = 3) -> str:
    from manifests.canonical import canonical_json, sha256_hex
    from manifests.merkle import merkle_root
    from registry.catalogue import licences
    from registry.db import migrate
    from registry.db.engine import make_engine, transaction

    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with transaction(engine, actor="bench") as session:
        licences.seed(session)
    engine.dispose()
    ids = [hashlib.sha256(i.to_bytes(8, "big")).hexdigest() for i in range(shards)]
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO sources (id, name, uri, kind, licence_expression, tdm_checked, tdm_respected,"
        " pii, consent_status, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                s + 1,
                f"src-{s}",
                f"https://site{s % 2000}.example/{s}",
                KINDS[s % 6],
                LICENCES[s % 5],
                1,
                1,
                0,
                "not-required",
                "active",
                "2026-01-01 00:00:00",
            )
            for s in range(sources)
        ],
    )
    per: dict[int, list[int]] = {}
    rows = []
    for i, sid in enumerate(ids):
        src = i % sources + 1
        b, r, t = 1000 + i % 97, 10 + i % 13, 2000 + i % 101
        agg = per.setdefault(src, [0, 0, 0, 0])
        agg[0] += 1
        agg[1] += b
        agg[2] += r
        agg[3] += t
        rows.append(
            (sid, src, b, r, t, "parquet", f"file:///s/{sid}", "active", "2026-01-01 00:00:00")
        )
    con.executemany(
        "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, status,"
        " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    if domains:
        con.execute(
            "UPDATE shards SET format = 'provreg-shard-v2', records_from = '2024-01-01', "
            "records_to = '2024-12-31'"
        )
        con.executemany(
            "INSERT INTO shard_domains (shard_id, domain, records, bytes, tokens) "
            "VALUES (?,?,?,?,?)",
            (
                (sid, f"site{(i * 7 + j * 7919) % domains}.example.com", 3, 300 + j, 303 + j)
                for i, sid in enumerate(ids)
                for j in range(per_shard)
            ),
        )
    # The document as ``manifests.document`` lays it out, built as plain data: validating 10,000
    # licence expressions one by one would dominate the set-up, not the measured disclosure.
    root = merkle_root(sorted(ids))
    document = {
        "schema": "provreg.manifest/1",
        "name": "bench",
        "created_at": "2026-01-01T00:00:00Z",
        "intended_use": "research",
        "parent": None,
        "merkle": {"algorithm": "rfc6962-sha256", "root": root, "leaves": shards},
        "totals": {
            "shards": shards,
            "bytes": sum(a[1] for a in per.values()),
            "records": sum(a[2] for a in per.values()),
            "tokens": sum(a[3] for a in per.values()),
        },
        "licences": [
            {"expression": e, "obligations": []}
            for e in sorted({LICENCES[(s - 1) % 5] for s in per})
        ],
        "sources": sorted(
            (
                {
                    "name": f"src-{s - 1}",
                    "kind": KINDS[(s - 1) % 6],
                    "licence": LICENCES[(s - 1) % 5],
                    "shards": a[0],
                    "bytes": a[1],
                    "records": a[2],
                    "tokens": a[3],
                    "obligations": [],
                }
                for s, a in per.items()
            ),
            key=lambda x: x["name"],
        ),
        "waivers": [],
    }
    text = canonical_json(document)
    digest = sha256_hex(text)
    totals = document["totals"]
    con.execute(
        "INSERT INTO manifests (hash, name, intended_use, parent_hash, merkle_root, shard_count,"
        " total_bytes, total_records, total_tokens, document, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            digest,
            "bench",
            "research",
            None,
            root,
            shards,
            totals["bytes"],
            totals["records"],
            totals["tokens"],
            text.decode(),
            "2026-01-01 00:00:00",
        ),
    )
    con.executemany(
        "INSERT INTO manifest_shards (manifest_hash, shard_id) VALUES (?, ?)",
        [(digest, s) for s in ids],
    )
    con.commit()
    con.close()
    return digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=100_000, help="0: no record domains")
    parser.add_argument("--domains-per-shard", type=int, default=3)
    args = parser.parse_args()
    import duckdb  # imported before timing, as pyarrow below: a one-off cost per process
    import pyarrow

    from registry import disclosure
    from registry.db.engine import make_engine, transaction
    from registry.disclosure.aggregate import _live_records
    from registry.disclosure.frozen import freeze, frozen_records

    pyarrow.array([1], pyarrow.int64())  # pyarrow's first array loads pandas: not the bench's cost
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        digest = build(
            path, args.shards, min(args.sources, args.shards), args.domains, args.domains_per_shard
        )
        print(
            f"built {args.shards:,} shards over {args.sources:,} sources and {args.domains:,} "
            f"domains in {time.perf_counter() - t0:.1f}s"
        )
        engine = make_engine(f"sqlite:///{path}")
        # what manifest creation does after inserting the shard rows (build skips the service)
        t0 = time.perf_counter()
        with transaction(engine, actor="bench") as session:
            freeze(session, digest)
        frozen_s = time.perf_counter() - t0
        print(f"record figures frozen (as manifest creation does, once): {frozen_s:.2f}s")
        with transaction(engine, actor="bench", write=False) as session:
            t0 = time.perf_counter()
            facts = disclosure.build_facts(session, digest)
            content = disclosure.render(facts, "json")
            elapsed = time.perf_counter() - t0
            t0 = time.perf_counter()
            live = _live_records(session, [digest])
            live_s = time.perf_counter() - t0
            if live != frozen_records(session, digest):
                raise AssertionError("the frozen record figures differ from the shard rows' sums")
            print(
                f"the record figures summed from the shard rows instead (a chain's way, and "
                f"every disclosure's before they were frozen): {live_s:.2f}s"
            )
            rows = (
                session.connection()
                .exec_driver_sql(
                    "SELECT s.source_id, s.bytes, s.records, s.tokens FROM shards s JOIN manifest_shards m"
                    " ON m.shard_id = s.id WHERE m.manifest_hash = ?",
                    (digest,),
                )
                .all()
            )
            domain_rows = (
                session.connection()
                .exec_driver_sql(
                    "SELECT d.shard_id, d.domain, d.records, d.bytes, d.tokens FROM shard_domains d"
                    " JOIN manifest_shards m ON m.shard_id = d.shard_id WHERE m.manifest_hash = ?",
                    (digest,),
                )
                .all()
            )
        columns = list(zip(*rows, strict=True))
        table = pyarrow.table(
            [pyarrow.array(c, pyarrow.int64()) for c in columns],
            names=["source_id", "bytes", "records", "tokens"],
        )
        assert json.loads(content)["totals"]["shards"] == args.shards
        con = duckdb.connect()
        con.register("shard_rows", table)
        t0 = time.perf_counter()
        con.execute(
            "SELECT source_id, count(*), sum(bytes), sum(records), sum(tokens) "
            "FROM shard_rows GROUP BY source_id"
        ).fetchall()
        baseline = time.perf_counter() - t0
        by_domain = float("nan")
        if domain_rows:
            dcols = list(zip(*domain_rows, strict=True))
            dtable = pyarrow.table(
                [pyarrow.array(dcols[0]), pyarrow.array(dcols[1])]
                + [pyarrow.array(c, pyarrow.int64()) for c in dcols[2:]],
                names=["shard_id", "domain", "records", "bytes", "tokens"],
            )
            con.register("domain_rows", dtable)
            t0 = time.perf_counter()
            con.execute(
                "SELECT domain, sum(records), sum(bytes), sum(tokens) FROM domain_rows "
                "GROUP BY domain"
            ).fetchall()
            by_domain = time.perf_counter() - t0
            listed = len(json.loads(content)["records"]["domains"])
            print(f"record domains: {len(domain_rows):,} (shard, domain) rows, {listed:,} listed")
        engine.dispose()
    verdict = "within" if elapsed <= 5 else "OVER"
    print(f"JSON disclosure: {elapsed:.2f}s ({len(content):,} bytes), {verdict} the 5 s target")
    print(f"plain DuckDB GROUP BY source over the same rows: {baseline * 1000:.1f} ms")
    print(f"ratio disclosure / GROUP BY source: {elapsed / baseline:.0f}x")
    if domain_rows:
        print(
            f"plain DuckDB GROUP BY domain over the (shard, domain) rows: {by_domain * 1000:.1f} ms"
        )
        print(f"ratio disclosure / GROUP BY domain: {elapsed / by_domain:.0f}x (target <= 20x)")


if __name__ == "__main__":
    main()
