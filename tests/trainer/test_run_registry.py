"""Training bound to a real registry (SQLite and PostgreSQL) and a real shard store."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import torch
from safetensors.torch import load_file, save_file
from sqlalchemy import Engine

from registry import audit, manifests, runs
from registry.db.models import DatasetShard, Shard, Source
from registry.entities.runs import Progress
from registry.errors import PolicyViolation
from registry.faults import crash_at
from registry.runs import read_stamp
from registry.shards.datasets import ensure_dataset
from registry.shards.store import ShardStore, hash_file
from tests.conftest import Cli, snapshot
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer import library as trainer_library
from trainer.client import LocalRegistry
from trainer.data import shard_order
from trainer.errors import (
    RunFailed,
    ShardIntegrityError,
    ShardMissingError,
    ShardRevokedError,
    ShardUnknownError,
)
from trainer.run import TrainSpec, train_with_registry
from trainer.stamping import write_stamped_weights

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(os.path.dirname(os.__file__))
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}
SET_ARGS = [a for k, v in MODEL.items() for a in ("--set", f"{k}={v}")]
B, ROW = 4, 33  # batch size, block_size + 1: tokens per step = B * ROW


def _corpus(n_shards: int = 6, per_shard: int = 8) -> list[list[str]]:
    """Python stdlib source cut into ~100-byte records, ~800 tokens (~6 steps) per shard."""
    text = "".join((STDLIB / m).read_text("utf-8") for m in ("textwrap.py", "bisect.py"))
    records = [text[i : i + 100] for i in range(0, len(text), 100)]
    return [records[i * per_shard : (i + 1) * per_shard] for i in range(n_shards)]


@dataclass
class Env:
    client: LocalRegistry
    store: Path
    ids: list[str]
    manifest: str
    tmp: Path
    engine: Engine

    def spec(self, **kw: Any) -> TrainSpec:
        base: dict[str, Any] = {
            "manifest": self.manifest,
            "overrides": MODEL,
            "steps": 30,
            "batch_size": B,
            "checkpoint_every": 10,
            "out": str(self.tmp / "model.safetensors"),
            "lr": 1e-2,
            "warmup": 2,
        }
        return TrainSpec(**(base | kw))

    def path(self, shard_id: str) -> Path:
        return Path(ShardStore(str(self.store)).path_for(shard_id))


@pytest.fixture
def env(session_factory, engine: Engine, tmp_path: Path) -> Env:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        ids = shard_files.register(s, src, "code", store, _corpus())
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
    return Env(
        LocalRegistry(engine, store=str(store), actor="test"), store, ids, m.hash, tmp_path, engine
    )


def _consumption(env: Env, run_id: str) -> dict[str, tuple[int, int]]:
    with env.client._read() as s:
        return {c.shard_id: (c.tokens, c.records) for c in runs.consumption(s, run_id)}


def test_short_run_learns_records_exact_consumption_and_stamps(env: Env) -> None:
    result = train_with_registry(env.client, env.spec(steps=40), threads=1)
    losses = result.losses
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses
    run = env.client.get_run(result.run_id)
    assert (run.status, run.steps_done) == ("completed", 40)
    used = _consumption(env, run.id)
    assert used == {k: (u.tokens, u.records) for k, u in result.usage.items()}
    assert sum(t for t, _ in used.values()) == run.tokens == 40 * B * ROW
    assert set(used) <= set(env.ids) and len(used) >= 2
    assert run.loss_summary is not None and len(run.loss_summary["curve"]) == 4
    # Checkpoints are gone once the weights supersede them; the weights are recorded.
    assert not list((env.tmp / "model.safetensors.checkpoints").rglob("*.safetensors"))
    assert [w.sha256 for w in run.weights] == [hash_file(env.tmp / "model.safetensors")[0]]
    stamp = read_stamp(env.tmp / "model.safetensors")
    assert (stamp.manifest, stamp.manifest_chain, stamp.run) == (
        env.manifest,
        (env.manifest,),
        run.id,
    )
    assert stamp.registry == env.client.url
    assert stamp.config == run.config["model"] and stamp.tokenizer == "provreg.bytes/1"
    assert stamp.merkle_root == env.client.manifest(env.manifest).merkle_root
    with env.client._read() as s:
        assert runs.verify_weights(s, str(env.tmp / "model.safetensors")).ok
        assert audit.verify(s).ok


def _revoke_shard(engine: Engine, shard_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(Shard).where(Shard.id == shard_id).values(status="revoked"))


def _opt_out(engine: Engine, _shard_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(Source).values(consent_status="opted-out"))


class RevokingRegistry(LocalRegistry):
    """A real registry in which a curator revokes something right after the first checkpoint."""

    def __init__(self, env: Env, action: Any, shard_id: str) -> None:
        super().__init__(env.engine, store=str(env.store), actor="test")
        self.action, self.shard_id, self.done = action, shard_id, False

    def record_progress(self, run_id: str, progress: Progress) -> runs.RunOut:
        out = super().record_progress(run_id, progress)
        if not self.done:
            self.action(self._engine, self.shard_id)
            self.done = True
        return out


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def test_async_checkpoints_train_and_count_as_synchronous_ones(env: Env) -> None:
    done = {}
    for name, asynchronous in (("sync", False), ("async", True)):
        out = str(env.tmp / f"{name}.safetensors")
        result = train_with_registry(
            env.client, env.spec(async_checkpoint=asynchronous, out=out), threads=1
        )
        run = env.client.get_run(result.run_id)
        assert run.config["train"].get("async_checkpoint", False) is asynchronous
        done[name] = (run.status, run.steps_done, _consumption(env, run.id), load_file(out))
    (status, steps, used, weights), (a_status, a_steps, a_used, a_weights) = done.values()
    assert (a_status, a_steps, a_used) == (status, steps, used) == (status, 30, used)
    assert all(torch.equal(weights[k], a_weights[k]) for k in weights)  # the same training


@pytest.mark.parametrize("damage", ["flip-byte", "delete", "foreign-file", "revoke", "opt-out"])
def test_bad_shard_stops_the_run_naming_it_and_fails_the_run(env: Env, damage: str) -> None:
    order = shard_order(env.ids, 0, 0)
    client: LocalRegistry = env.client
    if damage in ("revoke", "opt-out"):
        target = order[5]  # well past what the prefetcher holds at the first checkpoint
        client = RevokingRegistry(env, _revoke_shard if damage == "revoke" else _opt_out, target)
        expected: type[Exception] = ShardRevokedError
        spec = env.spec(steps=80, checkpoint_every=2)
    else:
        target = order[1]
        spec = env.spec(steps=30)
        if damage == "flip-byte":
            _flip(env.path(target))
            expected = ShardIntegrityError
        elif damage == "delete":
            env.path(target).unlink()
            expected = ShardMissingError
        else:  # an unregistered file put where a registered shard's file belongs
            other, *_ = shard_files.write_shard(env.tmp / "elsewhere", ["not", "registered"])
            env.path(target).write_bytes(
                Path(ShardStore(str(env.tmp / "elsewhere")).path_for(other)).read_bytes()
            )
            expected = ShardIntegrityError
    with pytest.raises(expected) as err:
        train_with_registry(client, spec, threads=1)
    if damage == "opt-out":  # every shard of the source is out: the next one opened is named
        assert "opted out" in str(err.value)
        target = next(s for s in env.ids if s in str(err.value))
    assert target in str(err.value)
    [run] = _runs(env)
    assert run.status == "failed" and run.error is not None and target in run.error
    used = _consumption(env, run.id)
    assert target not in used and run.steps_done > 0
    assert sum(t for t, _ in used.values()) == run.steps_done * B * ROW  # steps taken are counted
    assert run.weights == [] and not (env.tmp / "model.safetensors").exists()


def _invalid_utf8_shard(env: Env) -> str:
    """A canonical shard whose second text is not UTF-8 (as an upload could bring), registered
    with rows only, in dataset ``bad``; the manifest ``mb`` over it."""
    values = [b"fine text", b"caf\xe9 au lait"]
    offsets = pa.array([0, len(values[0]), len(values[0]) + len(values[1])], pa.int32())
    text = pa.Array.from_buffers(
        pa.string(), 2, [None, offsets.buffers()[1], pa.py_buffer(b"".join(values))]
    )
    ids = pa.array([hashlib.sha256(v).hexdigest() for v in values], pa.string())
    tmp = env.tmp / "bad.parquet"
    pq.write_table(pa.table({"id": ids, "text": text}), tmp)
    shard_id, size = hash_file(tmp)
    target = env.path(shard_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(target)
    with env.client._write() as s:
        src = s.scalars(sa.select(Source).where(Source.name == "stdlib")).one()
        ds, _ = ensure_dataset(s, "bad")
        s.add(Shard(id=shard_id, source_id=src.id, bytes=size, records=2,
                    tokens=sum(len(v) + 1 for v in values), format="parquet",
                    store_uri=str(target)))  # fmt: skip
        s.flush()
        s.add(DatasetShard(dataset_id=ds.id, shard_id=shard_id))
        s.flush()
        manifests.create_manifest(
            s, manifests.ManifestIn(name="mb", intended_use="research", datasets=["bad"])
        )
    return shard_id


def test_a_shard_that_is_not_utf8_fails_the_run_in_one_line(env: Env, cli: Cli) -> None:
    """Issue 19, defect 3: such a shard stops the run before its first record is used; the run
    is failed (not interrupted) with the reason, and the CLI says so in one line."""
    shard_id = _invalid_utf8_shard(env)
    cli.env["PROVREG_STORE"] = str(env.store)
    out = cli("train", "--manifest", "mb", "--steps", "4", "--batch-size", str(B),
              "--out", str(env.tmp / "w.safetensors"), "--threads", "1", *SET_ARGS,
              ok=False)  # fmt: skip
    [run] = _runs(env)
    reason = f"shard {shard_id}: record 2 is not valid UTF-8 text"
    assert out.exit_code == 1
    assert out.output.splitlines()[-1] == f"provreg: error: run {run.id} failed: {reason}"
    assert "Traceback" not in out.output
    assert (run.status, run.error) == ("failed", reason)


def test_any_error_in_a_run_fails_it_with_the_reason(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at the first checkpoint: the run is failed with the error, the steps the
    optimizer took are counted, and the error the caller sees names the original one."""

    def full_disk(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trainer_library, "write_checkpoint", full_disk)
    with pytest.raises(RunFailed, match=r"OSError: .*No space left on device") as err:
        train_with_registry(env.client, env.spec(steps=30, checkpoint_every=10), threads=1)
    assert isinstance(err.value.__cause__, OSError)
    [run] = _runs(env)
    assert run.status == "failed"
    assert run.error == "OSError: [Errno 28] No space left on device"
    assert run.steps_done == 10
    assert sum(t for t, _ in _consumption(env, run.id).values()) == 10 * B * ROW


def _runs(env: Env) -> list[runs.RunOut]:
    with env.client._read() as s:
        return runs.list_runs(s)


def test_only_manifest_shards_can_be_read(env: Env, session_factory) -> None:  # type: ignore[no-untyped-def]
    stray, *_ = shard_files.write_shard(env.store, ["a file nobody registered"])
    with session_factory() as s:
        src = f.source(s, "other", licence="MIT")
        [outside] = shard_files.register(
            s, src, "other", env.store, [["registered, other manifest"]]
        )
    source = env.client.shard_source(env.manifest)
    for sid in (stray, outside):
        with pytest.raises(ShardUnknownError, match=sid):
            source.resolve(sid)
    result = train_with_registry(env.client, env.spec(steps=12), threads=1)
    assert set(_consumption(env, result.run_id)) <= set(env.ids)


def test_revoked_before_the_run_refuses_it_and_changes_nothing(env: Env) -> None:
    _revoke_shard(env.engine, env.ids[3])
    before = snapshot(env.engine)
    with pytest.raises(PolicyViolation, match="shard-revoked"):
        train_with_registry(env.client, env.spec(), threads=1)
    assert snapshot(env.engine) == before


def _cli_env(db_url: str, store: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PROVREG_DATABASE_URL=db_url,
        PROVREG_STORE=str(store),
        PROVREG_ACTOR="tester",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def test_resume_after_sigkill_gives_exact_consumption(env: Env, db_url: str, cli: Cli) -> None:
    cli.env["PROVREG_STORE"] = str(env.store)
    args = [
        "--steps",
        "24",
        "--checkpoint-every",
        "8",
        "--batch-size",
        str(B),
        "--lr",
        "0.01",
        "--warmup",
        "2",
        "--threads",
        "1",
        *SET_ARGS,
    ]
    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "train",
            "--manifest",
            env.manifest,
            "--out",
            str(env.tmp / "killed.safetensors"),
            "--heartbeat-s",
            "0.2",
            *args,
        ],
        env=_cli_env(db_url, env.store, **crash_at("train.after_step", 13)),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env.tmp,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [run] = _runs(env)
    assert (run.recorded_status, run.steps_done) == ("running", 8)  # steps 9..13 were lost
    assert sum(t for t, _ in _consumption(env, run.id).values()) == 8 * B * ROW
    time.sleep(0.8)  # > 3 heartbeats of 0.2 s
    shown = json.loads(cli("run", "show", run.id[:10], "--json").stdout)
    assert shown["status"] == "interrupted"

    cli("train", "--resume", run.id, "--threads", "1")
    resumed = env.client.get_run(run.id)
    assert (resumed.status, resumed.steps_done) == ("completed", 24)

    whole = train_with_registry(
        env.client,
        env.spec(steps=24, checkpoint_every=8, out=str(env.tmp / "whole.safetensors")),
        threads=1,
    )
    assert _consumption(env, run.id) == _consumption(env, whole.run_id)
    assert sum(t for t, _ in _consumption(env, run.id).values()) == 24 * B * ROW
    a, b = load_file(env.tmp / "killed.safetensors"), load_file(env.tmp / "whole.safetensors")
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-5 for k in a)


def test_weights_verify_and_generate_through_the_cli(env: Env, cli: Cli) -> None:
    cli.env["PROVREG_STORE"] = str(env.store)
    out = env.tmp / "w.safetensors"
    cli(
        "train",
        "--manifest",
        env.manifest,
        "--steps",
        "6",
        "--checkpoint-every",
        "3",
        "--batch-size",
        str(B),
        "--out",
        str(out),
        "--threads",
        "1",
        *SET_ARGS,
    )
    ok = cli("weights", "verify", str(out))
    assert "verified" in ok.stdout and "intended use: research" in ok.stdout and "MIT" in ok.stdout
    assert "verified (offline" in cli("weights", "verify", str(out), "--offline").stdout
    gen = cli("generate", str(out), "--prompt", "def ", "--tokens", "20")
    assert gen.stdout.startswith("def ")

    with env.client._write() as s:
        other = manifests.create_manifest(
            s, manifests.ManifestIn(name="m2", intended_use="research", datasets=["code"])
        ).hash
    stamp = read_stamp(out)
    tensors = load_file(out)
    cases = {
        "changed": (lambda p: (p.write_bytes(out.read_bytes()), _flip_tail(p)), "was changed"),
        "other-manifest": (
            lambda p: write_stamped_weights(
                p, tensors, replace(stamp, manifest=other, manifest_chain=(other,))
            ),
            f"names manifest {other}",
        ),
        "unstamped": (lambda p: save_file(tensors, str(p)), "no provenance stamp"),
    }
    for name, (make, reason) in cases.items():
        bad = env.tmp / f"{name}.safetensors"
        make(bad)
        result = cli("weights", "verify", str(bad), ok=False)
        assert result.exit_code == 1 and reason in result.stderr, (name, result.stderr)
    offline = cli(
        "weights", "verify", str(env.tmp / "unstamped.safetensors"), "--offline", ok=False
    )
    assert offline.exit_code == 1


def _flip_tail(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[-3] ^= 0x10  # inside the tensor data, past the header
    p.write_bytes(bytes(data))


BAD_TRAINS = [
    (["--manifest", "0123456789abcdef"], "unknown manifest"),
    (["--set", "n_embd=33"], "divisible by n_head"),
    (["--set", "wings=2"], "unknown GPTConfig field"),
    (["--set", "n_layer"], "not KEY=VALUE"),
    (["--config", "huge"], "unknown model config"),
    (["--steps", "0"], "steps must be"),
    (["--resume", "0123456789abcdef"], "give --manifest"),
    (["--device", "tpu"], "'tpu' is not a device"),
    (["--device", "meta"], "only cpu, cuda and mps"),
    *([(["--device", "cuda"], "sees no CUDA device")] if not torch.cuda.is_available() else []),
]


@pytest.mark.parametrize(("args", "message"), BAD_TRAINS)
def test_bad_train_input_changes_nothing(env: Env, cli: Cli, args: list[str], message: str) -> None:
    cli.env["PROVREG_STORE"] = str(env.store)
    before = snapshot(env.engine)
    full = args if args[0] == "--manifest" else ["--manifest", env.manifest, *args]
    result = cli("train", *full, "--out", str(env.tmp / "x.safetensors"), ok=False)
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert snapshot(env.engine) == before
    assert not (env.tmp / "x.safetensors").exists()
