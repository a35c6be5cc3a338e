"""torchrun, for real: 2 processes (and 2 "nodes" on loopback), gloo, 1 thread each, against a
real registry and store; consumption compared with one process over the same shard positions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from registry import manifests, runs
from registry.faults import crash_at
from registry.runs import read_stamp
from registry.shards.store import ShardStore
from tests.conftest import snapshot
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer.client import LocalRegistry
from trainer.data import shard_order
from trainer.run import TrainSpec, train_with_registry

ROOT = Path(__file__).resolve().parents[2]
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}
SET_ARGS = [a for k, v in MODEL.items() for a in ("--set", f"{k}={v}")]
B = 2  # sequences per rank per step
N_SHARDS, PER_SHARD = 8, 4  # each record is one 33-token block: shards align with blocks


def _corpus() -> list[list[str]]:
    """Records of exactly 32 ASCII bytes (+ EOT = 33 tokens = one block of block_size 32)."""
    text = (Path(os.path.dirname(os.__file__)) / "textwrap.py").read_text("ascii", "replace")
    text = "".join(c if c.isascii() and c.isprintable() else " " for c in text)
    records = [text[i : i + 32] for i in range(0, 32 * N_SHARDS * PER_SHARD, 32)]
    return [records[i * PER_SHARD : (i + 1) * PER_SHARD] for i in range(N_SHARDS)]


@dataclass
class Env:
    client: LocalRegistry
    engine: Engine
    db_url: str
    store: Path
    ids: list[str]
    manifest: str
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PROVREG_DATABASE_URL=self.db_url,
            PROVREG_STORE=str(self.store),
            PROVREG_ACTOR="tester",
            PYTHONPATH=str(ROOT),
            OMP_NUM_THREADS="1",
            GLOO_SOCKET_IFNAME="lo",
            **extra,
        )
        return env

    def consumption(self, run_id: str) -> dict[str, tuple[int, int]]:
        with self.client._read() as s:
            return {c.shard_id: (c.tokens, c.records) for c in runs.consumption(s, run_id)}

    def runs(self) -> list[runs.RunOut]:
        with self.client._read() as s:
            return runs.list_runs(s)

    def single(self, steps: int, **kw: Any) -> str:
        """One process, batch 2B: the same shard positions a 2-rank job with batch B reads."""
        spec = TrainSpec(
            manifest=self.manifest,
            overrides=MODEL,
            steps=steps,
            batch_size=2 * B,
            checkpoint_every=100,
            out=str(self.tmp / "single.safetensors"),
            lr=1e-2,
            warmup=1,
            **kw,
        )
        return train_with_registry(self.client, spec, threads=1).run_id


@pytest.fixture
def env(session_factory, engine: Engine, db_url: str, tmp_path: Path) -> Env:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        ids = shard_files.register(s, src, "code", store, _corpus())
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
    client = LocalRegistry(engine, store=str(store), actor="test")
    return Env(client, engine, db_url, store, ids, m.hash, tmp_path)


def _train_args(env: Env, *extra: str, out: str = "ddp.safetensors") -> list[str]:
    return [
        "--steps", "4", "--batch-size", str(B), "--checkpoint-every", "2", "--lr", "0.01",
        "--warmup", "1", "--threads", "1", "--out", str(env.tmp / out), *SET_ARGS, *extra,
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(env: Env, args: list[str], *, nnodes: int = 1, nproc: int = 2, **extra: str) -> Any:
    rdzv = ["--standalone"] if nnodes == 1 else []
    cmd = [sys.executable, "-m", "torch.distributed.run", *rdzv, "--nnodes", str(nnodes),
           "--nproc-per-node", str(nproc), "-m", "trainer.ddp", *args]  # fmt: skip
    return subprocess.run(
        cmd, env=env.env(**extra), capture_output=True, text=True, timeout=240, cwd=env.tmp
    )


def test_two_processes_consume_exactly_what_one_process_reads(env: Env) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "train", "--nproc-per-node", "2",
         "--manifest", env.manifest, "--json", *_train_args(env)],
        env=env.env(), capture_output=True, text=True, timeout=240, cwd=env.tmp,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    run = env.client.get_run(summary["run"])
    assert (run.status, run.steps_done, summary["world_size"]) == ("completed", 4, 2)
    used = env.consumption(run.id)
    assert sum(t for t, _ in used.values()) == 4 * 2 * B * 33  # both ranks' batches, each once
    # Rank r read positions r, r+2, ...: the first four positions of epoch 0, two shards each.
    assert set(used) == set(shard_order(env.ids, 0, 0)[:4])
    assert used == env.consumption(env.single(4))  # one process over the same positions
    stamp = read_stamp(env.tmp / "ddp.safetensors")
    assert (stamp.run, stamp.manifest) == (run.id, env.manifest)
    with env.client._read() as s:
        assert runs.verify_weights(s, str(env.tmp / "ddp.safetensors")).ok


def test_resume_needs_the_same_world_size_and_is_then_exact(env: Env) -> None:
    args = ["--manifest", env.manifest, *_train_args(env), "--heartbeat-s", "0.2"]
    killed = _torchrun(env, args, **crash_at("train.after_step", 3))
    assert killed.returncode != 0
    [run] = env.runs()
    assert (run.recorded_status, run.steps_done) == ("running", 2)  # step 3 was lost
    import time

    time.sleep(0.8)  # > 3 heartbeats of 0.2 s: the run is seen as interrupted
    before = snapshot(env.engine)
    alone = subprocess.run(
        [sys.executable, "-m", "cli.main", "train", "--resume", run.id, "--threads", "1"],
        env=env.env(), capture_output=True, text=True, timeout=120, cwd=env.tmp,
    )  # fmt: skip
    assert alone.returncode == 1 and "trained by 2 process(es)" in alone.stderr, alone.stderr
    assert snapshot(env.engine) == before  # refused before anything was written
    resumed = _torchrun(env, ["--resume", run.id, "--threads", "1"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done = env.client.get_run(run.id)
    assert (done.status, done.steps_done) == ("completed", 4)
    assert env.consumption(run.id) == env.consumption(env.single(4))


def test_two_nodes_on_loopback(env: Env) -> None:
    port = _free_port()
    rdzv = ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "t2n"]
    # with asynchronous checkpoints: rank 0 writes them on its writer thread, counts unchanged
    args = ["--manifest", env.manifest, *_train_args(env, "--async-checkpoint"), "--json"]
    procs = []
    for _node in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
               "--nproc-per-node", "1", *rdzv, "--local-addr", "127.0.0.1",
               "-m", "trainer.ddp", *args]  # fmt: skip
        procs.append(
            subprocess.Popen(
                cmd,
                env=env.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=env.tmp,
            )
        )
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    [run] = env.runs()
    assert (run.status, run.steps_done) == ("completed", 4)
    assert run.config["train"]["async_checkpoint"] is True
    assert env.consumption(run.id) == env.consumption(env.single(4))


def test_a_verification_failure_on_one_rank_fails_the_run_on_all(env: Env) -> None:
    bad = shard_order(env.ids, 0, 0)[3]  # rank 1's second shard (positions 1 and 3)
    path = Path(ShardStore(str(env.store)).path_for(bad))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    failed = _torchrun(env, ["--manifest", env.manifest, *_train_args(env, out="bad.safetensors")])
    assert failed.returncode != 0
    assert failed.stderr.count("failed verification") >= 1, failed.stderr[-3000:]
    [run] = env.runs()
    assert run.status == "failed" and run.error is not None
    assert run.error.startswith("rank 1: ") and bad in run.error
    used = env.consumption(run.id)
    assert bad not in used and run.steps_done == 2  # rank 1 ran out of good data at step 2
    assert sum(t for t, _ in used.values()) == 2 * 2 * B * 33  # both ranks' two steps
    assert not (env.tmp / "bad.safetensors").exists()
