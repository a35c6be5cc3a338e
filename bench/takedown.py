"""Impact and takedown at scale (issue 14).

    python -m bench.takedown [--shards 1000000] [--domains 100000] [--key-shards 1000000]
                             [--records-per-shard 100] [--takedown-shards 100] [--quick]
                             [--only domain,url,takedown]

1. Impact of one domain among ``--domains`` over ``--shards`` shards (SQLite): shard rows and
   one ``shard_domains`` row each (shard i in domain i mod D), ten manifests over them. The
   shards have no files at all (``store_uri`` names nothing), so the report proves that a
   domain query opens no shard file. Target: <= 1 s at 1M shards / 100k domains.
2. Impact of one exact URL among ``--key-shards`` x ``--records-per-shard`` records. The shard
   files are simulated: only what ingest writes from them to the registry is made, the record
   key index (``shard_record_keys``: one row per record URL, 64-bit keys). Target: <= 2 s at
   100M records (1M shards of 100).
3. Takedown of a domain spread over ``--takedown-shards`` shards (one record of it in each, of
   ~40 records) vs ``ingest`` of the same shards' records, both through the services on a
   fresh SQLite registry. Target: takedown <= 1.5x the ingest.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

from registry.catalogue import licences, sources
from registry.db import migrate
from registry.db.engine import make_engine, transaction
from registry.db.models import Manifest, ManifestShard, Shard, ShardDomain
from registry.impact.report import impact
from registry.shards.record_keys import url_key

BATCH = 50_000


def _registry(path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with transaction(engine, actor="bench") as s:
        licences.seed(s)
        sources.add_source(s, sources.SourceIn(name="crawl", uri="https://example.org",
                                               kind="web-crawl", licence="MIT"))  # fmt: skip
    return engine


def _sid(i: int) -> str:
    return f"{i:064x}"


def _shards(engine, n: int, records: int) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as c:
        for a in range(0, n, BATCH):
            c.execute(insert(Shard), [
                {"id": _sid(i), "source_id": 1, "bytes": 1000, "records": records,
                 "tokens": 1000 + records, "format": "provreg-shard-v2",
                 "store_uri": f"nowhere://{i}", "keys_indexed": True}
                for i in range(a, min(n, a + BATCH))
            ])  # fmt: skip


def _manifests(engine, n: int, count: int = 10) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as c:
        for m in range(count):
            h = f"{m + 1:064x}"
            c.execute(insert(Manifest), [{
                "hash": h, "name": f"m{m}", "intended_use": "research", "merkle_root": h,
                "shard_count": 0, "total_bytes": 0, "total_records": 0, "total_tokens": 0,
                "document": "{}"}])  # fmt: skip
            ids = range(m, n, count)
            for a in range(0, len(ids), BATCH):
                c.execute(insert(ManifestShard), [{"manifest_hash": h, "shard_id": _sid(i)}
                                                  for i in ids[a : a + BATCH]])  # fmt: skip


def domain_impact(tmp: Path, n: int, domains: int) -> float:
    engine = _registry(tmp / "domain.db")
    _shards(engine, n, 100)
    with engine.begin() as c:
        for a in range(0, n, BATCH):
            c.execute(insert(ShardDomain), [
                {"shard_id": _sid(i), "domain": f"d{i % domains}.example", "records": 100,
                 "bytes": 1000, "tokens": 1100} for i in range(a, min(n, a + BATCH))
            ])  # fmt: skip
    _manifests(engine, n)
    target = f"d{domains // 2}.example"
    with transaction(engine, actor="bench", write=False) as s:
        t = time.perf_counter()
        impact(s, "domain", f"d{domains // 3}.example")
        cold = time.perf_counter() - t  # the process's first: the suffix list, query compiling
        t = time.perf_counter()
        rep = impact(s, "domain", target)
        took = time.perf_counter() - t
    print(f"impact domain {target} among {domains:,} over {n:,} shards: {took * 1e3:.0f} ms "
          f"(first in the process {cold * 1e3:.0f} ms, loading the Public Suffix List; "
          f"{len(rep.shards)} shards, {len(rep.manifests)} manifests; no shard file exists)")  # fmt: skip
    return took


def _key_index(engine, n: int, per: int) -> None:  # type: ignore[no-untyped-def]
    """Write the key index ingest would write for ``n`` shards of ``per`` record URLs each.

    The same rows and indexes as ingest leaves, written the fast way for a bulk load: sorted
    by key (so the primary-key B-tree grows at its right edge), with the shard index dropped
    during the load and built once after it, on one raw connection without a journal.
    """
    import numpy as np
    from tqdm import tqdm

    keys = np.empty(n * per, dtype=np.int64)
    for i in tqdm(range(n), desc="url keys", unit="shard", mininterval=5, leave=False):
        keys[i * per : (i + 1) * per] = [url_key(f"https://s{i}.example/{j}") for j in range(per)]
    order = np.argsort(keys, kind="stable")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000"):
            cur.execute(f"PRAGMA {pragma}")
        cur.execute("BEGIN")  # the engine's connections are in autocommit: one transaction
        cur.execute("DROP INDEX ix_shard_record_keys_shard")
        sql = ("INSERT OR IGNORE INTO shard_record_keys (kind, key, shard_id, records, tokens) "
               "VALUES ('url', ?, ?, 1, 11)")  # fmt: skip
        for a in tqdm(range(0, len(order), 1_000_000), desc="key rows", unit="M", leave=False):
            part = order[a : a + 1_000_000]
            cur.executemany(
                sql, zip(keys[part].tolist(), map(_sid, (part // per).tolist()), strict=True)
            )
        cur.execute("CREATE INDEX ix_shard_record_keys_shard ON shard_record_keys (shard_id)")
        raw.commit()
        cur.execute("PRAGMA journal_mode=WAL")
    finally:
        raw.close()


def _evict(path: Path) -> None:
    """Drop the database file's pages from the OS page cache: the next read is from disk."""
    import os

    for f in (path, path.with_name(path.name + "-wal")):
        if f.exists():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def url_impact(tmp: Path, n: int, per: int) -> float:
    db = tmp / "url.db"
    engine = _registry(db)
    _shards(engine, n, per)
    t = time.perf_counter()
    _key_index(engine, n, per)
    built = time.perf_counter() - t
    _manifests(engine, n)
    with engine.connect() as c:
        keys = c.execute(text("SELECT count(*) FROM shard_record_keys")).scalar_one()
    engine.dispose()
    times = {}
    for label, url in (("cold", f"https://s{n // 3}.example/{per // 2}"),
                       ("warm", f"https://s{n // 5}.example/{per // 3}")):  # fmt: skip
        if label == "cold":
            _evict(db)
        engine = make_engine(f"sqlite:///{db}")
        with transaction(engine, actor="bench", write=False) as s:
            t = time.perf_counter()
            rep = impact(s, "url", url)
            times[label] = time.perf_counter() - t
        assert len(rep.shards) == 1, rep.shards
        if label == "cold":
            engine.dispose()
    size = db.stat().st_size / 2**30
    print(f"impact url among {keys:,} records ({n:,} shards x {per}, {size:.1f} GiB): "
          f"{times['warm'] * 1e3:.0f} ms in a warm process, {times['cold'] * 1e3:.0f} ms cold "
          f"(new process, the file evicted from the page cache); 1 shard; index built in "
          f"{built:.0f} s (target <= 2 s at 100M)")  # fmt: skip
    return times["cold"]


def takedown_vs_ingest(tmp: Path, n: int) -> float:
    from registry.impact.takedown import takedown
    from registry.shards.ingest import ingest_paths
    from registry.shards.record_fields import RecordFields
    from registry.shards.store import ShardStore

    rng = random.Random(14)
    fields = RecordFields(url="url", author="author")
    lines, rest = [], []
    for i in range(n):  # one record of gone.example per shard of ~40 records of ~800 bytes
        for j in range(40):
            host = "gone.example" if j == 7 else f"h{rng.randrange(1000)}.example"
            rec = {"text": f"shard {i} record {j} " + "lorem ipsum " * 66, "url": f"https://{host}/{i}/{j}",
                   "author": f"a{j % 5}"}  # fmt: skip
            lines.append(json.dumps(rec))
            if host != "gone.example":
                rest.append(json.dumps(rec))
    (tmp / "all.jsonl").write_text("\n".join(lines) + "\n")
    (tmp / "rest.jsonl").write_text("\n".join(rest) + "\n")
    size = 40 * 812
    engine = _registry(tmp / "takedown.db")
    store = ShardStore(tmp / "store")
    with transaction(engine, actor="bench") as s:
        ingest_paths(s, store, [tmp / "all.jsonl"], source="crawl", dataset="web@1",
                     shard_size=size, fields=fields)  # fmt: skip
    t = time.perf_counter()
    with store.track(), transaction(engine, actor="bench") as s:
        out = takedown(s, store, "domain", "gone.example", "bench")
    took = time.perf_counter() - t
    engine2 = _registry(tmp / "ingest.db")
    store2 = ShardStore(tmp / "store2")
    t = time.perf_counter()
    with transaction(engine2, actor="bench") as s:
        ingest_paths(s, store2, [tmp / "rest.jsonl"], source="crawl", dataset="web@1",
                     shard_size=size, fields=fields)  # fmt: skip
    base = time.perf_counter() - t
    print(f"takedown of a domain over {len(out.shards)} shards: {took:.2f} s; ingest of the "
          f"same records: {base:.2f} s; ratio {took / base:.2f}x (target <= 1.5x)")  # fmt: skip
    return took / base


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", type=int, default=1_000_000)
    p.add_argument("--domains", type=int, default=100_000)
    p.add_argument("--key-shards", type=int, default=1_000_000)
    p.add_argument("--records-per-shard", type=int, default=100)
    p.add_argument("--takedown-shards", type=int, default=100)
    p.add_argument(
        "--quick", action="store_true", help="10k shards, 1k domains, 1M keys, 20 shards"
    )
    p.add_argument("--only", default="domain,url,takedown", help="which parts, comma-separated")
    a = p.parse_args()
    if a.quick:
        a.shards, a.domains, a.key_shards, a.takedown_shards = 10_000, 1_000, 10_000, 20
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        parts = set(a.only.split(","))
        if "domain" in parts:
            domain_impact(tmp, a.shards, a.domains)
        if "url" in parts:
            url_impact(tmp, a.key_shards, a.records_per_shard)
        if "takedown" in parts:
            takedown_vs_ingest(tmp, a.takedown_shards)


if __name__ == "__main__":
    main()
