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
3. the library in a plain loop (``examples/lstm_lm.py``'s LSTM: ``open_run``, ``run.dataset``,
   ``run.batches``, ``run.record``, a checkpoint, stamped weights) against the same loop fed
   from an in-memory tensor (target >= 0.97).
4. DDP, 2 processes under torchrun (gloo, 1 thread each): ``trainer.ddp`` through provreg
   against the same DDP job on in-memory tensors (``bench.ddp_memory``; target >= 0.95), as
   whole jobs and interleaved block by block in one job (``bench.ddp_interleaved``: the
   library under torchrun, against the plain job checkpointing at the same steps and against
   it with no checkpoint); and the registry's consumption of every provreg run against what
   each rank fed, recomputed shard by shard.
5. byte-level BPE: training on the demo corpus (the Python standard library the demo ingests)
   through provreg (verified reads, then ``tokenizers``) against ``tokenizers`` on the same
   texts in memory, and tokenisation throughput (``BPETokenizer`` per record, as the data
   stream calls it, and batched) against ``tokenizers`` directly (targets >= 0.95).

Usage: PYTHONPATH=. python -u -m bench.trainer [--manifest-mb 1024] [--threads N] [--device cuda]
    [--quick] [--only throughput,first-step,library,ddp,bpe]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sqlalchemy import insert

from bench.interleave import plain_checkpoint, take_turns
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
    return sid, size, len(texts), sum(len(t.encode()) + 1 for t in texts)


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


def _ab(rounds: int, a: object, b: object) -> tuple[list[float], list[float]]:
    """``rounds`` ABBA rounds of two zero-argument measurements (rates: higher is better)."""
    xs: list[float] = []
    ys: list[float] = []
    for i in range(rounds):
        for side in ("a", "b") if i % 2 == 0 else ("b", "a"):
            (xs if side == "a" else ys).append((a if side == "a" else b)())  # type: ignore[operator]
    return xs, ys


def _ratio_line(what: str, base: list[float], ours: list[float], unit: str, target: float) -> str:
    paired = [o / b for o, b in zip(ours, base, strict=True)]
    return (
        f"{what}: baseline {max(base):,.0f} {unit}, provreg {max(ours):,.0f} {unit} (best of "
        f"{len(base)} each), ratio {max(ours) / max(base):.3f}; back-to-back pairs median "
        f"{statistics.median(paired):.3f}, spread {min(paired):.3f}..{max(paired):.3f} "
        f"(target >= {target})"
    )


def library_loop(root: Path, rounds: int, quick: bool) -> None:
    """The example's LSTM in a plain loop: through the library vs an in-memory tensor.

    Two measurements. (a) Whole runs, ABBA, as the other sections. (b) Interleaved blocks: both
    loops live in one process and take turns, ``BLOCK`` steps each (A B A B ...), every block
    timed, so both see the same machine from second to second (this machine's speed drifts
    more between runs than the library costs). The library checkpoints asynchronously at the
    first step of every fourth of its blocks, so its writer thread works inside its own block,
    not the in-memory one's.
    """
    from examples.lstm_lm import LSTMLanguageModel
    from trainer.library import open_run

    client, manifest = _registry(root, "library", shard_mb=1 / 32, n_shards=64)
    batch, block, dim, steps, warmup = 16, 64, 128, 40 if quick else 80, 10
    BLOCK, blocks_n = 10, 20 if quick else 100  # the interleaved measurement: 100 blocks a side

    def step(model: torch.nn.Module, opt: torch.optim.Optimizer, ids: torch.Tensor) -> float:
        logits = model(ids[:, :-1])  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.item())

    # The baseline trains on the very same token blocks, read beforehand into one tensor: the
    # numerics (and so the step time: a model learning real text is not one fed noise) match,
    # and only the data path differs.
    longest = max(steps, BLOCK * blocks_n)
    with open_run(manifest, client=client, config={}, checkpoint_dir=root / "lib-ckpt") as probe:
        blocks = [b["input_ids"] for _, b in
                  probe.batches(probe.dataset(block_size=block).loader(batch), steps=longest)]  # fmt: skip
        probe.interrupt()
    data = torch.stack(blocks)  # (steps, B, T+1)

    def in_memory_steps(
        n: int, checkpoint_at: Callable[[int], bool] = lambda i: False
    ) -> Iterator[None]:
        """The plain loop; at ``checkpoint_at`` steps it saves model and optimizer as a plain
        PyTorch loop does (``torch.save`` of both state dicts, synced to disk as ours is)."""
        torch.manual_seed(0)
        model = LSTMLanguageModel(257, dim)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for i in range(n):
            step(model, opt, data[i])
            if checkpoint_at(i):
                plain_checkpoint(root / "plain-ckpt.pt", model, opt, i)
            yield

    def library_steps(n: int, checkpoint_at: Callable[[int], bool]) -> Iterator[None]:
        run = open_run(manifest, client=client, config={"model": {"kind": "lstm", "dim": dim}},
                       checkpoint_dir=root / "lib-ckpt")  # fmt: skip
        with run:
            torch.manual_seed(0)
            model = LSTMLanguageModel(run.tokenizer.vocab_size, dim)
            opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
            loader = run.dataset(block_size=block).loader(batch)
            for i, b in run.batches(loader, steps=n):
                loss = step(model, opt, b["input_ids"])
                run.record(b, step=i, loss=loss)
                if checkpoint_at(i):
                    run.checkpoint(model, opt, step=i, wait=False)  # as the example does
                yield
            run.save_weights(model, root / "lstm.safetensors")
            run.complete()

    def timed(steps_of: Iterator[None]) -> float:
        walls = []
        for _ in steps_of:
            walls.append(time.perf_counter())
        return _rate(walls, warmup, batch * (block + 1))

    def in_memory() -> float:
        return timed(in_memory_steps(steps))

    def library() -> float:
        return timed(library_steps(steps, lambda i: i == steps // 2))

    base, ours = _ab(rounds, in_memory, library)
    print(_ratio_line(f"library plain loop (LSTM dim {dim}, batch {batch}x{block + 1}), whole "
                      "runs", base, ours, "tok/s", 0.97), flush=True)  # fmt: skip
    # the control: the in-memory loop against itself, measured the same way, shows what these
    # whole-run ratios can resolve on this machine
    a, b = _ab(rounds, in_memory, in_memory)
    aa = sorted(y / x for x, y in zip(a, b, strict=True))
    print(f"  control, the in-memory loop against itself ({len(aa)} pairs): ratios "
          f"{aa[0]:.3f}..{aa[-1]:.3f}", flush=True)  # fmt: skip

    # (b) interleaved blocks, twice: against the plain loop checkpointing as plain PyTorch does
    # at the same steps (only the data path and the checkpoint call differ: the like-for-like
    # loop), then against the plain loop with no checkpoint at all (the strict bound)
    def every(i: int) -> bool:
        return i % (4 * BLOCK) == 0 and i > 0

    for label, plain_checkpoints in (
        ("vs the plain loop saving torch.save checkpoints at the same steps", every),
        ("vs the plain loop with no checkpoints", lambda i: False),
    ):
        mem_it = in_memory_steps(BLOCK * blocks_n, plain_checkpoints)
        lib_it = library_steps(BLOCK * blocks_n, every)
        mem_s, lib_s = take_turns(mem_it, lib_it, blocks_n, BLOCK)  # the run completes after
        print(_interleaved_line(f"library plain loop, interleaved {label}", mem_s, lib_s, BLOCK,
                                0.97), flush=True)  # fmt: skip

    def pipeline_s(n: int = 300) -> float:
        """Wall seconds a batch costs the library with no model: read, verify, tokenise, pack,
        collate, agree, record (a figure the machine's drift does not swamp)."""
        with open_run(manifest, client=client, config={}, checkpoint_dir=root / "lib-ckpt") as run:
            loader = run.dataset(block_size=block).loader(batch)
            t = time.perf_counter()
            for i, b in run.batches(loader, steps=n):
                run.record(b, step=i)
            spent = (time.perf_counter() - t) / n
            run.interrupt()
        return spent

    per_batch = min(pipeline_s() for _ in range(3))
    step_s = batch * (block + 1) / max(base)
    print(
        f"  the library's data path alone: {per_batch * 1e3:.2f} ms a batch (best of 3), "
        f"{per_batch / step_s:.2%} of an in-memory step ({step_s * 1e3:.1f} ms): a loop "
        f"bound by it would run at {step_s / (step_s + per_batch):.3f} of in-memory",
        flush=True,
    )


def _torchrun(module: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", module, *args]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ddp(root: Path, rounds: int, quick: bool) -> None:
    """2-process DDP through provreg vs the same job on in-memory tensors: (a) whole jobs, ABBA,
    (b) interleaved in one job (``bench.ddp_interleaved``); then the consumption check."""
    client, manifest = _registry(root, "ddp", shard_mb=1 / 32, n_shards=64)
    config, batch, steps, warmup = "tiny", 16, 30 if quick else 60, 8
    T = config_from(config).block_size
    env = {**os.environ, "PROVREG_DATABASE_URL": f"sqlite:///{root / 'ddp'}.db",
           "PROVREG_STORE": str(root / "ddp-store"), "PROVREG_ACTOR": "bench",
           "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
    run_ids: list[str] = []

    def memory() -> float:
        out = _torchrun("bench.ddp_memory", [config, str(batch), str(steps)], env)
        return 2 * _rate(out["step_walls"], warmup, batch * (T + 1))  # type: ignore[arg-type]

    def provreg() -> float:
        args = ["--manifest", manifest, "--config", config, "--steps", str(steps),
                "--batch-size", str(batch), "--checkpoint-every", str(steps // 2),
                "--async-checkpoint",
                "--threads", "1", "--json", "--out", str(root / "ddp.safetensors")]  # fmt: skip
        out = _torchrun("trainer.ddp", args, env)
        run_ids.append(str(out["run"]))
        return 2 * _rate(out["step_walls"], warmup, batch * (T + 1))  # type: ignore[arg-type]

    base, ours = _ab(rounds, memory, provreg)
    print(_ratio_line("DDP 2 processes x 1 thread (gloo, tiny GPT), whole jobs", base, ours,
                      "tok/s", 0.95), flush=True)  # fmt: skip
    # (b) interleaved: both jobs in one torchrun job, taking turns block by block
    block, blocks_n = 4, 12 if quick else 60
    out = _torchrun("bench.ddp_interleaved",
                    [manifest, config, str(batch), str(block), str(blocks_n), str(root)], env)  # fmt: skip
    for label, sides in out["blocks"].items():  # type: ignore[attr-defined]
        print(_interleaved_line(f"DDP 2 processes, interleaved, {_VARIANTS[label]}",
                                sides["memory"], sides["provreg"], block, 0.95), flush=True)  # fmt: skip
    # What each rank fed, recomputed through the dataset, against what the registry recorded.
    checked = [(r, steps) for r in run_ids] + [(r, int(out["steps"])) for r in out["runs"]]  # type: ignore[call-overload, attr-defined]
    fed_by_steps = {n: _fed(client, manifest, T, batch, n) for n in {n for _, n in checked}}
    with client._read() as s:
        from registry import runs as runs_service

        for run_id, n in checked:
            recorded = {c.shard_id: c.tokens for c in runs_service.consumption(s, run_id)}
            if recorded != fed_by_steps[n]:
                raise AssertionError(f"run {run_id}: consumption differs from what ranks fed")
    print(f"  consumption of each of the {len(checked)} provreg runs == what the 2 ranks fed, "
          "shard by shard: "
          + "; ".join(f"{n} steps: {sum(f.values()):,} tokens over {len(f)} shards"
                      for n, f in sorted(fed_by_steps.items())))  # fmt: skip


_VARIANTS = {
    "like-for-like": "vs the in-memory job saving torch.save checkpoints at the same steps",
    "strict": "vs the in-memory job with no checkpoints",
}


def _fed(client: LocalRegistry, manifest: str, T: int, batch: int, steps: int) -> dict[str, int]:
    """Tokens per shard that the 2 ranks feed in ``steps`` steps, through the dataset itself."""
    from trainer.dataset import DataPlan, ManifestDataset
    from trainer.tokenizer import ByteTokenizer

    ids = tuple(sorted(client.shard_ids(manifest)))
    fed: dict[str, int] = {}
    for rank in range(2):
        plan = DataPlan(ids, client.shard_source(manifest), 0, ByteTokenizer(), rank, 2)
        for i, b in enumerate(ManifestDataset(plan, block_size=T).loader(batch)):
            if i == steps:
                break
            for shard, u in b["usage"].items():
                fed[shard] = fed.get(shard, 0) + u.tokens
    return fed


def _interleaved_line(
    what: str, memory: list[float], ours: list[float], block: int, target: float
) -> str:
    """The ratio of the total seconds (in-memory / provreg: higher is better) and of the
    block pairs, after two warmup blocks a side."""
    skip = 2
    memory, ours = memory[skip:], ours[skip:]
    pairs = [m / o for m, o in zip(memory, ours, strict=True)]
    q = statistics.quantiles(pairs, n=4)
    lo, hi = _bootstrap_ratio(memory, ours)
    return (
        f"{what}: {len(pairs)} blocks of {block} steps a side, provreg checkpointing every "
        f"{4 * block} steps: ratio of the totals {sum(memory) / sum(ours):.3f} (95% bootstrap "
        f"interval {lo:.3f}..{hi:.3f}); block pairs median {statistics.median(pairs):.3f}, "
        f"quartiles {q[0]:.3f}..{q[2]:.3f} (target >= {target})"
    )


def _bootstrap_ratio(memory: list[float], ours: list[float], n: int = 2000) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the ratio of the totals over block pairs drawn with
    replacement (seeded): how far the machine's noise alone moves the figure."""
    rng = np.random.default_rng(0)
    m, o = np.asarray(memory), np.asarray(ours)
    picks = rng.integers(0, len(m), size=(n, len(m)))
    ratios = m[picks].sum(axis=1) / o[picks].sum(axis=1)
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def _demo_texts(limit_mb: float) -> list[str]:
    """The texts the demo ingests: the standard library's own .py files (one a record)."""
    stdlib = sysconfig.get_paths()["stdlib"]
    paths: list[str] = []
    for pattern in ("*.py", "json/*.py", "email/*.py", "asyncio/*.py", "importlib/*.py",
                    "collections/*.py"):  # fmt: skip
        paths += sorted(glob.glob(os.path.join(stdlib, pattern)))
    texts, total = [], 0
    for p in paths:
        t = Path(p).read_text("utf-8", errors="replace")
        texts.append(t)
        total += len(t.encode())
        if total > limit_mb * 2**20:
            break
    return texts


def bpe(root: Path, rounds: int, quick: bool) -> None:
    """BPE training and tokenisation: provreg vs ``tokenizers`` called directly."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from trainer.bpe import EOT_TOKEN, BPESettings, BPETokenizer, manifest_records, train_bpe

    texts = _demo_texts(1.5 if quick else 6.0)
    nbytes = sum(len(t.encode()) for t in texts)
    engine = make_engine(f"sqlite:///{root / 'bpe'}.db")
    migrate.upgrade(engine)
    store = root / "bpe-store"
    with transaction(engine, actor="bench") as s:
        licences.seed(s)
        src = sources.add_source(
            s,
            sources.SourceIn(name="stdlib", uri="bench:", kind="public-dataset", licence="PSF-2.0"),
        )
        ds = Dataset(name="demo", version="1")
        s.add(ds)
        s.flush()
        rows = []
        for i in range(0, len(texts), 64):  # about 1 MB shards, as the demo's
            sid, size, records, tokens = _write(store, texts[i : i + 64])
            rows.append({"id": sid, "source_id": src.id, "bytes": size, "records": records,
                         "tokens": tokens, "format": "parquet", "status": "active",
                         "store_uri": ShardStore(str(store)).path_for(sid)})  # fmt: skip
        s.execute(insert(Shard), rows)
        s.execute(insert(DatasetShard), [{"dataset_id": ds.id, "shard_id": r["id"]} for r in rows])
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="demo", intended_use="research", datasets=["demo"])
        )
    client = LocalRegistry(engine, store=str(store), actor="bench")
    ids = client.shard_ids(m.hash)
    ordered = list(manifest_records(client.shard_source(m.hash), ids))  # the order provreg uses
    settings = BPESettings(vocab_size=8192)
    files: list[bytes] = []

    def direct() -> float:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=8192, min_frequency=2, special_tokens=[EOT_TOKEN],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)  # fmt: skip
        t = time.perf_counter()
        tok.train_from_iterator(ordered, trainer=trainer, length=len(ordered))
        files.append(tok.to_str().encode())
        return nbytes / (time.perf_counter() - t)

    def ours() -> float:
        t = time.perf_counter()
        source = client.shard_source(m.hash)
        files.append(train_bpe(manifest_records(source, ids), settings, length=len(ordered)))
        return nbytes / (time.perf_counter() - t)

    base, mine = _ab(rounds, direct, ours)
    if len(set(files)) != 1:
        raise AssertionError("provreg's BPE file differs from tokenizers' on the same records")
    print(_ratio_line(f"BPE training, vocab 8192, {nbytes / 2**20:.1f} MB demo corpus "
                      "(verified read + train vs train on texts in memory)",
                      base, mine, "B/s", 0.95) + "; the same file, byte for byte")  # fmt: skip
    wrapped = BPETokenizer(files[0])
    raw = wrapped.backend
    ordered = ordered * 3  # each sample tokenises the corpus three times: seconds, not a blink

    def raw_each() -> float:
        t = time.perf_counter()
        n = sum(len(raw.encode(x, add_special_tokens=False).ids) + 1 for x in ordered)
        return n / (time.perf_counter() - t)

    def ours_each() -> float:
        t = time.perf_counter()
        n = sum(wrapped.encode_array(x).size for x in ordered)
        return n / (time.perf_counter() - t)

    def raw_batch() -> float:
        t = time.perf_counter()
        n = sum(len(e.ids) + 1 for e in raw.encode_batch(ordered, add_special_tokens=False))
        return n / (time.perf_counter() - t)

    def ours_batch() -> float:
        t = time.perf_counter()
        n = sum(len(ids) for ids in wrapped.encode_batch(ordered))
        return n / (time.perf_counter() - t)

    base, mine = _ab(rounds, raw_each, ours_each)
    print(_ratio_line("BPE tokenisation per record (as the data stream calls it)", base, mine,
                      "tok/s", 0.95))  # fmt: skip
    base, mine = _ab(rounds, raw_batch, ours_batch)
    print(_ratio_line("BPE tokenisation batched", base, mine, "tok/s", 0.95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest-mb", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto... (both sides)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="tiny only, fewer steps")
    parser.add_argument(
        "--only", default="throughput,first-step,library,ddp,bpe", help="comma-separated parts"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    global THREADS, DEVICE
    THREADS = args.threads or None
    DEVICE = str(resolve_device(args.device))
    n = set_threads(THREADS)
    print(f"{n} threads, device {DEVICE}", flush=True)
    print("the machine may be shared: compare the ratios, and the spread of the pairs", flush=True)
    with tempfile.TemporaryDirectory(prefix="provreg-bench-") as tmp:
        if "throughput" in parts:
            throughput(Path(tmp), args.rounds, args.quick)
        if "first-step" in parts:
            first_step(Path(tmp), args.manifest_mb)
        if "library" in parts:
            library_loop(Path(tmp), args.rounds, args.quick)
        if "ddp" in parts and DEVICE == "cpu":
            ddp(Path(tmp), args.rounds, args.quick)
        if "bpe" in parts:
            bpe(Path(tmp), args.rounds, args.quick)


if __name__ == "__main__":
    main()
