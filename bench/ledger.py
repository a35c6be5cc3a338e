"""Ledger benchmarks: settling a huge run, and one contributor's statement among many rows.

    python -m bench.ledger [--rows 1000000] [--contributors 100000] [--ledger-rows 10000000]

1. Settle one run with ``--rows`` consumption rows (one shard each) over ``--contributors``
   contributors (10 per source) on a fresh SQLite file, through ``ledger.settle_run`` and a
   committed transaction. Baseline in the same run: DuckDB computing the same per-source token
   sums from Arrow tables of the same rows (its sqlite scanner cannot be downloaded here).
2. Settle one run of ``--rows`` consumption rows whose records come from ``--authors``
   authors (sources paying authors 0.7), ``--repeat`` times on fresh copies. Baseline after
   each: DuckDB computing the same per-author sums from Arrow tables of the same rows.
3. A statement (``ledger.statement``) for one contributor among ``--ledger-rows`` ledger rows.
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


def _manifest_and_run(conn: sqlite3.Connection, rows: int, *, tokenizer: str) -> list[str]:
    """The bench manifest of ``rows`` shards and its completed run; the shard ids to insert."""
    conn.execute(
        "INSERT INTO manifests (hash, name, intended_use, merkle_root, shard_count, total_bytes,"
        " total_records, total_tokens, document, created_at) VALUES (?, 'bench', 'research', ?, ?,"
        " 0, 0, 0, '{}', ?)",
        ("m" * 64, "0" * 64, rows, STAMP),
    )
    conn.execute(
        "INSERT INTO training_runs (id, manifest_hash, status, config, seed, tokenizer, code_version,"
        " steps_done, started_at, finished_at) VALUES ('bench', ?, 'completed', '{}', 0, ?,"
        " 'bench', 0, ?, ?)",
        ("m" * 64, tokenizer, STAMP, STAMP),
    )
    return [hashlib.sha256(i.to_bytes(8, "little")).hexdigest() for i in range(rows)]


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
    ids = _manifest_and_run(conn, rows, tokenizer="bytes")
    conn.executemany(
        "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, status,"
        " created_at) VALUES (?, ?, 1, 1, 1, 'jsonl', 's', 'active', ?)",
        ((h, i % n_sources + 1, STAMP) for i, h in enumerate(ids)),
    )
    conn.executemany(
        "INSERT INTO consumption (run_id, shard_id, tokens, records, updated_at, source_id,"
        " shard_tokens, shard_records) VALUES ('bench', ?, ?, 1, ?, ?, 1, 1)",
        ((h, 1000 + (i * 7919) % 100_000, STAMP, i % n_sources + 1) for i, h in enumerate(ids)),
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


AUTHOR_SOURCES = 10


def build_authors_db(path: Path, rows: int, authors: int) -> None:
    """``AUTHOR_SOURCES`` sources paying authors 0.7 (one source-level contributor each), one
    shard per row (2 records: one by author ``a{i % authors}``, one without author), consumed in
    1 to 3 whole passes; ``authors`` author contributors mapped from (source, key)."""
    n = AUTHOR_SOURCES
    conn = _connect(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO contributors (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
        [(i + 1, f"pub{i + 1}", "organisation", STAMP) for i in range(n)]
        + [(n + a + 1, f"s{a % n + 1}:a{a}", "author", STAMP) for a in range(authors)],
    )
    conn.executemany(
        "INSERT INTO sources (id, name, uri, kind, licence_expression, tdm_checked, tdm_respected,"
        " pii, consent_status, status, created_at, pay_authors) VALUES (?, ?, 'u',"
        " 'user-contributed', 'MIT', 0, 0, 0, 'consented', 'active', ?, '0.7')",
        ((s + 1, f"s{s + 1}", STAMP) for s in range(n)),
    )
    conn.executemany(
        "INSERT INTO compensation_terms (source_id, model, amount, currency) VALUES (?, 'per-mtok', ?, 'EUR')",
        ((s + 1, f"{1 + s}.37") for s in range(n)),
    )
    conn.executemany(
        "INSERT INTO source_contributors (source_id, contributor_id, share) VALUES (?, ?, '1')",
        ((s + 1, s + 1) for s in range(n)),
    )
    conn.executemany(
        "INSERT INTO source_authors (source_id, author, contributor_id) VALUES (?, ?, ?)",
        ((a % n + 1, f"a{a}", n + a + 1) for a in range(authors)),
    )
    ids = _manifest_and_run(conn, rows, tokenizer="provreg.bytes/1")
    conn.executemany(
        "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, status,"
        " created_at) VALUES (?, ?, 1, 2, ?, 'provreg-shard-v2', 's', 'active', ?)",
        ((h, (i % authors) % n + 1, 100 + i % 50, STAMP) for i, h in enumerate(ids)),
    )
    conn.executemany(
        "INSERT INTO shard_authors (shard_id, author, records, tokens) VALUES (?, ?, 1, ?)",
        ((h, f"a{i % authors}", 90 + i % 50) for i, h in enumerate(ids)),
    )
    conn.executemany(
        "INSERT INTO consumption (run_id, shard_id, tokens, records, updated_at, source_id,"
        " shard_tokens, shard_records) VALUES ('bench', ?, ?, ?, ?, ?, ?, 2)",
        (
            (
                h,
                (1 + i % 3) * (100 + i % 50),
                (1 + i % 3) * 2,
                STAMP,
                (i % authors) % n + 1,
                100 + i % 50,
            )
            for i, h in enumerate(ids)
        ),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def duckdb_author_sums(path: Path) -> tuple[dict[tuple[int, str], int], float]:
    """Per-(source, author) tokens in DuckDB from Arrow tables of the same rows: (sums, query s)."""
    import duckdb
    import pyarrow as pa

    conn = sqlite3.connect(path)
    tables = {
        "shards": ("id, source_id, tokens", ["id", "source_id", "tokens"]),
        "shard_authors": ("shard_id, author, tokens", ["shard_id", "author", "tokens"]),
        "consumption": ("shard_id, tokens", ["shard_id", "tokens"]),
    }
    db = duckdb.connect()
    for name, (cols, names) in tables.items():
        got = conn.execute(f"SELECT {cols} FROM {name}").fetchall()
        db.register(name, pa.table({c: [r[i] for r in got] for i, c in enumerate(names)}))
    conn.close()
    t0 = time.perf_counter()
    got = db.execute(
        "SELECT s.source_id, a.author, SUM(c.tokens // s.tokens * a.tokens) FROM consumption c"
        " JOIN shards s ON s.id = c.shard_id JOIN shard_authors a ON a.shard_id = s.id"
        " GROUP BY s.source_id, a.author"
    ).fetchall()
    query = time.perf_counter() - t0
    db.close()
    return {(int(s), str(a)): int(t) for s, a, t in got}, query


def bench_authors(workdir: Path, rows: int, authors: int, repeat: int) -> None:
    """Settle a run whose records come from ``authors`` authors, ``repeat`` times on fresh
    copies of one database; each time the DuckDB baseline right after it."""
    base = workdir / "authors.db"
    t0 = time.perf_counter()
    _fresh_db(base)
    build_authors_db(base, rows, authors)
    print(
        f"authors: built {rows:,} consumption rows from {authors:,} authors in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    settle_times, duck_times, ratios = [], [], []
    for i in range(repeat):
        path = workdir / f"authors-{i}.db"
        shutil.copy(base, path)
        eng = make_engine(f"sqlite:///{path}")
        t0 = time.perf_counter()
        with transaction(eng, actor="bench") as session:
            out = ledger.settle_run(session, "bench")
        settle_s = time.perf_counter() - t0
        with eng.connect() as conn:
            mine = {
                (int(s), str(a)): int(t)
                for s, a, t in conn.exec_driver_sql(
                    "SELECT source_id, author, tokens FROM author_consumption WHERE author != ''"
                )
            }
        eng.dispose()
        duck, duck_s = duckdb_author_sums(path)
        if duck != mine:
            raise SystemExit("DuckDB and settlement disagree on the per-author sums")
        path.unlink()
        settle_times.append(settle_s)
        duck_times.append(duck_s)
        ratios.append(settle_s / duck_s)
        print(
            f"authors: run {i + 1}: settle_run {settle_s:.2f} s, {out.entries_added:,} entries; "
            f"DuckDB per-author sums {duck_s * 1000:.0f} ms; ratio {settle_s / duck_s:.1f}x"
        )
    med = statistics.median(settle_times)
    print(
        f"authors: settle_run median {med:.2f} s (min {min(settle_times):.2f}, max "
        f"{max(settle_times):.2f}) {'<=' if med <= 10 else '>'} 10 s target; DuckDB median "
        f"{statistics.median(duck_times) * 1000:.0f} ms; ratio median "
        f"{statistics.median(ratios):.1f}x (min {min(ratios):.1f}, max {max(ratios):.1f}) "
        f"{'<=' if statistics.median(ratios) <= 10 else '>'} 10x target"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="consumption rows to settle")
    parser.add_argument("--contributors", type=int, default=100_000)
    parser.add_argument(
        "--ledger-rows", type=int, default=10_000_000, help="ledger rows for the statement"
    )
    parser.add_argument("--authors", type=int, default=100_000, help="authors of the records")
    parser.add_argument("--repeat", type=int, default=3, help="settlements of the author run")
    parser.add_argument(
        "--only", choices=["settle", "authors", "statement"], help="run one benchmark"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases in /tmp")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="provreg-bench-ledger-"))
    try:
        if args.only in (None, "settle"):
            bench_settle(workdir, args.rows, args.contributors)
        if args.only in (None, "authors"):
            bench_authors(workdir, args.rows, args.authors, args.repeat)
        if args.only in (None, "statement"):
            bench_statement(workdir, args.ledger_rows, args.contributors)
    finally:
        if args.keep:
            print(f"databases kept in {workdir}")
        else:
            shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
