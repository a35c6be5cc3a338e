"""Remote training end to end: a real server over real shard files, ``HttpRegistry`` fetching the
bytes over HTTP (the client's store is empty), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from registry import manifests
from registry.db.models import Shard
from registry.entities.runs import Progress
from registry.errors import Conflict, NotPermitted, PolicyViolation
from registry.runs import read_stamp
from registry.shards.store import ShardStore, hash_file
from tests.api.conftest import LiveServer, Tokens
from tests.conftest import Cli, snapshot
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer.data import shard_order
from trainer.errors import ShardIntegrityError, ShardUnknownError
from trainer.http_client import HttpRegistry
from trainer.run import TrainSpec, train_with_registry

STDLIB = Path(os.path.dirname(os.__file__))
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}
B, ROW = 4, 33  # batch size, block_size + 1: tokens per step = B * ROW


def _corpus(n_shards: int = 4, per_shard: int = 8) -> list[list[str]]:
    text = (STDLIB / "textwrap.py").read_text("utf-8")
    records = [text[i : i + 100] for i in range(0, len(text), 100)]
    return [records[i * per_shard : (i + 1) * per_shard] for i in range(n_shards)]


@dataclass
class Remote:
    server: LiveServer
    tokens: Tokens
    server_store: Path
    client_store: Path
    ids: list[str]
    manifest: str
    tmp: Path
    engine: Engine

    def client(self, role: str = "trainer") -> HttpRegistry:
        return HttpRegistry(
            self.server.url, self.tokens.by_role[role], store=str(self.client_store), retries=1
        )

    def spec(self, **kw: Any) -> TrainSpec:
        base: dict[str, Any] = {
            "manifest": self.manifest,
            "overrides": MODEL,
            "steps": 12,
            "batch_size": B,
            "checkpoint_every": 4,
            "out": str(self.tmp / "model.safetensors"),
            "lr": 1e-2,
            "warmup": 2,
        }
        return TrainSpec(**(base | kw))


@pytest.fixture
def remote(  # type: ignore[no-untyped-def]
    session_factory,
    engine: Engine,
    server: LiveServer,
    api_tokens: Tokens,
    store_dir: Path,
    tmp_path: Path,
) -> Remote:
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        ids = shard_files.register(s, src, "code", store_dir, _corpus())
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
    client_store = tmp_path / "client-store"
    client_store.mkdir()
    return Remote(server, api_tokens, store_dir, client_store, ids, m.hash, tmp_path, engine)


def _get(r: Remote, path: str, role: str = "reader") -> Any:
    response = httpx.get(r.server.url + path, headers=r.tokens.auth(role), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_remote_run_fetches_verified_bytes_records_exact_consumption_and_stamps(
    remote: Remote, cli: Cli
) -> None:
    with remote.client() as client:
        result = train_with_registry(client, remote.spec(), threads=1)
    assert not any(remote.client_store.iterdir())  # every byte came over HTTP
    run = _get(remote, f"/runs/{result.run_id}")
    assert (run["status"], run["steps_done"]) == ("completed", 12)
    used = {
        c["shard_id"]: (c["tokens"], c["records"])
        for c in _get(remote, f"/runs/{run['id']}/consumption")
    }
    assert used == {k: (u.tokens, u.records) for k, u in result.usage.items()}
    assert sum(t for t, _ in used.values()) == run["tokens"] == 12 * B * ROW
    assert set(used) <= set(remote.ids) and len(used) >= 2
    out = remote.tmp / "model.safetensors"
    sha, _ = hash_file(out)
    assert [w["sha256"] for w in run["weights"]] == [sha]
    assert _get(remote, f"/weights/{sha}")["run"] == run["id"]
    stamp = read_stamp(out)
    assert (stamp.run, stamp.manifest, stamp.registry) == (
        run["id"],
        remote.manifest,
        remote.server.url,
    )
    assert stamp.manifest_chain == tuple(_get(remote, f"/runs/{run['id']}/chain"))

    cli.env["PROVREG_TOKEN"] = remote.tokens.by_role["reader"]
    ok = cli("weights", "verify", str(out), "--registry", remote.server.url)
    assert "verified" in ok.stdout and run["id"] in ok.stdout
    data = bytearray(out.read_bytes())  # a changed file fails the same check, over HTTP
    data[-1] ^= 0x01
    (remote.tmp / "changed.safetensors").write_bytes(bytes(data))
    bad = cli(
        "weights",
        "verify",
        str(remote.tmp / "changed.safetensors"),
        "--registry",
        remote.server.url,
        ok=False,
    )
    assert "changed after it was stamped" in bad.stderr


def test_remote_train_through_the_cli(remote: Remote, cli: Cli) -> None:
    cli.env["PROVREG_STORE"] = str(remote.client_store)
    cli.env["PROVREG_TOKEN"] = remote.tokens.by_role["trainer"]
    args = [
        "--set",
        "n_layer=1",
        "--set",
        "n_head=2",
        "--set",
        "n_embd=32",
        "--set",
        "block_size=32",
    ]
    out = cli(
        "train",
        "--manifest",
        "m",
        *args,
        "--steps",
        "4",
        "--batch-size",
        str(B),
        "--checkpoint-every",
        "2",
        "--out",
        str(remote.tmp / "cli.safetensors"),
        "--threads",
        "1",
        "--json",
        "--registry",
        remote.server.url,
    )
    assert '"status": "completed"' in out.stdout
    [run] = _get(remote, "/runs")["items"]
    assert (run["status"], run["tokens"]) == ("completed", 4 * B * ROW)


def test_bytes_changed_on_the_server_stop_the_remote_run(remote: Remote) -> None:
    target = shard_order(remote.ids, 0, 0)[1]
    path = Path(ShardStore(str(remote.server_store)).path_for(target))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with remote.client() as client, pytest.raises(ShardIntegrityError, match=target):
        train_with_registry(client, remote.spec(steps=30), threads=1)
    [run] = _get(remote, "/runs")["items"]
    assert run["status"] == "failed" and target in run["error"] and run["steps_done"] > 0
    used = {c["shard_id"]: c["tokens"] for c in _get(remote, f"/runs/{run['id']}/consumption")}
    assert target not in used
    assert sum(used.values()) == run["steps_done"] * B * ROW  # the steps it took are counted
    assert run["weights"] == []


def test_roles_policy_and_unknown_shards_map_to_the_local_errors(remote: Remote) -> None:
    before = snapshot(remote.engine)
    with remote.client("reader") as reader, pytest.raises(NotPermitted, match="trainer"):
        train_with_registry(reader, remote.spec(), threads=1)
    response = httpx.post(
        remote.server.url + "/runs",
        json={"manifest": "m", "config": {}, "seed": 0, "tokenizer": "t", "code_version": "c"},
        headers=remote.tokens.auth("reader"),
    )
    assert response.status_code == 403
    assert snapshot(remote.engine) == before
    with remote.client() as client:
        stray, *_ = shard_files.write_shard(remote.server_store, ["a file nobody registered"])
        with pytest.raises(ShardUnknownError, match=stray):
            client.shard_source(remote.manifest).resolve(stray)
        with remote.engine.begin() as conn:
            conn.execute(sa.update(Shard).where(Shard.id == remote.ids[2]).values(status="revoked"))
        with pytest.raises(PolicyViolation, match="shard-revoked") as err:
            train_with_registry(client, remote.spec(), threads=1)
        assert err.value.violations and err.value.detail.count("\n  - ") == len(
            err.value.violations
        )
    assert _get(remote, "/runs")["items"] == []


def test_progress_is_idempotent_by_step(remote: Remote) -> None:
    with remote.client() as client:
        run = client.open_run(  # 5 tokens a step: 1 row of 4 + 1
            manifest_ref=remote.manifest,
            config={"train": {"steps": 10, "batch_size": 1}, "model": {"block_size": 4}},
            seed=0,
            tokenizer="t",
            code_version="c",
        )
        report = Progress(
            steps_done=4,
            cursor={"at": 4},
            consumption_delta={remote.ids[0]: (20, 1)},
            checkpoint_path="c4",
        )
        client.record_progress(run.id, report)
        again = client.record_progress(run.id, report)  # a retry after a lost answer
        assert (again.steps_done, again.tokens) == (4, 20)
        for stale in (
            report.model_copy(update={"steps_done": 3}),
            report.model_copy(update={"cursor": {"at": 5}}),
        ):
            with pytest.raises(Conflict, match="recorded 4 steps"):
                client.record_progress(run.id, stale)
        assert client.get_run(run.id).tokens == 20
        final = report.model_copy(update={"steps_done": 8, "cursor": {"at": 8}})
        kw = {"sha256": "a" * 64, "path": "w.safetensors", "size": 3}
        done = client.complete_run(run.id, final, **kw)
        assert client.complete_run(run.id, final, **kw) == done  # retried: nothing changes
        assert (done.status, done.tokens) == ("completed", 40)


class _StopsAfterFirstCheckpoint(HttpRegistry):
    """A real HTTP client whose process is stopped (Ctrl-C) right after its first checkpoint."""

    def record_progress(self, run_id: str, progress: Progress) -> Any:
        super().record_progress(run_id, progress)
        raise KeyboardInterrupt


def test_interrupted_remote_run_resumes_with_exact_consumption(remote: Remote) -> None:
    stopping = _StopsAfterFirstCheckpoint(
        remote.server.url, remote.tokens.by_role["trainer"], store=str(remote.client_store)
    )
    with stopping, pytest.raises(KeyboardInterrupt):
        train_with_registry(stopping, remote.spec(), threads=1)
    [run] = _get(remote, "/runs")["items"]
    assert (run["status"], run["steps_done"], run["tokens"]) == ("interrupted", 4, 4 * B * ROW)
    with remote.client() as client:
        result = train_with_registry(client, resume_run=run["id"][:10], threads=1)
    assert (result.start_step, result.steps_done) == (4, 12)
    done = _get(remote, f"/runs/{run['id']}")
    assert (done["status"], done["tokens"]) == ("completed", 12 * B * ROW)
