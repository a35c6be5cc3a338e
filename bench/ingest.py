"""Ingest benchmarks, each a ratio against a baseline measured in the same run.

1. Hash path (what ``shard register`` computes): ``registry.shards.store.hash_file`` vs
   ``hashlib.file_digest`` over the same shard files, page cache warm; ``sha256sum`` beside it.
2. Full ingest of a generated JSONL corpus (default 500 MB) vs ``datasets.load_dataset("json")``
   with an empty cache directory followed by ``to_parquet``.
3. Peak RSS of the ingest (``resource.getrusage`` in its own subprocess): must stay under 1 GiB.
4. With ``--records``: the corpus carries ``url``, ``author`` and ``date`` fields, ingested with
   ``--url-field``/``--author-field``/``--date-field`` (v2 shards, profiled per domain and
   author) against the same baseline on the same file (target >= 2.0x). ``--profile`` prints
   where ingest's time goes (cProfile, cumulative, top functions).

    python -m bench.ingest [--size-mb 500] [--records] [--profile]

Everything is generated under /tmp and removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3

_OURS = """
import json, resource, sys, time
import pyarrow.json, pyarrow.parquet, pyarrow.csv, pandas  # imported before the clock, as datasets (which imports them) is
from registry.catalogue import licences, sources
from registry.db import migrate
from registry.db.engine import make_engine, transaction
from registry.shards.ingest import ingest_paths
from registry.shards.store import ShardStore
from registry.shards.record_fields import RecordFields
work, corpus, with_fields, profile = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
fields = RecordFields(url="url", author="author", created="date") if with_fields else None
engine = make_engine(f"sqlite:///{work}/bench.db")
migrate.upgrade(engine)
with transaction(engine, actor="bench") as s:
    licences.seed(s)
    sources.add_source(s, sources.SourceIn(name="gen", uri="bench", kind="synthetic", licence="CC0-1.0"))
store = ShardStore(f"{work}/store")
if profile:
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.enable()
t = time.perf_counter()
with store.track(), transaction(engine, actor="bench") as s:
    r = ingest_paths(s, store, [corpus], source="gen", dataset="bench", format="jsonl", fields=fields)
dt = time.perf_counter() - t
if profile:
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(18)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": dt, "rss": rss, "shards": len(r.shard_ids), "records": r.records,
                  "stored": r.bytes_written, "dir": str(store.root)}))
"""

_BASELINE = """
import json, resource, sys, time
import datasets
datasets.disable_progress_bars()
work, corpus = sys.argv[1], sys.argv[2]
t = time.perf_counter()
ds = datasets.load_dataset("json", data_files=corpus, split="train", cache_dir=f"{work}/hf-cache")
ds.to_parquet(f"{work}/baseline.parquet")
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": dt, "rss": rss, "records": len(ds)}))
"""


def generate(path: Path, size: int, seed: int = 1, records: bool = False) -> int:
    """JSON lines of word-salad documents (0.2-4 KB) until ``size`` bytes; returns the count.
    With ``records``, each line also has a ``url`` over 20,000 hosts of 2,000 registrable
    domains, an ``author`` of 5,000 and a ``date`` (a day of 2024, every tenth a date-time)."""
    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyzäé", k=rng.randint(2, 10)))
             for _ in range(5000)]  # fmt: skip
    pool = [" ".join(rng.choices(words, k=rng.randint(30, 600))) for _ in range(3000)]
    n = written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < size:
            lines = []
            for _ in range(1000):
                row: dict[str, object] = {"id": n, "text": f"{pool[n % 3000]} #{n}", "lang": "xx"}
                if records:
                    h = rng.randrange(20_000)
                    row["url"] = f"https://h{h % 10}.site{h // 10}.example.com/p/{n}"
                    row["author"] = f"user{rng.randrange(5000)}"
                    day = 1 + n % 28
                    row["date"] = (f"2024-{1 + n % 12:02d}-{day:02d}" if n % 10
                                   else f"2024-{1 + n % 12:02d}-{day:02d}T10:00:00+02:00")  # fmt: skip
                lines.append(json.dumps(row))
                n += 1
            chunk = "\n".join(lines) + "\n"
            f.write(chunk)
            written += len(chunk.encode())
    return n


def _run(code: str, *args: str) -> dict[str, float]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark subprocess failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_hash(files: list[Path]) -> None:
    from registry.shards.store import hash_file

    total = sum(f.stat().st_size for f in files)

    def digest_all() -> None:
        for f in files:
            with open(f, "rb") as fh:
                hashlib.file_digest(fh, "sha256")

    def ours_all() -> None:
        for f in files:
            hash_file(f)

    def sha256sum() -> None:
        subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)

    digest_all()  # warm the page cache
    for f in files:  # same answers
        with open(f, "rb") as fh:
            assert hash_file(f)[0] == hashlib.file_digest(fh, "sha256").hexdigest()
    base, ours = _best(digest_all), _best(ours_all)
    coreutils = _best(sha256sum, 1) if shutil.which("sha256sum") else float("nan")
    gb = total / 1e9
    print(f"hash path over {len(files)} shard files, {total / 1e6:.0f} MB, page cache warm:")
    print(f"  hashlib.file_digest  {gb / base:6.2f} GB/s")
    print(f"  registry hash_file   {gb / ours:6.2f} GB/s   ratio {base / ours:.2f}x (need >= 0.9x)")
    print(f"  sha256sum            {gb / coreutils:6.2f} GB/s   (coreutils; no bar)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500, help="JSONL corpus size (MB)")
    parser.add_argument("--records", action="store_true", help="url, author, date fields too")
    parser.add_argument("--profile", action="store_true", help="cProfile one ingest (stderr)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="provreg-bench-", dir="/tmp"))
    try:
        corpus = work / "corpus.jsonl"
        t = time.perf_counter()
        n = generate(corpus, args.size_mb * 1_000_000, records=args.records)
        size = corpus.stat().st_size
        print(f"corpus: {n} records, {size / 1e6:.0f} MB JSONL ({time.perf_counter() - t:.1f} s)")
        corpus.read_bytes() if size < 4 * GIB else None  # warm the page cache for both

        # alternate, best of two each: the machine is shared and noisy
        base_runs, our_runs = [], []
        for _ in range(2):
            base_runs.append(_run(_BASELINE, str(work), str(corpus)))
            shutil.rmtree(work / "hf-cache", ignore_errors=True)
            (work / "baseline.parquet").unlink(missing_ok=True)
            shutil.rmtree(work / "store", ignore_errors=True)
            for f in work.glob("bench.db*"):
                f.unlink()
            flags = ("1" if args.records else "0", "0")
            our_runs.append(_run(_OURS, str(work), str(corpus), *flags))
        base = min(base_runs, key=lambda r: r["seconds"])
        ours = min(our_runs, key=lambda r: r["seconds"])
        ours["rss"] = max(r["rss"] for r in our_runs)
        mbps = lambda r: size / 1e6 / r["seconds"]  # noqa: E731
        print("full ingest of the JSONL corpus:")
        print(f"  datasets.load_dataset(json)+to_parquet  {base['seconds']:6.1f} s  "
              f"{mbps(base):6.1f} MB/s  peak RSS {base['rss'] / 2**20:6.0f} MiB")  # fmt: skip
        need = "2.0x, with url/author/date" if args.records else "1.0x"
        print(f"  provreg ingest (+hash, register)        {ours['seconds']:6.1f} s  "
              f"{mbps(ours):6.1f} MB/s  peak RSS {ours['rss'] / 2**20:6.0f} MiB   "
              f"ratio {base['seconds'] / ours['seconds']:.2f}x (need >= {need})")  # fmt: skip
        ok_rss = ours["rss"] < GIB
        print(f"  ingest peak RSS {'<' if ok_rss else '>='} 1 GiB: {'ok' if ok_rss else 'FAIL'}; "
              f"{int(ours['shards'])} shards, {ours['stored'] / 1e6:.0f} MB stored")  # fmt: skip

        shard_files = sorted(Path(str(ours["dir"])).rglob("*.parquet"))
        bench_hash(shard_files)
        if args.profile:
            shutil.rmtree(work / "store", ignore_errors=True)
            for f in work.glob("bench.db*"):
                f.unlink()
            env = os.environ | {"PYTHONPATH": str(ROOT)}
            code = _OURS
            flags = ("1" if args.records else "0", "1")
            subprocess.run([sys.executable, "-c", code, str(work), str(corpus), *flags], env=env,
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
