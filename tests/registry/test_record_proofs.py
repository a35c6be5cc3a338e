"""Record proofs through the service, on real shard files and a real database: checked by the
independent RFC 6962 code in ``record_proof_corpus``, not by the project's verifier alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from manifests.canonical import canonical_json
from manifests.document import ManifestDocument
from manifests.errors import ProofError
from manifests.merkle import InclusionProof, merkle_root, verify_inclusion_against_document
from manifests.records import RecordProof, record_root, verify_record_proof
from registry import manifests
from registry.db.models import Shard
from registry.entities.manifests import ManifestIn
from registry.errors import InvalidInput, RecordNotInManifest
from registry.proofs.records import prove_record
from registry.shards.store import ShardStore
from tests.conftest import snapshot
from tests.registry import factories as f
from tests.registry import record_proof_corpus as rc


@pytest.fixture
def store(tmp_path: Path) -> ShardStore:
    return ShardStore(tmp_path / "store")


@pytest.fixture
def corpus(session_factory: Callable[..., Any], store: ShardStore, tmp_path: Path) -> rc.Corpus:
    with session_factory() as s:
        return rc.build(s, store, tmp_path / "in")


def _positions(n: int) -> list[int]:
    return sorted({0, n // 2, n - 1})


def test_the_manifest_is_v2_and_its_roots_are_the_rfc_ones(
    session_factory: Callable[..., Any], corpus: rc.Corpus
) -> None:
    assert corpus.document["schema"] == "provreg.manifest/2"
    assert sorted(len(r) for r in corpus.records.values()) == list(rc.COUNTS)
    roots = {s: rc.mth([r.encode("utf-8") for r in ids]) for s, ids in corpus.records.items()}
    with session_factory() as s:
        stored = dict(s.execute(sa.select(Shard.id, Shard.record_root)).all())
    assert stored == {k: v.hex() for k, v in roots.items()}  # written at ingest
    leaves = [bytes.fromhex(s) + roots[s] for s in corpus.shards]
    assert corpus.document["merkle"]["root"] == rc.mth(leaves).hex()  # type: ignore[index]
    with session_factory() as s:
        assert manifests.verify_manifest(s, corpus.manifest).ok


def test_first_middle_and_last_records_of_first_middle_and_last_shards(
    session_factory: Callable[..., Any], store: ShardStore, corpus: rc.Corpus
) -> None:
    checked = 0
    for leaf in _positions(len(corpus.shards)):
        shard = corpus.shards[leaf]
        ids = corpus.records[shard]
        for index in _positions(len(ids)):
            with session_factory() as s:
                proof = prove_record(s, store, corpus.manifest, record=ids[index])
            data = proof.to_dict()
            assert (data["shard"], data["leaf_index"], data["record_index"]) == (shard, leaf, index)
            assert data["record_count"] == len(ids) and data["leaf_count"] == len(corpus.shards)
            assert rc.independent_verify(data, corpus.document)
            verify_record_proof(RecordProof.from_dict(data), corpus.document)
            bound = math.ceil(math.log2(len(ids))) + math.ceil(math.log2(len(corpus.shards)))
            assert len(data["record_path"]) + len(data["manifest_path"]) <= bound
            checked += 1
    assert checked >= 7  # the 1-record shard gives one position, the others three


def test_a_record_by_url_in_a_v2_shard(
    session_factory: Callable[..., Any], store: ShardStore, corpus: rc.Corpus
) -> None:
    shard = next(
        s for s in corpus.shards if corpus.urls[s][0] is not None and len(corpus.urls[s]) > 2
    )
    url = corpus.urls[shard][2]
    assert url is not None
    with session_factory() as s:
        proof = prove_record(s, store, corpus.manifest, url=url)
    assert (proof.url, proof.record, proof.shard) == (url, corpus.records[shard][2], shard)
    assert rc.independent_verify(proof.to_dict(), corpus.document)


def _flip(hex_text: str, at: int = 0) -> str:
    raw = bytearray(bytes.fromhex(hex_text))
    raw[at] ^= 0x01
    return raw.hex()


def test_one_changed_byte_of_a_leaf_a_sibling_or_a_root_fails(
    session_factory: Callable[..., Any], store: ShardStore, corpus: rc.Corpus
) -> None:
    shard = next(s for s in corpus.shards if len(corpus.records[s]) == 13)
    with session_factory() as s:
        good = prove_record(s, store, corpus.manifest, record=corpus.records[shard][6]).to_dict()
    assert rc.independent_verify(good, corpus.document)
    tampered = {
        "record leaf": {"record": _flip(good["record"], 31)},
        "record sibling": {"record_path": [_flip(good["record_path"][0]), *good["record_path"][1:]]},
        "shard leaf": {"shard": _flip(good["shard"], 5)},
        "manifest sibling": {
            "manifest_path": [*good["manifest_path"][:-1], _flip(good["manifest_path"][-1], 31)]
        },
        "record root": {"record_root": _flip(good["record_root"])},
        "manifest root": {"manifest_root": _flip(good["manifest_root"])},
        "record index": {"record_index": good["record_index"] + 1},
    }  # fmt: skip
    for what, change in tampered.items():
        bad = {**good, **change}
        assert not rc.independent_verify(bad, corpus.document), what
        with pytest.raises(ProofError, match="step"):
            verify_record_proof(RecordProof.from_dict(bad), corpus.document)
    other_root = dict(corpus.document, merkle={**corpus.document["merkle"], "root": "ab" * 32})  # type: ignore[dict-item]
    assert not rc.independent_verify(good, other_root)
    with pytest.raises(ProofError, match="step 0"):
        verify_record_proof(RecordProof.from_dict(good), other_root)


def test_an_absent_record_is_not_in_this_manifest_and_changes_nothing(
    engine: Engine, session_factory: Callable[..., Any], store: ShardStore, corpus: rc.Corpus
) -> None:
    before = snapshot(engine)
    for ask in ({"record": "0" * 64}, {"record": "not-an-id"}, {"url": "https://forum.example/x"}):
        with (
            session_factory() as s,
            pytest.raises(RecordNotInManifest, match=r"^not in this manifest$"),
        ):
            prove_record(s, store, corpus.manifest, **ask)
    with session_factory() as s, pytest.raises(InvalidInput, match="exactly one"):
        prove_record(s, store, corpus.manifest)
    assert snapshot(engine) == before


def test_a_shard_without_a_record_root_gets_it_from_its_verified_file(
    session_factory: Callable[..., Any], store: ShardStore, corpus: rc.Corpus
) -> None:
    shard = corpus.shards[0]
    with session_factory() as s:
        s.execute(sa.update(Shard).where(Shard.id == shard).values(record_root=None))
    with session_factory() as s:
        again = manifests.create_manifest(
            s, ManifestIn(name="again", intended_use="research", shards=[shard]), store=store
        )
    with session_factory() as s:
        assert s.get_one(Shard, shard).record_root == record_root(corpus.records[shard])
    assert (
        again.document["merkle"]["root"]
        == rc.mth(  # type: ignore[index]
            [bytes.fromhex(shard) + bytes.fromhex(record_root(corpus.records[shard]))]
        ).hex()
    )


def test_v1_manifests_are_unaffected(
    session_factory: Callable[..., Any], store: ShardStore
) -> None:
    with session_factory() as s:
        src = f.source(s, "code", licence="MIT")
        ids = f.shards(s, src, "code-ds", 5)  # rows only, no files: no record roots to commit to
        out = manifests.create_manifest(
            s, ManifestIn(name="old", intended_use="research", datasets=["code-ds"]), store=store
        )
    assert out.document["schema"] == "provreg.manifest/1"
    assert out.merkle_root == merkle_root(sorted(ids))
    doc = ManifestDocument.from_dict(out.document)
    assert doc.hash == out.hash and doc.to_dict() == out.document
    with session_factory() as s:
        assert manifests.verify_manifest(s, out.hash).ok
        shard_proof = manifests.prove(s, out.hash, ids[2])
        with pytest.raises(InvalidInput, match=r"provreg\.manifest/1"):
            prove_record(s, store, out.hash, record="0" * 64)
    assert "record_root" not in shard_proof.to_dict()
    assert verify_inclusion_against_document(
        InclusionProof.from_dict(shard_proof.to_dict()), ids[2], out.document
    )
    with pytest.raises(ProofError, match="step 0"):
        verify_record_proof(RecordProof(**{**_any_proof(), "manifest": out.hash}), out.document)


def test_shard_proofs_of_a_v2_manifest_carry_the_record_root(
    session_factory: Callable[..., Any], corpus: rc.Corpus
) -> None:
    with session_factory() as s:
        proof = manifests.prove(s, corpus.manifest, corpus.shards[1])
    data = proof.to_dict()
    assert data["record_root"] == record_root(corpus.records[corpus.shards[1]])
    assert verify_inclusion_against_document(
        InclusionProof.from_dict(data), data["shard"], corpus.document
    )
    without = {k: v for k, v in data.items() if k != "record_root"}
    assert not verify_inclusion_against_document(
        InclusionProof.from_dict(without), data["shard"], corpus.document
    )


def _any_proof() -> dict[str, Any]:
    return {
        "manifest": "0" * 64, "record": "r", "shard": "0" * 64, "record_index": 0,
        "record_count": 1, "record_path": (), "record_root": "0" * 64, "leaf_index": 0,
        "leaf_count": 1, "manifest_path": (), "manifest_root": "0" * 64,
    }  # fmt: skip


def test_the_documented_snippet_checks_a_proof(
    session_factory: Callable[..., Any], store: ShardStore, corpus: rc.Corpus
) -> None:
    """The hashlib-only verifier in docs/manifest-format.md, run as written."""
    text = (Path(__file__).parents[2] / "docs" / "manifest-format.md").read_text("utf-8")
    snippet = text.split("## Record proofs")[1].split("```python\n")[1].split("```")[0]
    scope: dict[str, Any] = {}
    exec(compile(snippet, "manifest-format.md", "exec"), scope)  # our own docs, as written
    line = canonical_json(corpus.document)
    shard = corpus.shards[-1]
    with session_factory() as s:
        proof = prove_record(s, store, corpus.manifest, record=corpus.records[shard][-1]).to_dict()
    assert scope["verify"](proof, line)
    assert not scope["verify"]({**proof, "record_root": _flip(proof["record_root"])}, line)
    assert not scope["verify"]({**proof, "manifest_root": _flip(proof["manifest_root"])}, line)
