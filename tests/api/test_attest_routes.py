"""Keys, attestations, checkpoints and disclosure signatures over HTTP, with the roles: keys and
checkpoints are public, attestations need a reader's token, signatures are public."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from registry import disclosure
from registry.attest import checkpoints, keys
from registry.attest.verify import verify_weights_attestation
from tests.api.conftest import Tokens
from tests.registry.attest.conftest import Signed, signed  # noqa: F401


@pytest.fixture
def world(signed: Signed):  # type: ignore[no-untyped-def]  # noqa: F811
    run_id, path, digest = signed.weights("w")
    with signed.tx() as s:
        checkpoints.create_checkpoint(s)
        published = disclosure.publish(s, signed.manifest, "json")
    return signed, run_id, path, digest, published.hash


def test_public_keys_and_checkpoints_need_no_token(world, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    sg, *_ = world
    (key,) = client.get("/keys").raise_for_status().json()
    assert key["key_id"] == sg.key_id
    assert key["public_key"] == Path(sg.public_path).read_text()
    (cp,) = client.get("/audit/checkpoints").raise_for_status().json()
    envelope = json.dumps(cp["envelope"], sort_keys=True, separators=(",", ":")).encode()
    public = keys.load_public_key(key["public_key"].encode())
    rows, head = checkpoints.read_checkpoint(envelope, [public])
    assert (rows, head) == (cp["rows"], cp["head"])


def test_attestations_need_a_reader_and_verify_offline(  # type: ignore[no-untyped-def]
    world, client: httpx.Client, api_tokens: Tokens, tmp_path: Path
) -> None:
    sg, run_id, path, digest, _ = world
    for url in (f"/runs/{run_id}/attestation", f"/manifests/{sg.manifest}/attestation"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers=api_tokens.auth("contributor")).status_code == 403
    for role in ("reader", "trainer", "curator", "admin"):
        r = client.get(f"/runs/{run_id}/attestation", headers=api_tokens.auth(role))
        assert r.status_code == 200, role
    assert r.headers["content-type"] == "application/vnd.dsse.envelope.v1+json"
    assert r.headers["x-provreg-attestation"] == hashlib.sha256(r.content).hexdigest()
    same = client.get(f"/weights/{digest}/attestation", headers=api_tokens.auth("reader"))
    assert same.content == r.content
    public = keys.load_public_key(Path(sg.public_path).read_bytes())
    verify_weights_attestation(path, r.content, manifest=sg.export_manifest(), keys=[public])
    m = client.get(f"/manifests/{sg.manifest}/attestation", headers=api_tokens.auth("reader"))
    statement = json.loads(base64.b64decode(m.json()["payload"]))
    assert statement["subject"][0]["digest"]["sha256"] == sg.manifest
    missing = client.get(f"/runs/{'0' * 32}/attestation", headers=api_tokens.auth("reader"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_published_disclosures_have_a_detached_signature(world, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    sg, *_, published = world
    content = client.get(f"/disclosures/{published}").raise_for_status().content
    sig = client.get(f"/disclosures/{published}/signature").raise_for_status()
    public = keys.load_public_key(Path(sg.public_path).read_bytes())
    from registry.attest.verify import read_statement

    statement, _ = read_statement(sig.content, [public])
    assert statement["subject"][0]["digest"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert statement["predicate"]["format"] == "json"
    assert client.get(f"/disclosures/{'a' * 64}/signature").status_code == 404


def test_weights_a_remote_trainer_completes_are_signed_by_the_server(  # type: ignore[no-untyped-def]
    signed,  # noqa: F811
    client: httpx.Client,
    api_tokens: Tokens,
) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    from manifests.stamp import WeightsStamp
    from tests.registry.runs.conftest import SHAPE

    trainer = api_tokens.auth("trainer")
    body = {
        "manifest": signed.manifest,
        "config": SHAPE,
        "seed": 1,
        "tokenizer": "provreg.bytes/1",
        "code_version": "0.1.0",
    }
    run = client.post("/runs", json=body, headers=trainer).raise_for_status().json()
    stamp = WeightsStamp(
        manifest=signed.manifest, manifest_chain=(signed.manifest,), run=run["id"], registry="http",
        merkle_root=signed.merkle_root, config=SHAPE["model"], tokenizer="provreg.bytes/1",
    )  # fmt: skip
    path = signed.tmp / "remote.safetensors"
    save_file({"w": np.zeros(8, dtype=np.float32)}, str(path), metadata=stamp.to_metadata())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    progress = {"steps_done": 0, "cursor": {}, "consumption_delta": {}}
    done = {"progress": progress, "sha256": digest, "path": str(path), "bytes": path.stat().st_size}
    client.post(f"/runs/{run['id']}/complete", json=done, headers=trainer).raise_for_status()
    envelope = client.get(f"/runs/{run['id']}/attestation", headers=trainer).raise_for_status()
    public = keys.load_public_key(Path(signed.public_path).read_bytes())
    ok = verify_weights_attestation(
        path, envelope.content, manifest=signed.export_manifest(), keys=[public]
    )
    assert ok.subject == digest
