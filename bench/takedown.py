"""Impact and takedown at scale (issue 14).

    python -m bench.takedown [--shards 1000000] [--domains 100000] [--key-shards 1000000]
                             [--records-per-shard 100] [--takedown-shards 100] [--quick]

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
from registry.db.models import Manifest, ManifestShard, Shard, ShardDomain, ShardRecordKey
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
                 "store_uri": f"nowhere://{i}"}
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


def url_impact(tmp: Path, n: int, per: int) -> float:
    engine = _registry(tmp / "url.db")
    _shards(engine, n, per)
    t = time.perf_counter()
    with engine.begin() as c:
        rows = []
        for i in range(n):
            for j in range(per):
                rows.append({"kind": "url", "key": url_key(f"https://s{i}.example/{j}"),
                             "shard_id": _sid(i), "records": 1, "tokens": 11})  # fmt: skip
            if len(rows) >= BATCH:
                c.execute(insert(ShardRecordKey).prefix_with("OR IGNORE"), rows)
                rows = []
        if rows:
            c.execute(insert(ShardRecordKey).prefix_with("OR IGNORE"), rows)
    built = time.perf_counter() - t
    _manifests(engine, n)
    with engine.connect() as c:
        keys = c.execute(text("SELECT count(*) FROM shard_record_keys")).scalar_one()
    target = f"https://s{n // 3}.example/{per // 2}"
    with transaction(engine, actor="bench", write=False) as s:
        t = time.perf_counter()
        rep = impact(s, "url", target)
        took = time.perf_counter() - t
    print(f"impact url among {keys:,} records ({n:,} shards x {per}): {took * 1e3:.0f} ms "
          f"({len(rep.shards)} shard, index built in {built:.0f} s)")  # fmt: skip
    return took


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
    a = p.parse_args()
    if a.quick:
        a.shards, a.domains, a.key_shards, a.takedown_shards = 10_000, 1_000, 10_000, 20
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        domain_impact(tmp, a.shards, a.domains)
        url_impact(tmp, a.key_shards, a.records_per_shard)
        takedown_vs_ingest(tmp, a.takedown_shards)


if __name__ == "__main__":
    main()
