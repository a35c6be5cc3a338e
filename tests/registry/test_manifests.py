"""Manifests through the service and the real CLI: policy, freezing, proofs, prefixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from manifests.document import ManifestDocument
from manifests.merkle import merkle_root
from registry import manifests as svc
from registry.db.models import Shard, Source
from registry.errors import Conflict, InvalidInput, NotFound, PolicyViolation
from tests.conftest import Cli, snapshot
from tests.registry import factories as f


@pytest.fixture
def corpus(session_factory) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        mit = f.source(s, "code", licence="MIT")
        nc = f.source(s, "papers", licence="CC-BY-NC-4.0")
        return {"code": f.shards(s, mit, "code-ds", 5), "papers": f.shards(s, nc, "papers-ds", 3)}


def test_create_freezes_a_verifiable_document(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        out = svc.create_manifest(
            s,
            svc.ManifestIn(name="m1", intended_use="research", datasets=["code-ds", "papers-ds@1"]),
        )
    doc = ManifestDocument.from_dict(out.document)
    assert doc.hash == out.hash
    assert out.merkle_root == merkle_root(sorted(corpus["code"] + corpus["papers"]))
    assert out.shard_count == 8
    assert out.total_tokens == sum(2000 + i for i in range(5)) + sum(2000 + i for i in range(3))
    assert {x["name"]: x["obligations"] for x in out.document["sources"]} == {
        "code": ["attribution"],
        "papers": ["attribution"],
    }
    with session_factory() as s:
        assert svc.verify_manifest(s, out.hash[:10]).ok
        assert svc.get_manifest(s, "m1") == out


def test_policy_refusal_lists_every_violation_and_creates_nothing(
    session_factory, corpus, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        opted = f.source(
            s, "forum", licence="CC-BY-ND-4.0", consent="opted-out", contributor="bob", terms=None
        )
        f.shards(s, opted, "forum-ds", 2)
    before = snapshot(engine)
    with pytest.raises(PolicyViolation) as err, session_factory() as s:
        svc.create_manifest(
            s,
            svc.ManifestIn(
                name="m", intended_use="commercial", datasets=["code-ds", "papers-ds", "forum-ds"]
            ),
        )
    codes = sorted(v.split("]")[0][1:] for v in err.value.violations)
    assert codes == [
        "no-compensation-terms",
        "no-derivatives",
        "non-commercial",
        "source-opted-out",
    ]
    assert snapshot(engine) == before


def test_waiver_lifts_only_what_it_may(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        f.shards(s, f.source(s, "old", licence="LicenseRef-unknown"), "old-ds", 2)
    with pytest.raises(PolicyViolation, match="unknown-licence"), session_factory() as s:
        svc.create_manifest(
            s, svc.ManifestIn(name="m", intended_use="research", datasets=["old-ds"])
        )
    with session_factory() as s:
        out = svc.create_manifest(
            s,
            svc.ManifestIn(
                name="m",
                intended_use="research",
                datasets=["old-ds"],
                waivers={"old": "legal reviewed 2026-10"},
            ),
        )
    assert out.document["waivers"] == [{"source": "old", "reason": "legal reviewed 2026-10"}]


def test_exclusions_parents_names_and_diff(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        a = svc.create_manifest(
            s, svc.ManifestIn(name="a", intended_use="research", datasets=["code-ds", "papers-ds"])
        )
        b = svc.create_manifest(
            s,
            svc.ManifestIn(
                name="b",
                intended_use="commercial",
                datasets=["code-ds", "papers-ds"],
                exclude_sources=["papers"],
                shards=[corpus["code"][0][:12]],
                parent=a.hash[:8],
            ),
        )
    assert b.parent == a.hash and b.shard_count == 5
    with session_factory() as s:
        d = svc.diff_manifests(s, "a", "b")
        assert d.removed == sorted(corpus["papers"]) and d.added == []
        assert d.licences_removed == ["CC-BY-NC-4.0"]
        assert svc.lineage(s, "b") == [a.hash, b.hash]
    with pytest.raises(Conflict, match="taken"), session_factory() as s:
        svc.create_manifest(
            s, svc.ManifestIn(name="a", intended_use="research", datasets=["code-ds"])
        )


def test_bad_selections_are_clear_errors(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (
            svc.ManifestIn(name="x", intended_use="fun", datasets=["code-ds"]),
            InvalidInput,
            "unknown intended use",
        ),
        (svc.ManifestIn(name="x", intended_use="research"), InvalidInput, "at least one"),
        (
            svc.ManifestIn(name="x", intended_use="research", datasets=["nope"]),
            NotFound,
            "unknown dataset",
        ),
        (
            svc.ManifestIn(name="x", intended_use="research", shards=["f" * 64]),
            NotFound,
            "unknown shard",
        ),
        (
            svc.ManifestIn(name="x", intended_use="research", shards=["abc"]),
            InvalidInput,
            "too short",
        ),
        (
            svc.ManifestIn(
                name="x", intended_use="research", datasets=["code-ds"], exclude_sources=["code"]
            ),
            InvalidInput,
            "no shards",
        ),
        (
            svc.ManifestIn(
                name="x", intended_use="research", datasets=["code-ds"], parent="0" * 64
            ),
            NotFound,
            "no manifest id starts with",
        ),
    ]
    for spec, exc, message in cases:
        with pytest.raises(exc, match=message), session_factory() as s:
            svc.create_manifest(s, spec)


def test_ambiguous_prefix_is_a_clear_error(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        src = f.source(s, "s")
        for sid in ("abcdef01" + "0" * 56, "abcdef01" + "1" * 56):
            s.add(
                Shard(
                    id=sid,
                    source_id=src.id,
                    bytes=1,
                    records=1,
                    tokens=1,
                    format="parquet",
                    store_uri="x",
                )
            )
    with pytest.raises(InvalidInput, match="ambiguous: 2 shards match"), session_factory() as s:
        svc.create_manifest(
            s, svc.ManifestIn(name="x", intended_use="research", shards=["abcdef01"])
        )
    with session_factory() as s:
        out = svc.create_manifest(
            s, svc.ManifestIn(name="x", intended_use="research", shards=["abcdef011"])
        )
    assert out.shard_count == 1


def test_manifest_members_are_frozen_in_the_database(
    session_factory, corpus, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        out = svc.create_manifest(
            s, svc.ManifestIn(name="m", intended_use="research", datasets=["code-ds"])
        )
    for statement in (
        "UPDATE manifest_shards SET shard_id = shard_id",
        "DELETE FROM manifest_shards",
        "UPDATE manifests SET intended_use = 'commercial'",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with session_factory() as s:
        assert svc.verify_manifest(s, out.hash).ok


def test_revocation_after_creation_blocks_use(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        out = svc.create_manifest(
            s, svc.ManifestIn(name="m", intended_use="research", datasets=["code-ds"])
        )
        svc.check_usable(s, out.hash)
    with session_factory() as s:
        s.execute(sa.update(Shard).where(Shard.id == corpus["code"][2]).values(status="revoked"))
        s.execute(sa.update(Source).where(Source.name == "code").values(consent_status="opted-out"))
    with pytest.raises(PolicyViolation) as err, session_factory() as s:
        svc.check_usable(s, out.hash)
    assert sorted(v.split("]")[0][1:] for v in err.value.violations) == [
        "shard-revoked",
        "source-opted-out",
    ]


def test_cli_create_prove_and_verify_offline(
    cli: Cli, session_factory, corpus, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    digest = cli(
        "manifest", "create", "--name", "m", "--use", "research", "--dataset", "code-ds"
    ).stdout.strip()
    assert len(digest) == 64
    assert "verified" in cli("manifest", "verify", digest[:8]).stdout
    export = cli("manifest", "export", digest).stdout.splitlines()
    (tmp_path / "doc.json").write_text(export[0])
    assert [json.loads(x)["id"] for x in export[1:]] == sorted(corpus["code"])
    proof = cli("manifest", "prove", digest[:12], corpus["code"][3]).stdout
    assert len(json.loads(proof)["path"]) <= 3
    (tmp_path / "proof.json").write_text(proof)
    assert (
        "proof valid"
        in cli(
            "manifest",
            "verify-proof",
            str(tmp_path / "proof.json"),
            "--manifest",
            str(tmp_path / "doc.json"),
        ).stdout
    )
    tampered = json.loads(proof)
    tampered["path"][0] = "0" * 64
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    bad = cli(
        "manifest",
        "verify-proof",
        str(tmp_path / "bad.json"),
        "--manifest",
        str(tmp_path / "doc.json"),
        ok=False,
    )
    assert bad.exit_code == 1 and "INVALID" in bad.stderr
    missing = cli("manifest", "prove", digest, corpus["papers"][0], ok=False)
    assert missing.exit_code == 1 and "is not in manifest" in missing.stderr
    refused = cli(
        "manifest",
        "create",
        "--name",
        "c",
        "--use",
        "commercial",
        "--dataset",
        "papers-ds",
        ok=False,
    )
    assert refused.exit_code == 1 and "[non-commercial]" in refused.stderr
    listed = json.loads(cli("manifest", "list", "--json").stdout)
    assert [m["hash"] for m in listed] == [digest]
