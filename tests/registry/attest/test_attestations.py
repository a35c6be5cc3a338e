"""Attestations, checked independently: PAE by hand and the signature with ``cryptography``;
offline verification and each of its failure modes; bad keys change nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from registry import manifests
from registry.attest import keys, records, statements, verify
from registry.errors import NotFound, NotPermitted, VerificationFailed
from tests.conftest import snapshot
from tests.registry.attest.conftest import Signed, set_key, statement_of


def independent_check(envelope: bytes, public_pem: bytes) -> dict:
    """DSSE by the spec, without provreg or securesystemslib: PAE, then ECDSA P-256 SHA-256."""
    env = json.loads(envelope)
    body = base64.b64decode(env["payload"])
    ptype = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(body), body)
    public = serialization.load_pem_public_key(public_pem)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    (sig,) = env["signatures"]
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert sig["keyid"] == hashlib.sha256(der).hexdigest()
    public.verify(base64.b64decode(sig["sig"]), pae, ec.ECDSA(hashes.SHA256()))  # raises if bad
    assert env["payloadType"] == "application/vnd.in-toto+json"
    return json.loads(body)


def test_manifest_attestation_verifies_independently(signed: Signed) -> None:
    with signed.tx() as s:
        att = records.manifest_attestation(s, signed.manifest)
        document = json.loads(manifests.manifest_row(s, signed.manifest).document)
    statement = independent_check(att.envelope, Path(signed.public_path).read_bytes())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["digest"] == {"sha256": signed.manifest}
    assert statement["predicateType"] == statements.MANIFEST_PREDICATE
    pred = statement["predicate"]
    assert pred["merkle"] == {
        "algorithm": document["merkle"]["algorithm"],
        "root": signed.merkle_root,
        "treeSize": 3,
    }
    assert pred["licences"] == ["MIT"] and pred["intendedUse"] == "research"
    assert pred["policy"]["result"] == "allowed"
    assert att.digest == hashlib.sha256(att.envelope).hexdigest()
    public = keys.load_public_key(Path(signed.public_path).read_bytes())
    verify.verify_manifest_attestation(
        att.envelope, manifest=signed.export_manifest(), keys=[public]
    )


def test_weights_attestation_is_slsa_provenance_bound_to_the_run(signed: Signed) -> None:
    run_id, path, digest = signed.weights("w")
    with signed.tx() as s:
        att = records.run_attestation(s, run_id)
    statement = independent_check(att.envelope, Path(signed.public_path).read_bytes())
    assert (
        statement["subject"][0]["digest"]["sha256"]
        == hashlib.sha256(path.read_bytes()).hexdigest()
        == digest
    )
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    build = statement["predicate"]["buildDefinition"]
    ext = build["externalParameters"]
    assert ext["manifest"] == signed.manifest and ext["merkleRoot"] == signed.merkle_root
    assert ext["treeSize"] == 3 and ext["seed"] == 3
    assert ext["tokenizer"] == {"id": "provreg.bytes/1", "manifest": None}
    assert [d["name"] for d in build["resolvedDependencies"]] == ["manifest", "provreg"]
    meta = statement["predicate"]["runDetails"]["metadata"]
    assert meta["invocationId"] == run_id


def _public(signed: Signed) -> list[ec.EllipticCurvePublicKey]:
    return [keys.load_public_key(Path(signed.public_path).read_bytes())]


def _attestation(signed: Signed, run_id: str) -> bytes:
    with signed.tx() as s:
        return records.run_attestation(s, run_id).envelope


def test_offline_verification_and_every_failure_mode(signed: Signed, tmp_path: Path) -> None:
    run_id, path, _ = signed.weights("w")
    envelope, manifest = _attestation(signed, run_id), signed.export_manifest()
    ok = verify.verify_weights_attestation(path, envelope, manifest=manifest, keys=_public(signed))
    assert len(ok.checks) == 4

    def mode(**kw: object) -> str:
        args: dict = {"manifest": manifest, "keys": _public(signed)} | kw
        w = args.pop("weights", path)
        env = args.pop("envelope", envelope)
        with pytest.raises(VerificationFailed) as exc:
            verify.verify_weights_attestation(w, env, **args)
        return exc.value.mode

    # a tampered payload: the same signature over another statement
    env = json.loads(envelope)
    tampered = statement_of(envelope)
    tampered["predicate"]["runDetails"]["metadata"]["invocationId"] = "0" * 32
    env["payload"] = base64.b64encode(json.dumps(tampered).encode()).decode()
    assert mode(envelope=json.dumps(env).encode()) == "bad_signature"
    # a tampered signature
    env = json.loads(envelope)
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[-1] ^= 1
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    assert mode(envelope=json.dumps(env).encode()) == "bad_signature"
    assert mode(envelope=b"not json") == "bad_signature"
    # another key
    assert mode(keys=[ec.generate_private_key(ec.SECP256R1()).public_key()]) == "unknown_key"
    # other bytes than attested
    changed = tmp_path / "changed.safetensors"
    changed.write_bytes(path.read_bytes() + b" ")
    assert mode(weights=changed) == "subject_mismatch"
    # a manifest with a shard dropped, and another manifest's document
    lines = manifest.read_text().splitlines()
    short = tmp_path / "short.json"
    short.write_text("\n".join(lines[:-1]) + "\n")
    assert mode(manifest=short) == "manifest_mismatch"
    doc = json.loads(lines[0])
    doc["name"] = "other"
    other = tmp_path / "other.json"
    other.write_text(
        "\n".join([json.dumps(doc, separators=(",", ":"), sort_keys=True), *lines[1:]])
    )
    assert mode(manifest=other) == "manifest_mismatch"


def test_a_stamp_that_names_another_run_is_a_stamp_mismatch(signed: Signed) -> None:
    run_id, path, _ = signed.weights("liar", stamp_run="f" * 32)
    with pytest.raises(VerificationFailed) as exc:
        verify.verify_weights_attestation(
            path,
            _attestation(signed, run_id),
            manifest=signed.export_manifest(),
            keys=_public(signed),
        )
    assert exc.value.mode == "stamp_mismatch" and "f" * 32 in exc.value.detail


def test_continued_training_chains_to_the_parent_attestation(signed: Signed) -> None:
    parent_run, _, parent_digest = signed.weights("parent")
    child_run, child_path, _ = signed.weights("child", parent=parent_run)
    parent_env, child_env = _attestation(signed, parent_run), _attestation(signed, child_run)
    deps = {
        d["name"]: d
        for d in statement_of(child_env)["predicate"]["buildDefinition"]["resolvedDependencies"]
    }
    assert deps["parent-weights"]["digest"]["sha256"] == parent_digest
    assert deps["parent-attestation"]["digest"]["sha256"] == hashlib.sha256(parent_env).hexdigest()
    manifest = signed.export_manifest()
    ok = verify.verify_weights_attestation(
        child_path, child_env, manifest=manifest, keys=_public(signed), chain=[parent_env]
    )
    assert ok.checks[-1].startswith("chain of 1 parent")
    for chain in ([], [child_env], [parent_env[:-2] + b" }"]):
        with pytest.raises(VerificationFailed) as exc:
            verify.verify_weights_attestation(
                child_path, child_env, manifest=manifest, keys=_public(signed), chain=chain
            )
        assert exc.value.mode == "broken_chain"


def test_without_a_key_nothing_is_signed_and_the_error_says_how(signed: Signed) -> None:
    set_key(None)
    _run_id, _, digest = signed.weights("unsigned")
    with signed.tx() as s, pytest.raises(NotFound, match="PROVREG_SIGNING_KEY"):
        records.attestation_of(s, "weights", digest)


def test_a_key_file_with_loose_permissions_is_refused_and_nothing_changes(
    signed: Signed, engine: object, tmp_path: Path
) -> None:
    loose = tmp_path / "loose.pem"
    shutil.copy(signed.key_path, loose)
    os.chmod(loose, 0o644)
    before = snapshot(engine)  # type: ignore[arg-type]
    for key_file, error in (
        (str(loose), NotPermitted),
        (str(tmp_path / "missing.pem"), NotFound),
    ):
        set_key(key_file)
        with pytest.raises(error), signed.tx() as s:
            manifests.create_manifest(
                s, manifests.ManifestIn(name="m2", intended_use="research", datasets=["code"])
            )
    # a well-kept key this registry never registered
    stranger = tmp_path / "stranger.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    stranger.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(stranger, 0o600)
    set_key(str(stranger))
    with pytest.raises(NotFound, match="not registered"), signed.tx() as s:
        manifests.create_manifest(
            s, manifests.ManifestIn(name="m2", intended_use="research", datasets=["code"])
        )
    assert snapshot(engine) == before  # type: ignore[arg-type]


def test_key_files_and_ids(signed: Signed, tmp_path: Path) -> None:
    assert os.stat(signed.key_path).st_mode & 0o777 == 0o600
    with signed.tx() as s:
        (listed,) = keys.list_keys(s)
    public = keys.load_public_key(Path(signed.public_path).read_bytes())
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert listed.key_id == signed.key_id == hashlib.sha256(der).hexdigest()
    from registry.errors import Conflict

    with pytest.raises(Conflict), signed.tx() as s:
        keys.create_key(s, "registry-key", path=str(tmp_path / "again.pem"))
    assert not (tmp_path / "again.pem").exists()


def test_manifest_predicate_matches_its_documented_json_schema(signed: Signed) -> None:
    from jsonschema import Draft202012Validator

    doc = (Path(__file__).parents[3] / "docs" / "attestations.md").read_text()
    block = doc.split("<!-- manifest-predicate-schema -->", 1)[1].split("```json", 1)[1]
    schema = json.loads(block.split("```", 1)[0])
    Draft202012Validator.check_schema(schema)
    with signed.tx() as s:
        att = records.manifest_attestation(s, signed.manifest)
    predicate = statement_of(att.envelope)["predicate"]
    Draft202012Validator(schema).validate(predicate)
    predicate["extra"] = 1
    assert not Draft202012Validator(schema).is_valid(predicate)
