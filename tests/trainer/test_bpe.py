"""The trained tokenizer: reproducible, content-addressed, registered, and named by runs, stamps,
disclosures and statements; consumption counts its tokens. Real registry, store and CLI."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tokenizers import Tokenizer

from registry import disclosure, ledger, manifests, runs, tokenizers
from registry.runs import read_stamp
from tests.conftest import Cli, snapshot
from tests.registry import factories as f
from tests.registry.shards import shard_files
from trainer.bpe import BPESettings, BPETokenizer, manifest_records, train_bpe
from trainer.client import LocalRegistry
from trainer.errors import TrainerError
from trainer.run import TrainSpec, train_with_registry

STDLIB = Path(os.path.dirname(os.__file__))
MODEL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}


def _records(name: str, n: int = 6, per: int = 10) -> list[list[str]]:
    text = (STDLIB / name).read_text("utf-8")
    records = [text[i : i + 200] for i in range(0, len(text), 200)]
    return [records[i * per : (i + 1) * per] for i in range(n)]


@pytest.fixture
def reg(session_factory, engine: Engine, tmp_path: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    with session_factory() as s:
        a = f.source(s, "stdlib", licence="MIT", contributor="alice", terms="per-mtok:1000:EUR")
        shard_files.register(s, a, "textwrap", store, _records("textwrap.py"))
        shard_files.register(s, a, "bisect", store, _records("argparse.py"))
        ma = manifests.create_manifest(
            s, manifests.ManifestIn(name="a", intended_use="research", datasets=["textwrap"])
        ).hash
        mb = manifests.create_manifest(
            s, manifests.ManifestIn(name="b", intended_use="research", datasets=["bisect"])
        ).hash
    client = LocalRegistry(engine, store=str(store), actor="test")
    return {"client": client, "store": store, "a": ma, "b": mb, "engine": engine}


def test_bpe_is_reproducible_and_a_real_tokenizers_file(reg: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    client: LocalRegistry = reg["client"]  # type: ignore[assignment]
    ids = client.shard_ids(reg["a"])  # type: ignore[arg-type]
    source = client.shard_source(reg["a"])  # type: ignore[arg-type]
    settings = BPESettings(vocab_size=400)
    one = train_bpe(manifest_records(source, ids), settings)
    two = train_bpe(manifest_records(source, ids), settings)
    assert one == two  # same manifest, same settings: the same bytes
    assert train_bpe(manifest_records(source, ids), BPESettings(vocab_size=401)) != one
    # Against tokenizers itself: the file loads there and encodes the same ids.
    ours, theirs = BPETokenizer(one), Tokenizer.from_str(one.decode())
    text = "def wrap(text, width=70):"
    assert ours.encode(text, eot=False) == theirs.encode(text).ids
    assert ours.decode(ours.encode(text)) == text and ours.vocab_size == 400
    assert ours.identity == hashlib.sha256(one).hexdigest()
    with pytest.raises(TrainerError, match="failed verification"):
        BPETokenizer(one + b" ", identity=ours.identity)


def test_runs_stamps_disclosures_and_statements_name_the_tokenizer(
    reg: dict,  # type: ignore[type-arg]
    cli: Cli,
    tmp_path: Path,
) -> None:
    cli.env["PROVREG_STORE"] = str(reg["store"])
    first = json.loads(
        cli("tokenizer", "train", "--manifest", "a", "--vocab-size", "400", "--json").stdout
    )
    again = json.loads(
        cli("tokenizer", "train", "--manifest", "a", "--vocab-size", "400", "--json").stdout
    )
    assert first["added"] and not again["added"] and first["id"] == again["id"]
    tok_id = first["id"]
    assert first["manifest"] == reg["a"] and first["vocab_size"] == 400
    stored = Path(reg["store"]) / "tokenizers" / f"{tok_id}.json"  # type: ignore[operator]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == tok_id
    assert tok_id[:12] in cli("tokenizer", "list").stdout

    # Trained on manifest a, used for a run on manifest b: the stamp records both.
    client: LocalRegistry = reg["client"]  # type: ignore[assignment]
    out = tmp_path / "bpe.safetensors"
    spec = TrainSpec(
        manifest=reg["b"], overrides=MODEL, steps=6, batch_size=4, checkpoint_every=3,  # type: ignore[arg-type]
        out=str(out), lr=1e-2, warmup=1, tokenizer=tok_id[:12],
    )  # fmt: skip
    result = train_with_registry(client, spec, threads=1)
    run = client.get_run(result.run_id)
    assert run.tokenizer == tok_id and run.config["model"]["vocab_size"] == 400
    assert run.tokens == 6 * 4 * 33  # consumption counts BPE tokens (blocks of 33 of them)
    bpe = BPETokenizer(stored.read_bytes(), identity=tok_id)
    texts = [t for s in _records("argparse.py") for t in s]
    assert run.tokens < sum(len(t.encode()) + 1 for t in texts)  # fewer than the bytes
    assert sum(len(bpe.encode(t)) for t in texts[:2]) < sum(len(t.encode()) + 1 for t in texts[:2])
    stamp = read_stamp(out)
    assert (stamp.tokenizer, stamp.tokenizer_manifest, stamp.manifest) == (
        tok_id,
        reg["a"],
        reg["b"],
    )
    assert stamp.format == "provreg.stamp/2"
    with client._read() as s:
        assert runs.verify_weights(s, str(out)).ok
        facts = disclosure.build_facts(s, str(out))
    [ref] = facts.runs
    assert (ref.tokenizer, ref.tokenizer_manifest) == (tok_id, reg["a"])

    gen = cli("generate", str(out), "--prompt", "def ", "--tokens", "5")
    assert gen.stdout.startswith("def ")  # sampled with the stamp's tokenizer, from the registry
    cli("settle", run.id)
    with client._read() as s:
        statement = ledger.statement(s, "alice")
    assert [r.tokenizer for r in statement.by_run] == [tok_id]
    shown = json.loads(cli("statement", "alice", "--format", "json").stdout)
    assert [r["tokenizer"] for r in shown["by_run"]] == [tok_id]
    assert "tokens counted in" in cli("statement", "alice").stdout


def test_an_unknown_or_tampered_tokenizer_opens_no_run(reg: dict, cli: Cli, tmp_path: Path) -> None:  # type: ignore[type-arg]
    cli.env["PROVREG_STORE"] = str(reg["store"])
    engine: Engine = reg["engine"]  # type: ignore[assignment]
    tok_id = json.loads(
        cli("tokenizer", "train", "--manifest", "a", "--vocab-size", "300", "--json").stdout
    )["id"]
    stored = Path(reg["store"]) / "tokenizers" / f"{tok_id}.json"  # type: ignore[operator]
    stored.write_bytes(stored.read_bytes().replace(b'"<|endoftext|>"', b'"<|endoftexT|>"'))
    before = snapshot(engine)
    args = ["train", "--manifest", "b", "--steps", "2", "--out", str(tmp_path / "x.safetensors")]
    bad = cli(*args, "--tokenizer", tok_id, ok=False)
    assert bad.exit_code == 1 and "failed verification" in bad.stderr, bad.stderr
    unknown = cli(*args, "--tokenizer", "ab" * 32, ok=False)
    assert unknown.exit_code == 1 and "unknown tokenizer" in unknown.stderr, unknown.stderr
    assert snapshot(engine) == before
    with reg["client"]._read() as s:  # type: ignore[attr-defined]
        assert [t.id for t in tokenizers.list_tokenizers(s)] == [tok_id]


@pytest.mark.parametrize("ahead", [0, 1])
def test_manifest_records_read_ahead_in_order_and_stop_at_a_changed_shard(
    reg: dict,
    ahead: int,  # type: ignore[type-arg]
) -> None:
    from registry.shards.store import ShardStore
    from trainer.errors import ShardIntegrityError
    from trainer.reader import read_verified

    client: LocalRegistry = reg["client"]  # type: ignore[assignment]
    ids = sorted(client.shard_ids(reg["a"]))  # type: ignore[arg-type]
    source = client.shard_source(reg["a"])  # type: ignore[arg-type]
    expected = [t for i in ids for t in read_verified(source, i).texts]
    assert list(manifest_records(source, ids, ahead=ahead)) == expected
    path = Path(ShardStore(str(reg["store"])).path_for(ids[3]))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    got: list[str] = []
    with pytest.raises(ShardIntegrityError, match=ids[3]):
        got.extend(manifest_records(source, ids, ahead=ahead))
    assert got == [t for i in ids[:3] for t in read_verified(source, i).texts]  # none of shard 3
