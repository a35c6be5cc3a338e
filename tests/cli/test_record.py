"""``provreg record prove`` and ``record verify-proof`` through the real CLI, on real files:
the proof is checked offline against the exported manifest, with the database deleted."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from registry.attest.verify import check_manifest
from registry.db.engine import transaction
from registry.shards.store import ShardStore
from tests.conftest import Cli, snapshot
from tests.registry import record_proof_corpus as rc


def test_prove_and_verify_offline(engine: Engine, cli: Cli, tmp_path: Path) -> None:
    with transaction(engine, actor="test") as s:
        corpus = rc.build(s, ShardStore(tmp_path / "store"), tmp_path / "in")
    shard = corpus.shards[-1]
    record = corpus.records[shard][-1]
    (tmp_path / "manifest.json").write_text(cli("manifest", "export", corpus.manifest).stdout)
    merkle = corpus.document["merkle"]
    check_manifest(  # a /2 export's lines carry the record roots its root is made of
        tmp_path / "manifest.json",
        digest=corpus.manifest,
        root=merkle["root"],  # type: ignore[index]
        tree_size=merkle["leaves"],  # type: ignore[index]
    )
    printed = json.loads(cli("record", "prove", corpus.manifest, "--record", record).stdout)
    assert rc.independent_verify(printed, corpus.document)
    url = next(u for s in corpus.shards for u in corpus.urls[s] if u is not None)
    out = cli("record", "prove", "proofs", "--url", url, "--out", str(tmp_path / "p.json"))
    assert "wrote the proof" in out.stdout
    by_url = json.loads((tmp_path / "p.json").read_text())
    assert by_url["url"] == url and rc.independent_verify(by_url, corpus.document)

    (tmp_path / "record.json").write_text(json.dumps(printed))
    cli.env["PROVREG_DATABASE_URL"] = "sqlite:////nonexistent/dir/db.sqlite"  # offline
    ok = cli("record", "verify-proof", str(tmp_path / "record.json"), "--manifest",
             str(tmp_path / "manifest.json"))  # fmt: skip
    assert ok.stdout.startswith("verified: record " + record)
    (tmp_path / "doc.json").write_text(json.dumps(corpus.document, indent=2))  # a plain document
    cli(
        "record",
        "verify-proof",
        str(tmp_path / "record.json"),
        "--manifest",
        str(tmp_path / "doc.json"),
    )

    for field, value in (
        ("record_path", [printed["record_path"][0][::-1], *printed["record_path"][1:]]),
        ("manifest_root", "00" * 32),
    ):
        (tmp_path / "bad.json").write_text(json.dumps({**printed, field: value}))
        bad = cli("record", "verify-proof", str(tmp_path / "bad.json"), "--manifest",
                  str(tmp_path / "manifest.json"), ok=False)  # fmt: skip
        assert bad.exit_code == 1
        assert "proof INVALID: step" in bad.output


def test_a_record_not_in_the_manifest_is_a_clear_error(
    engine: Engine, cli: Cli, tmp_path: Path
) -> None:
    with transaction(engine, actor="test") as s:
        corpus = rc.build(s, ShardStore(tmp_path / "store"), tmp_path / "in")
    before = snapshot(engine)
    got = cli("record", "prove", corpus.manifest, "--url", "https://forum.example/gone", ok=False)
    assert got.exit_code == 1 and "provreg: error: not in this manifest" in got.output
    both = cli("record", "prove", corpus.manifest, ok=False)
    assert both.exit_code == 1 and "exactly one" in both.output
    assert snapshot(engine) == before
