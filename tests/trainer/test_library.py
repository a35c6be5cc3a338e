"""provreg as a library: the example's LSTM loop, DataLoader workers, exact resume, the Hugging
Face adapter, against a real registry (SQLite and PostgreSQL) and real shard files."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import torch
from sqlalchemy import Engine

from examples.lstm_lm import LSTMLanguageModel, train
from registry import manifests, runs
from registry.db.models import Shard
from registry.runs import read_stamp
from registry.shards.store import ShardStore
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer import ManifestDataset, open_run
from trainer.client import LocalRegistry
from trainer.data import shard_order
from trainer.dataset import DataStateError, collate
from trainer.errors import RunFailed, ShardIntegrityError, ShardRevokedError
from trainer.hf import manifest_dataset

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(os.path.dirname(os.__file__))


def _corpus(n_shards: int = 6, per_shard: int = 8) -> list[list[str]]:
    text = (STDLIB / "textwrap.py").read_text("utf-8")
    records = [text[i : i + 90] for i in range(0, len(text), 90)]
    return [records[i * per_shard : (i + 1) * per_shard] for i in range(n_shards)]


@dataclass
class Env:
    client: LocalRegistry
    engine: Engine
    db_url: str
    store: Path
    ids: list[str]
    manifest: str
    tmp: Path
    texts: dict[str, list[str]]

    def open(self, **kw: Any) -> Any:
        return open_run(self.manifest, client=self.client, checkpoint_dir=self.tmp / "ckpt", **kw)

    def path(self, shard_id: str) -> Path:
        return Path(ShardStore(str(self.store)).path_for(shard_id))

    def consumption(self, run_id: str) -> dict[str, tuple[int, int]]:
        with self.client._read() as s:
            return {c.shard_id: (c.tokens, c.records) for c in runs.consumption(s, run_id)}


@pytest.fixture
def env(session_factory, engine: Engine, db_url: str, tmp_path: Path) -> Env:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    corpus = _corpus()
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        ids = shard_files.register(s, src, "code", store, corpus)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
    client = LocalRegistry(engine, store=str(store), actor="test")
    texts = dict(zip(ids, corpus, strict=True))
    return Env(client, engine, db_url, store, ids, m.hash, tmp_path, texts)


def test_the_example_trains_an_lstm_and_stamps_it(env: Env) -> None:
    out = env.tmp / "lstm.safetensors"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "lstm_lm.py"), "--manifest", env.manifest,
         "--steps", "12", "--block-size", "32", "--batch-size", "4", "--dim", "32",
         "--checkpoint-every", "4", "--lr", "0.01", "--out", str(out)],
        env={**os.environ, "PROVREG_DATABASE_URL": env.db_url, "PROVREG_STORE": str(env.store),
             "PROVREG_ACTOR": "tester"},
        capture_output=True, text=True, timeout=180, cwd=env.tmp,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    run = env.client.get_run(summary["run"])
    assert (run.status, run.steps_done) == ("completed", 12)
    assert run.tokens == 12 * 4 * 33 == sum(t for t, _ in env.consumption(run.id).values())
    assert summary["loss_last"] < summary["loss_first"]
    stamp = read_stamp(out)
    assert (stamp.run, stamp.manifest, stamp.tokenizer) == (run.id, env.manifest, "provreg.bytes/1")
    assert stamp.config == {"kind": "lstm", "dim": 32} == run.config["model"]
    with env.client._read() as s:
        assert runs.verify_weights(s, str(out)).ok
    assert not list((env.tmp).rglob("step-*.safetensors"))  # the weights supersede checkpoints


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip-byte", "revoke", "foreign-file"])
def test_a_bad_shard_stops_the_loop_and_fails_the_run(env: Env, damage: str) -> None:
    target = shard_order(env.ids, 0, 0)[2]
    run = env.open(config={"model": {"kind": "lstm"}})
    expected: type[Exception] = ShardIntegrityError
    if damage == "flip-byte":
        _flip(env.path(target))
    elif damage == "revoke":  # a curator revokes it while the run is going
        with env.engine.begin() as conn:
            conn.execute(sa.update(Shard).where(Shard.id == target).values(status="revoked"))
        expected = ShardRevokedError
    else:  # an unregistered file where a registered shard's file belongs
        other, *_ = shard_files.write_shard(env.tmp / "elsewhere", ["not", "registered"])
        env.path(target).write_bytes(
            Path(ShardStore(str(env.tmp / "elsewhere")).path_for(other)).read_bytes()
        )
    with pytest.raises(expected, match=target), run:
        train(run, steps=60, block_size=32, batch_size=4, dim=16, checkpoint_every=3,
              out=str(env.tmp / "x.safetensors"))  # fmt: skip
    done = env.client.get_run(run.id)
    assert done.status == "failed" and done.error is not None and target in done.error
    used = env.consumption(run.id)
    assert target not in used and done.steps_done > 0
    assert sum(t for t, _ in used.values()) == done.steps_done * 4 * 33  # steps taken count
    assert not (env.tmp / "x.safetensors").exists()


def test_two_workers_read_every_record_exactly_once_an_epoch(env: Env) -> None:
    with env.open() as run:
        ds = run.dataset(records=True, max_epochs=1)
        seen = collections.Counter()
        for batch in ds.loader(3, num_workers=2):
            seen.update(zip(batch["shard_id"], batch["text"], strict=True))
        expected = collections.Counter((s, t) for s, texts in env.texts.items() for t in texts)
        assert seen == expected
        blocks = run.dataset(block_size=32, max_epochs=1)
        usage: dict[str, list[int]] = {}
        for batch in blocks.loader(2, num_workers=2):
            for s, u in batch["usage"].items():
                acc = usage.setdefault(s, [0, 0])
                acc[0] += u.tokens
                acc[1] += u.records
        total = {s: sum(len(t.encode()) + 1 for t in texts) for s, texts in env.texts.items()}
        # each worker drops only its own trailing partial batch: less than 2 blocks each
        assert all(usage[s][0] <= total[s] for s in usage)
        assert sum(total.values()) - sum(u[0] for u in usage.values()) < 2 * 2 * 33
        run.interrupt()


@pytest.mark.parametrize("workers", [0, 2])
def test_whole_batches_equal_collated_items(env: Env, workers: int) -> None:
    """``loader`` packs whole batches in each reader: the same tokens, usage, positions and
    order as a plain ``DataLoader`` collating one block at a time."""
    with env.open() as run:
        plan = run.data_plan()
        fast = ManifestDataset(plan, block_size=16).loader(3, num_workers=workers)
        assert fast.batch_size is None  # the whole-batch path, not the item path
        plain = torch.utils.data.DataLoader(
            ManifestDataset(plan, block_size=16), batch_size=3, num_workers=workers,
            collate_fn=collate,
        )  # fmt: skip
        n = 0
        for a, b in zip(fast, plain, strict=False):
            assert torch.equal(a["input_ids"], b["input_ids"])
            assert a["usage"] == b["usage"]
            assert a["positions"] == b["positions"]
            assert (a["rank"], a["workers"]) == (b["rank"], b["workers"])
            n += 1
            if n == 40:  # 40 x 3 x 17 tokens: past half the shards (6 of 8 records of 90 bytes)
                break
        assert n == 40
        run.interrupt()


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_from_state_dict_is_exact(env: Env, workers: int) -> None:
    with env.open() as run:
        plan = run.data_plan()
        whole = [b["input_ids"] for _, b in zip(range(9), ManifestDataset(plan, block_size=16).loader(2, num_workers=workers), strict=False)]  # fmt: skip
        first = ManifestDataset(plan, block_size=16)
        for i, batch in enumerate(first.loader(2, num_workers=workers)):
            assert torch.equal(batch["input_ids"], whole[i])
            first.consumed(batch)
            if i == 4:
                break  # the loader fetched ahead: those batches are not consumed
        state = json.loads(json.dumps(first.state_dict()))  # it is plain JSON
        again = ManifestDataset(plan, block_size=16)
        again.load_state_dict(state)
        rest = [b["input_ids"] for _, b in zip(range(4), again.loader(2, num_workers=workers), strict=False)]  # fmt: skip
        assert all(torch.equal(a, b) for a, b in zip(rest, whole[5:], strict=True))
        if workers:
            with pytest.raises(DataStateError, match="2 reader"):
                odd = ManifestDataset(plan, block_size=16)
                odd.load_state_dict(state)
                next(iter(odd.loader(2, num_workers=1)))
        run.interrupt()


def test_the_run_resumes_its_dataset_and_model_exactly(env: Env) -> None:
    run = env.open(config={"model": {"kind": "lstm"}}, seed=3)
    model = LSTMLanguageModel(257, 16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loader = run.dataset(block_size=32).loader(4)
    for step, batch in run.batches(loader, steps=5):
        run.record(batch, step=step)
        if step == 2:
            run.checkpoint(model, opt, step=step)
    run.interrupt()  # steps 3 and 4 were fetched and recorded, never made durable
    with open_run(resume=run.id, client=env.client) as again:
        assert again.start_step == 3 and again.restore(model, opt) == 3
        ids = [
            b["input_ids"]
            for _, b in again.batches(again.dataset(block_size=32).loader(4), steps=5)
        ]
        assert len(ids) == 2
        again.interrupt()
    with env.open(config={"model": {"kind": "lstm"}}, seed=3) as fresh:
        whole = [
            b["input_ids"]
            for _, b in fresh.batches(fresh.dataset(block_size=32).loader(4), steps=5)
        ]
        fresh.interrupt()
    assert all(torch.equal(a, b) for a, b in zip(ids, whole[3:], strict=True))


def test_hf_adapter_yields_the_datasets_records_and_refuses_a_changed_shard(env: Env) -> None:
    with env.open() as run:
        mine = [(i["shard_id"], i["text"]) for i in run.dataset(records=True, max_epochs=1)]
        hf = manifest_dataset(run=run)
        theirs = [(r["shard_id"], r["text"]) for r in hf]
        assert theirs == mine and len(mine) == sum(len(t) for t in env.texts.values())
        by_seed = [
            (r["shard_id"], r["text"]) for r in manifest_dataset(env.manifest, client=env.client)
        ]
        assert by_seed == mine  # seed 0 either way
        run.interrupt()
    _flip(env.path(shard_order(env.ids, 0, 0)[1]))
    with pytest.raises(ShardIntegrityError, match="failed verification"):
        list(manifest_dataset(env.manifest, client=env.client))


def _loop(run: Any, steps: int, every: int, wait: bool) -> tuple[Any, Any]:
    torch.manual_seed(0)
    model = LSTMLanguageModel(257, 16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for step, batch in run.batches(run.dataset(block_size=32).loader(4), steps=steps):
        logits = model(batch["input_ids"][:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), batch["input_ids"][:, 1:].flatten()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.record(batch, step=step, loss=float(loss.detach()))
        if (step + 1) % every == 0:
            run.checkpoint(model, opt, step=step, wait=wait)
    return model, opt


def test_an_asynchronous_checkpoint_records_what_a_synchronous_one_does(env: Env) -> None:
    from safetensors.torch import load_file

    recorded = {}
    for wait in (True, False):
        run = env.open(config={"model": {"kind": "lstm"}}, seed=5)
        _loop(run, steps=9, every=4, wait=wait)  # checkpoints at 4 and 8
        run.wait()
        with env.client._read() as s:
            row = runs.get_run(s, run.id)
        recorded[wait] = (row.steps_done, row.cursor, env.consumption(run.id),
                          load_file(row.checkpoint_path))  # fmt: skip
        assert row.checkpoint_path.endswith("step-00000008.safetensors")
        assert not (Path(row.checkpoint_path).parent / "step-00000004.safetensors").exists()
        run.interrupt()
    (steps, cursor, used, tensors), (a_steps, a_cursor, a_used, a_tensors) = recorded.values()
    assert (a_steps, a_cursor, a_used) == (steps, cursor, used) and steps == 8
    assert sum(t for t, _ in used.values()) == 8 * 4 * 33
    assert tensors.keys() == a_tensors.keys()
    # the copy taken at step 8: training went on to step 9 after it, and the file is step 8's
    assert all(torch.equal(tensors[k], a_tensors[k]) for k in tensors)


def test_an_asynchronous_checkpoint_that_fails_fails_the_run_with_its_steps(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import trainer.library as library

    def full_disk(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(library, "write_checkpoint", full_disk)
    run = env.open(config={"model": {"kind": "lstm"}})
    with pytest.raises(RunFailed, match="No space left"), run:
        _loop(run, steps=12, every=4, wait=False)  # step 4's write fails; step 8 says so
    with env.client._read() as s:
        row = runs.get_run(s, run.id)
    assert row.status == "failed" and "No space left" in (row.error or "")
    assert row.steps_done == 8  # the failed checkpoint's steps are counted with the failure
    assert sum(t for t, _ in env.consumption(run.id).values()) == 8 * 4 * 33
    assert row.checkpoint_path is None and not list(env.tmp.rglob("step-*.safetensors"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_asynchronous_writer_runs_at_the_lowest_priority_and_the_loop_at_its_own(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import trainer.library as library

    seen: list[tuple[str, int]] = []
    real = library.write_checkpoint

    def watched(*args: Any, **kwargs: Any) -> None:
        me = threading.current_thread().name
        seen.append((me, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        real(*args, **kwargs)

    monkeypatch.setattr(library, "write_checkpoint", watched)
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    run = env.open(config={"model": {"kind": "lstm"}})
    _loop(run, steps=9, every=4, wait=False)  # two asynchronous checkpoints
    run.wait()
    run.interrupt()
    assert [name.startswith("provreg-checkpoint") for name, _ in seen] == [True, True]
    assert [nice for _, nice in seen] == [19, 19]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_interrupt_waits_for_the_asynchronous_checkpoint(env: Env) -> None:
    run = env.open(config={"model": {"kind": "lstm"}})
    model, opt = _loop(run, steps=6, every=4, wait=False)
    run.interrupt()
    with open_run(resume=run.id, client=env.client) as again:
        assert again.start_step == 4 and again.restore(model, opt) == 4
        again.interrupt()
