"""What provenance costs a training run, measured side by side in one process.

1. tokens/s of ``train_with_registry`` (registry run, verified shards from the store, per-shard
   attribution, heartbeat, progress) against the same model, optimizer and batch shape fed from
   an in-memory tensor with no registry and no verification; for ``tiny`` and ``small`` (~11M).
   Beside it, what the verified data pipeline alone costs a batch: a figure the machine's
   drift does not swamp.
   Warmup steps are excluded; rounds alternate (ABBA), and both the best round of each side
   and the median ratio of back-to-back pairs are printed (this machine's speed drifts 10%).
2. time to first step on a large manifest (default 1 GB, ``--manifest-mb``) against the time
   to verify one of its shards: verification must not hold the first step up beyond one shard.

Usage: PYTHONPATH=. python -u -m bench.trainer [--manifest-mb 1024] [--threads N] [--device cuda] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sqlalchemy import insert

from registry import manifests
from registry.catalogue import licences, sources
from registry.db import migrate
from registry.db.engine import make_engine, transaction
from registry.db.models import Dataset, DatasetShard, Shard
from registry.shards.store import ShardStore
from trainer.client import LocalRegistry
from trainer.data import Batch, BatchStream, Cursor, shard_order
from trainer.model import GPT, config_from
from trainer.reader import ShardRef, ShardSource, read_verified, verified_loader
from trainer.run import TrainSpec, train_with_registry
from trainer.train_loop import make_optimizer, resolve_device, set_threads, train

THREADS: int | None = None
DEVICE = "cpu"
REPEATS = 7


def _texts(rng: np.random.Generator, nbytes: int, record: int) -> list[str]:
    """Random lowercase text in ``record``-byte records (fast: one numpy draw)."""
    raw = rng.integers(97, 123, size=nbytes, dtype=np.uint8)
    raw[rng.random(nbytes) < 0.17] = 32  # spaces: word-like runs
    blob = raw.tobytes().decode("ascii")
    return [blob[i : i + record] for i in range(0, len(blob), record)]


def _write(store: Path, texts: list[str]) -> tuple[str, int, int, int]:
    ids = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    tmp = store / ".tmp.parquet"
    store.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp, compression="none")
    with open(tmp, "rb") as f:
        sid = hashlib.file_digest(f, "sha256").hexdigest()
    size = tmp.stat().st_size
    target = Path(ShardStore(str(store)).path_for(sid))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(target)
    return sid, size, len(texts), sum(len(t) + 1 for t in texts)


class _CountingRegistry(LocalRegistry):
    """The local registry, counting the shard files the trainer opens."""

    opened: list[str]

    def shard_source(self, manifest_hash: str) -> ShardSource:
        inner, opened = super().shard_source(manifest_hash), self.opened

        class Counting:
            def resolve(self, shard_id: str) -> ShardRef:
                return inner.resolve(shard_id)

            def open_bytes(self, shard_id: str) -> bytes:
                opened.append(shard_id)
                return inner.open_bytes(shard_id)

        return Counting()


def _registry(
    root: Path, name: str, shard_mb: float, n_shards: int
) -> tuple[_CountingRegistry, str]:
    """A fresh SQLite registry with one source, ``n_shards`` random shards and a manifest."""
    engine = make_engine(f"sqlite:///{root / name}.db")
    migrate.upgrade(engine)
    store = root / f"{name}-store"
    rng = np.random.default_rng(0)
    with transaction(engine, actor="bench") as s:
        licences.seed(s)
        src = sources.add_source(
            s, sources.SourceIn(name="synthetic", uri="bench:", kind="synthetic", licence="CC0-1.0")
        )
        ds = Dataset(name="bench", version="1")
        s.add(ds)
        s.flush()
        rows = []
        for _ in range(n_shards):
            sid, size, records, tokens = _write(store, _texts(rng, int(shard_mb * 2**20), 4096))
            rows.append(
                {
                    "id": sid,
                    "source_id": src.id,
                    "bytes": size,
                    "records": records,
                    "tokens": tokens,
                    "format": "parquet",
                    "store_uri": ShardStore(str(store)).path_for(sid),
                    "status": "active",
                }
            )
        s.execute(insert(Shard), rows)
        s.execute(insert(DatasetShard), [{"dataset_id": ds.id, "shard_id": r["id"]} for r in rows])
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="bench", intended_use="research", datasets=["bench"])
        )
    client = _CountingRegistry(engine, store=str(store), actor="bench")
    client.opened = []
    return client, m.hash


def _rate(walls: list[float], warmup: int, tokens_per_step: int) -> float:
    measured = walls[warmup:]
    if len(measured) < 2:
        return 0.0
    return (len(measured) - 1) * tokens_per_step / (measured[-1] - measured[0])


def _baseline(config: str, batch: int, steps: int, warmup: int) -> float:
    """Same model, optimizer and batch shape, from an in-memory tensor: no registry, no checks."""
    torch.manual_seed(0)
    model = GPT(config_from(config)).to(DEVICE)
    T = model.config.block_size
    data = torch.randint(0, 256, (steps, batch, T + 1))
    cursor = Cursor(order="in-memory")
    batches = iter([Batch(data[i], {}, cursor) for i in range(steps)])
    walls: list[float] = []
    train(
        model,
        batches,
        steps=steps,
        lr=3e-3,
        warmup=min(100, steps // 10),
        weight_decay=0.1,
        grad_clip=1.0,
        on_step=lambda r: walls.append(time.perf_counter()),
        optimizer=make_optimizer(model, 3e-3, 0.1),
        device=DEVICE,
    )
    return _rate(walls, warmup, batch * (T + 1))


def _with_registry(
    client: LocalRegistry,
    manifest: str,
    out: Path,
    config: str,
    batch: int,
    steps: int,
    warmup: int,
) -> float:
    spec = TrainSpec(
        manifest=manifest,
        config=config,
        steps=steps,
        batch_size=batch,
        seed=0,
        checkpoint_every=steps,
        out=str(out),
    )
    result = train_with_registry(client, spec, threads=THREADS, device=DEVICE)
    return _rate(result.step_walls, warmup, batch * (config_from(config).block_size + 1))


def _pipeline_s(client: LocalRegistry, manifest: str, config: str, batch: int, n: int) -> float:
    """Wall seconds a batch costs the verified data pipeline with no model behind it."""
    ids = client.shard_ids(manifest)
    load = verified_loader(client.shard_source(manifest))
    block = config_from(config).block_size
    t = time.perf_counter()
    with BatchStream(ids, load, batch_size=batch, block_size=block, seed=0) as stream:
        for _ in range(n):
            next(stream)
    return (time.perf_counter() - t) / n


def throughput(root: Path, rounds: int, quick: bool) -> None:
    # 32 KB shards: a tiny step eats 2 KB, so the measured steps cross a shard boundary every
    # 16 steps and pay for resolving, hashing and parsing it as a real run does.
    client, manifest = _registry(root, "throughput", shard_mb=1 / 32, n_shards=64)
    plans = [("tiny", 16, 40 if quick else 80, 10)]
    if not quick:
        plans.append(("small", 8, 24, 4))
    for config, batch, steps, warmup in plans:
        bases, regs = [], []
        for i in range(rounds):  # ABBA: neither side always runs first
            for side in ("base", "reg") if i % 2 == 0 else ("reg", "base"):
                if side == "base":
                    bases.append(_baseline(config, batch, steps, warmup))
                else:
                    out = root / "w.safetensors"
                    regs.append(_with_registry(client, manifest, out, config, batch, steps, warmup))
        base, reg = max(bases), max(regs)
        paired = statistics.median(r / b for r, b in zip(regs, bases, strict=True))
        params = GPT(config_from(config)).num_params()
        tokens_per_step = batch * (config_from(config).block_size + 1)
        pipeline = _pipeline_s(client, manifest, config, batch, n=400)
        print(
            f"{config} ({params / 1e6:.1f}M params, batch {batch}): in-memory {base:,.0f} tok/s, "
            f"registry+verified {reg:,.0f} tok/s (best of {rounds} rounds each), "
            f"ratio {reg / base:.3f}; median of the {rounds} back-to-back pairs "
            f"{paired:.3f} (target >= 0.97); the data pipeline alone (resolve, read, hash, "
            f"parse, tokenise, batch) takes {pipeline * 1e3:.2f} ms a batch, "
            f"{pipeline / (tokens_per_step / base):.2%} of an in-memory step"
        )


def first_step(root: Path, manifest_mb: int) -> None:
    shard_mb = min(64.0, manifest_mb / 4)
    n = max(1, round(manifest_mb / shard_mb))
    t0 = time.perf_counter()
    client, manifest = _registry(root, "large", shard_mb=shard_mb, n_shards=n)
    print(
        f"large manifest: {n} shards x {shard_mb:.0f} MB written in {time.perf_counter() - t0:.1f}s"
    )
    ids = client.shard_ids(manifest)
    source = client.shard_source(manifest)
    # AdamW imports torch._dynamo lazily (about 1.5 s, once per process): pay it before timing
    # either side, or the registry run would be charged for an import the baseline skips.
    _baseline("tiny", 16, 1, 0)
    firsts, setups, verifies = [], [], []
    for i in range(REPEATS):  # medians: one sample of a 0.2 s span is at the machine's mercy
        first_shard = shard_order(ids, i, 0)[0]  # the shard the run will wait for
        read_verified(source, first_shard)  # both sides read it from a warm page cache
        t = time.perf_counter()
        read_verified(source, first_shard)
        verifies.append(time.perf_counter() - t)
        spec = TrainSpec(
            manifest=manifest,
            steps=1,
            batch_size=16,
            checkpoint_every=1,
            seed=i,  # another data order each time: another first shard
            out=str(root / "first.safetensors"),
        )
        client.opened.clear()
        result = train_with_registry(client, spec, threads=THREADS, device=DEVICE)
        assert result.first_step_s is not None
        assert len(client.opened) == 1, f"{len(client.opened)} shards opened for one step"
        firsts.append(result.first_step_s)
        t = time.perf_counter()
        _baseline("tiny", 16, 1, 0)  # model set-up and one step, no data pipeline at all
        setups.append(time.perf_counter() - t)
    first, setup, verify_one = (statistics.median(v) for v in (firsts, setups, verifies))
    ratio = statistics.median((f - s) / v for f, s, v in zip(firsts, setups, verifies, strict=True))
    print(
        f"time to first step on {n * shard_mb / 1024:.2f} GB (medians of {REPEATS}, page cache "
        f"warm): {first:.2f}s (in-memory model set-up + first step: {setup:.2f}s, so data "
        f"waited {first - setup:.2f}s); verifying one {shard_mb:.0f} MB shard: {verify_one:.2f}s; "
        f"data wait / one shard = {ratio:.2f}, the median of each repeat's ratio (target about "
        f"1: only the first shard; each run opened 1 of the {n} shards)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest-mb", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto... (both sides)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="tiny only, fewer steps")
    args = parser.parse_args()
    global THREADS, DEVICE
    THREADS = args.threads or None
    DEVICE = str(resolve_device(args.device))
    n = set_threads(THREADS)
    print(f"{n} threads, device {DEVICE}", flush=True)
    with tempfile.TemporaryDirectory(prefix="provreg-bench-") as tmp:
        throughput(Path(tmp), args.rounds, args.quick)
        first_step(Path(tmp), args.manifest_mb)


if __name__ == "__main__":
    main()
