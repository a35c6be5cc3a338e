"""Ledger benchmarks: settling a huge run, and one contributor's statement among many rows.

    python -m bench.ledger [--rows 1000000] [--contributors 100000] [--ledger-rows 10000000]

1. Settle one run with ``--rows`` consumption rows (one shard each) over ``--contributors``
   contributors (10 per source) on a fresh SQLite file, through ``ledger.settle_run`` and a
   committed transaction. Baseline in the same run: DuckDB computing the same per-source token
   sums from Arrow tables of the same rows (its sqlite scanner cannot be downloaded here).
2. A statement (``ledger.statement``) for one contributor among ``--ledger-rows`` ledger rows.
   Baseline: the bare indexed SELECT of that contributor's rows through sqlite3.

Build times are printed separately from the timed parts. Target: settle <= 10 s, statement
< 200 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from registry import ledger
from registry.db import migrate
from registry.db.engine import make_engine, transaction
from registry.db.models import Consumption
from registry.ledger.consumption import tokens_by_source

STAMP = "2026-01-01 00:00:00.000000"  # how SQLAlchemy stores a UTC datetime in SQLite


def _fresh_db(path: Path) -> str:
    url = f"sqlite:///{path}"
    eng = make_engine(url)
    migrate.upgrade(eng)
    eng.dispose()
    return url


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    return conn


def build_settle_db(path: Path, rows: int, contributors: int) -> None:
    """Contributors, sources (10 contributors each, per-mtok EUR/USD), one shard per row, one run."""
    per_source = 10
    n_sources = max(1, contributors // per_source)
    conn = _connect(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO contributors (id, name, kind, created_at) VALUES (?, ?, 'person', ?)",
        ((i + 1, f"c{i + 1}", STAMP) for i in range(contributors)),
    )
    conn.executemany(
        "INSERT INTO sources (id, name, uri, kind, licence_expression, tdm_checked, tdm_respected,"
        " pii, consent_status, status, created_at) VALUES (?, ?, 'u', 'licensed', 'MIT', 0, 0, 0,"
        " 'consented', 'active', ?)",
        ((s + 1, f"s{s + 1}", STAMP) for s in range(n_sources)),
    )
    conn.executemany(
        "INSERT INTO compensation_terms (source_id, model, amount, currency) VALUES (?, 'per-mtok', ?, ?)",
        (
            (s + 1, f"{1 + s % 7}.{s % 100:02d}", "EUR" if s % 2 else "USD")
            for s in range(n_sources)
        ),
    )
    # Shares 0.1 x 10, except contributor counts that do not divide evenly land on the last source.
    conn.executemany(
        "INSERT INTO source_contributors (source_id, contributor_id, share) VALUES (?, ?, ?)",
        (
            (min(c // per_source, n_sources - 1) + 1, c + 1, "0.1")
            for c in range(n_sources * per_source)
        ),
    )
    conn.execute(
        "INSERT INTO manifests (hash, name, intended_use, merkle_root, shard_count, total_bytes,"
        " total_records, total_tokens, document, created_at) VALUES (?, 'bench', 'research', ?, ?,"
        " 0, 0, 0, '{}', ?)",
        ("m" * 64, "0" * 64, rows, STAMP),
    )
    conn.execute(
        "INSERT INTO training_runs (id, manifest_hash, status, config, seed, tokenizer, code_version,"
        " steps_done, started_at, finished_at) VALUES ('bench', ?, 'completed', '{}', 0, 'bytes',"
        " 'bench', 0, ?, ?)",
        ("m" * 64, STAMP, STAMP),
    )
    ids = [hashlib.sha256(i.to_bytes(8, "little")).hexdigest() for i in range(rows)]
    conn.executemany(
        "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, status,"
        " created_at) VALUES (?, ?, 1, 1, 1, 'jsonl', 's', 'active', ?)",
        ((h, i % n_sources + 1, STAMP) for i, h in enumerate(ids)),
    )
    conn.executemany(
        "INSERT INTO consumption (run_id, shard_id, tokens, records, updated_at) VALUES ('bench', ?, ?, 1, ?)",
        ((h, 1000 + (i * 7919) % 100_000, STAMP) for i, h in enumerate(ids)),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def duckdb_sums(path: Path) -> tuple[dict[int, int], float, float]:
    """Per-source token sums in DuckDB from Arrow tables of the same rows: (sums, export s, query s)."""
    import duckdb
    import pyarrow as pa

    t0 = time.perf_counter()
    conn = sqlite3.connect(path)
    shard_rows = conn.execute("SELECT id, source_id FROM shards").fetchall()
    cons_rows = conn.execute(
        "SELECT shard_id, tokens FROM consumption WHERE run_id = 'bench'"
    ).fetchall()
    conn.close()
    shards_t = pa.table({"id": [r[0] for r in shard_rows], "source_id": [r[1] for r in shard_rows]})
    cons_t = pa.table({"shard_id": [r[0] for r in cons_rows], "tokens": [r[1] for r in cons_rows]})
    export = time.perf_counter() - t0
    db = duckdb.connect()
    db.register("shards", shards_t)
    db.register("consumption", cons_t)
    t0 = time.perf_counter()
    got = db.execute(
        "SELECT s.source_id, SUM(c.tokens) FROM consumption c JOIN shards s ON s.id = c.shard_id"
        " GROUP BY s.source_id"
    ).fetchall()
    query = time.perf_counter() - t0
    db.close()
    return {int(s): int(t) for s, t in got}, export, query


def bench_settle(workdir: Path, rows: int, contributors: int) -> None:
    path = workdir / "settle.db"
    t0 = time.perf_counter()
    url = _fresh_db(path)
    build_settle_db(path, rows, contributors)
    print(
        f"settle: built {rows:,} consumption rows, {contributors:,} contributors in {time.perf_counter() - t0:.1f} s"
    )

    eng = make_engine(url)
    t0 = time.perf_counter()
    with transaction(eng, actor="bench") as session:
        out = ledger.settle_run(session, "bench")
    settle_s = time.perf_counter() - t0
    with transaction(eng, actor="bench", write=False) as session:
        t1 = time.perf_counter()
        sums = tokens_by_source(session, Consumption.run_id == "bench")
        groupby_s = time.perf_counter() - t1
    eng.dispose()

    duck, export_s, duck_s = duckdb_sums(path)
    if duck != sums:
        raise SystemExit("DuckDB and SQLite disagree on the per-source sums")
    totals = ", ".join(m.formatted for m in out.totals)
    print(f"settle: {out.entries_added:,} entries, totals {totals}")
    print(
        f"settle: SQLite settle_run {settle_s:.2f} s (GROUP BY alone {groupby_s:.2f} s) "
        f"{'<=' if settle_s <= 10 else '>'} 10 s target"
    )
    print(
        f"settle: DuckDB same sums {duck_s * 1000:.0f} ms (Arrow export {export_s:.2f} s, not timed)"
    )
    print(f"settle: ratio settle_run / DuckDB sums = {settle_s / duck_s:.1f}x")


def build_ledger_db(path: Path, rows: int, contributors: int) -> None:
    """``rows`` ledger charges spread over ``contributors`` and 1,000 runs, generated inside SQLite
    (``INSERT ... SELECT`` from a counter: faster than any executemany)."""
    conn = _connect(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO contributors (id, name, kind, created_at) VALUES (?, ?, 'person', ?)",
        ((i + 1, f"c{i + 1}", STAMP) for i in range(contributors)),
    )
    conn.execute(
        "INSERT INTO sources (id, name, uri, kind, licence_expression, tdm_checked, tdm_respected,"
        " pii, consent_status, status, created_at) VALUES (1, 's1', 'u', 'licensed', 'MIT', 0, 0, 0,"
        " 'consented', 'active', ?)",
        (STAMP,),
    )
    conn.execute(
        "INSERT INTO manifests (hash, name, intended_use, merkle_root, shard_count, total_bytes,"
        " total_records, total_tokens, document, created_at) VALUES (?, 'bench', 'research', ?, 0,"
        " 0, 0, 0, '{}', ?)",
        ("m" * 64, "0" * 64, STAMP),
    )
    runs = 1000
    conn.executemany(
        "INSERT INTO training_runs (id, manifest_hash, status, config, seed, tokenizer, code_version,"
        " steps_done, started_at, finished_at) VALUES (?, ?, 'completed', '{}', 0, 'b', 'b', 0, ?, ?)",
        ((f"r{r:05d}", "m" * 64, STAMP, STAMP) for r in range(runs)),
    )
    # Row i: contributor i // per_c, and its j-th entry (j = i % per_c) from run j * runs // per_c,
    # created j * runs // per_c hours after the start. Rows come in key and index order, so the
    # build appends to every B-tree instead of writing all over it.
    per_c = max(1, rows // contributors)
    run_of = f"min((i % {per_c}) * {runs} / {per_c}, {runs - 1})"
    conn.execute(
        f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {rows})
        INSERT INTO ledger_entries (id, key, run_id, source_id, contributor_id, terms_model,
                                    currency, amount_minor, kind, created_at)
        SELECT i + 1, 'bench:' || printf('%010d', i), 'r' || printf('%05d', {run_of}), 1,
               min(i / {per_c}, {contributors - 1}) + 1, 'per-mtok',
               CASE WHEN i % 3 = 0 THEN 'USD' ELSE 'EUR' END, 1 + i % 997, 'charge',
               strftime('%Y-%m-%d %H:%M:%f000', '2026-01-01', '+' || ({run_of}) || ' hours')
        FROM n
        """
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def bench_statement(workdir: Path, rows: int, contributors: int) -> None:
    path = workdir / "statement.db"
    t0 = time.perf_counter()
    url = _fresh_db(path)
    build_ledger_db(path, rows, contributors)
    print(
        f"statement: built {rows:,} ledger rows over {contributors:,} contributors in {time.perf_counter() - t0:.1f} s"
    )

    who = f"c{contributors // 2}"
    eng = make_engine(url)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        with transaction(eng, actor="bench", write=False) as session:
            out = ledger.statement(session, who)
        times.append(time.perf_counter() - t0)
    eng.dispose()
    conn = sqlite3.connect(path)
    raw = []
    for _ in range(7):
        t0 = time.perf_counter()
        got = conn.execute(
            "SELECT * FROM ledger_entries WHERE contributor_id = ? ORDER BY created_at, id",
            (contributors // 2,),
        ).fetchall()
        raw.append(time.perf_counter() - t0)
    conn.close()
    if len(got) != len(out.entries):
        raise SystemExit("statement and raw SELECT disagree on the number of entries")
    med, raw_med = statistics.median(times), statistics.median(raw)
    totals = ", ".join(m.formatted for m in out.totals)
    print(f"statement: {who}: {len(out.entries)} entries, {len(out.by_run)} runs, totals {totals}")
    print(
        f"statement: ledger.statement first {times[0] * 1000:.1f} ms, median {med * 1000:.1f} ms "
        f"{'<' if max(times) < 0.2 else '>='} 200 ms target (max {max(times) * 1000:.1f} ms)"
    )
    print(f"statement: bare indexed SELECT {raw_med * 1000:.2f} ms; ratio {med / raw_med:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="consumption rows to settle")
    parser.add_argument("--contributors", type=int, default=100_000)
    parser.add_argument(
        "--ledger-rows", type=int, default=10_000_000, help="ledger rows for the statement"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases in /tmp")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="provreg-bench-ledger-"))
    try:
        bench_settle(workdir, args.rows, args.contributors)
        bench_statement(workdir, args.ledger_rows, args.contributors)
    finally:
        if args.keep:
            print(f"databases kept in {workdir}")
        else:
            shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
