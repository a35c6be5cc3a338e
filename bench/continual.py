"""Continual training: the overhead of an increment, and what replay costs in throughput.

    python -m bench.continual [--mb 64] [--shard-mb 4] [--steps 30] [--quick]

A fresh SQLite registry holds ``bench@1`` (the origin, ``--mb`` / 4 of random text) and, later,
``bench@2`` (``--mb`` of new shards: the increment). After a short origin run:

(a) overhead: freezing the increment's child manifest (``registry.continual.freeze_next``:
    delta + a 25% replay sample, policy check, Merkle root) plus opening its run, against the
    time to train the increment once through (tokens / measured tokens-per-second of tiny on
    this machine, over ``--steps`` steps). Target <= 5% at 64 MB.
(b) throughput: tokens/s training the delta with ``--replay 0.25`` against ``--replay 0``
    (two followers from the same weights), the same steps each. Target >= 0.97.

``--quick`` runs a 2 MB increment and 12 steps: proof that it works, not the figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from bench.trainer import _texts, _write
from registry import continual, manifests, runs
from registry.catalogue import licences, sources
from registry.db import migrate
from registry.db.engine import make_engine, transaction
from registry.db.models import Dataset, DatasetShard, Shard
from registry.shards.store import ShardStore
from trainer.client import LocalRegistry
from trainer.continual import Follower, FollowSpec
from trainer.run import TrainSpec, train_with_registry
from trainer.train_loop import set_threads


def _add_version(engine, store: Path, version: str, mb: float, shard_mb: float, seed: int) -> int:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    n = max(1, round(mb / shard_mb))
    with transaction(engine, actor="bench") as s:
        if version != "1":
            src = sources.get_source(s, "synthetic")
        else:
            licences.seed(s)
            src = sources.add_source(
                s,
                sources.SourceIn(
                    name="synthetic", uri="bench:", kind="synthetic", licence="CC0-1.0"
                ),
            )
        ds = Dataset(name="bench", version=version)
        s.add(ds)
        s.flush()
        rows, total = [], 0
        for _ in range(n):
            sid, size, records, tokens = _write(store, _texts(rng, int(shard_mb * 2**20), 4096))
            total += tokens
            rows.append(
                {
                    "id": sid, "source_id": src.id, "bytes": size, "records": records,
                    "tokens": tokens, "format": "parquet", "status": "active",
                    "store_uri": ShardStore(str(store)).path_for(sid),
                }
            )  # fmt: skip
        s.execute(insert(Shard), rows)
        s.execute(insert(DatasetShard), [{"dataset_id": ds.id, "shard_id": r["id"]} for r in rows])
    return total


def _rate(walls: list[float], tokens_per_step: int, warmup: int = 2) -> float:
    measured = walls[warmup:]
    return (len(measured) - 1) * tokens_per_step / (measured[-1] - measured[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=64.0, help="the increment's new data, MB")
    ap.add_argument("--shard-mb", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=30, help="steps timed per run")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each kind in (b)")
    ap.add_argument("--quick", action="store_true", help="2 MB, 12 steps")
    a = ap.parse_args()
    if a.quick:
        a.mb, a.shard_mb, a.steps, a.repeats = 2.0, 0.5, 12, 2
    set_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engine = make_engine(f"sqlite:///{root / 'bench.db'}")
        migrate.upgrade(engine)
        store = root / "store"
        _add_version(engine, store, "1", a.mb / 4, a.shard_mb, 1)
        with transaction(engine, actor="bench") as s:
            m = manifests.create_manifest(
                s,
                manifests.ManifestIn(name="origin", intended_use="research", datasets=["bench@1"]),
            )
        client = LocalRegistry(engine, store=str(store), actor="bench")
        origin = root / "origin.safetensors"
        base = TrainSpec(manifest=m.hash, steps=3, batch_size=a.batch, checkpoint_every=1000,
                         out=str(origin))  # fmt: skip
        train_with_registry(client, base, threads=a.threads)
        delta_tokens = _add_version(engine, store, "2", a.mb, a.shard_mb, 2)

        # (a) freeze + open, against training the increment once through
        spec = FollowSpec(dataset="bench", from_weights=str(origin), replay=Decimal("0.25"),
                          steps=a.steps, batch_size=a.batch, checkpoint_every=10**6,
                          out_dir=str(root / "replay"), evaluate=False, measure_drift=False)  # fmt: skip
        follower = Follower(client, spec, threads=a.threads)
        t0 = time.perf_counter()
        with transaction(engine, actor="bench") as s:
            inc = continual.freeze_next(
                s, follower.follower.id, previous_run=follower.follower.origin_run
            )
        t_freeze = time.perf_counter() - t0
        assert inc is not None
        t0 = time.perf_counter()
        opened = client.open_run(manifest_ref=inc.manifest, config={"train": {"steps": 1, "batch_size": 1}, "model": {"block_size": 128}}, seed=0,
                                 tokenizer="provreg.bytes/1", code_version="bench")  # fmt: skip
        t_open = time.perf_counter() - t0
        with transaction(engine, actor="bench") as s:  # out of the follower's way
            runs.fail_run(s, opened.id, "bench: timing the open only")
        # (b) the same steps on the increment's manifest (delta + replay) and on delta alone,
        # interleaved and repeated (best of --repeats each): a loaded machine's noise is
        # larger than the difference measured
        tps = a.batch * 129
        with transaction(engine, actor="bench") as s:
            plain = manifests.create_manifest(
                s,
                manifests.ManifestIn(
                    name="delta", intended_use="research", shards=inc.delta_shards
                ),
            )
        rates: dict[str, list[float]] = {"replay": [], "none": []}
        for i in range(a.repeats):
            for kind, manifest in (("none", plain.hash), ("replay", inc.manifest)):
                res = train_with_registry(
                    client,
                    TrainSpec(
                        manifest=manifest,
                        steps=a.steps,
                        batch_size=a.batch,
                        checkpoint_every=10**6,
                        out=str(root / f"{kind}-{i}.safetensors"),
                        parent_weights=str(origin),
                    ),
                    threads=a.threads,
                )
                rates[kind].append(_rate(res.step_walls, tps))
        rate_replay, rate_none = max(rates["replay"]), max(rates["none"])
        increment_tokens = inc.delta_tokens + inc.replay_tokens
        t_train = increment_tokens / rate_replay
    print(f"increment: {a.mb:g} MB new ({delta_tokens:,} tokens), {len(inc.replay_shards)} "
          f"shards replayed ({inc.replay_tokens:,} tokens)")  # fmt: skip
    print(f"(a) freeze child manifest {t_freeze * 1e3:.0f} ms + open run {t_open * 1e3:.0f} ms"
          f" vs training it once through {t_train:,.0f} s (at {rate_replay:,.0f} tokens/s):"
          f" overhead {(t_freeze + t_open) / t_train:.4%} (target <= 5%)")  # fmt: skip
    print(f"(b) tokens/s with --replay 0.25 {rate_replay:,.0f} vs none {rate_none:,.0f}:"
          f" ratio {rate_replay / rate_none:.3f} (target >= 0.97)")  # fmt: skip


if __name__ == "__main__":
    main()
