"""A remote trainer uses a registered tokenizer: ``/tokenizers`` over a real server, the file
fetched over HTTP (the client's store is empty) and checked against its id."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
from sqlalchemy import Engine

from registry import manifests
from registry.runs import read_stamp
from tests.api.conftest import LiveServer, Tokens
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer.bpe import BPESettings, train_manifest_tokenizer
from trainer.client import LocalRegistry
from trainer.http_client import HttpRegistry
from trainer.run import TrainSpec, train_with_registry

MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}


def test_remote_run_with_a_trained_tokenizer(  # type: ignore[no-untyped-def]
    session_factory, engine: Engine, server: LiveServer, api_tokens: Tokens, store_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    text = (Path(os.path.dirname(os.__file__)) / "textwrap.py").read_text("utf-8")
    records = [text[i : i + 150] for i in range(0, len(text), 150)]
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        shard_files.register(s, src, "code", store_dir, [records[i::4] for i in range(4)])
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        ).hash
    local = LocalRegistry(engine, store=str(store_dir), actor="test")
    tok, _ = train_manifest_tokenizer(local, m, BPESettings(vocab_size=320), store=str(store_dir))

    auth = api_tokens.auth("reader")
    listed = httpx.get(f"{server.url}/tokenizers", headers=auth, timeout=30).json()
    assert [t["id"] for t in listed] == [tok.id] and listed[0]["manifest"] == m
    body = httpx.get(f"{server.url}/tokenizers/{tok.id[:10]}/content", headers=auth, timeout=30)
    assert body.status_code == 200 and hashlib.sha256(body.content).hexdigest() == tok.id
    assert httpx.get(f"{server.url}/tokenizers/{'0' * 12}", headers=auth).status_code == 404
    assert httpx.get(f"{server.url}/tokenizers").status_code == 401

    empty = tmp_path / "client-store"
    empty.mkdir()
    out = tmp_path / "remote.safetensors"
    with HttpRegistry(server.url, api_tokens.by_role["trainer"], store=str(empty)) as client:
        spec = TrainSpec(
            manifest=m, overrides=MODEL, steps=4, batch_size=2, checkpoint_every=2,
            out=str(out), lr=1e-2, warmup=1, tokenizer=tok.id,
        )  # fmt: skip
        result = train_with_registry(client, spec, threads=1)
        run = client.get_run(result.run_id)
    assert not any(empty.iterdir())  # the tokenizer and the shards came over HTTP
    assert run.status == "completed" and run.tokenizer == tok.id
    assert read_stamp(out).tokenizer_manifest == m
