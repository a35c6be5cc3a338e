"""``provreg key|attest|weights sign|audit checkpoint`` end to end, and ``attest verify`` offline
with the database deleted: one exit code per failure mode, the OMS signature checked by
``model_signing``'s own verifier."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from cli.attest import EXIT_CODES
from tests.conftest import Cli
from tests.registry.attest.conftest import Signed


@pytest.fixture
def sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("deletes the database file")


def test_sign_export_and_verify_offline_with_the_database_deleted(
    signed: Signed, cli: Cli, db_url: str, tmp_path: Path, sqlite_only: None
) -> None:
    run_id, weights, _ = signed.weights("model")
    cli("weights", "sign", str(weights))
    att = tmp_path / "att.json"
    cli("attest", "export", run_id, "--out", str(att))
    assert att.read_bytes() == Path(f"{weights}.attestation.json").read_bytes()
    shown = json.loads(cli("attest", "show", str(weights)).stdout)
    assert shown["predicateType"] == "https://slsa.dev/provenance/v1"
    (tmp_path / "manifest.json").write_text(cli("manifest", "export", signed.manifest).stdout)
    (tmp_path / "key.pem").write_text(cli("key", "export", "registry-key").stdout)
    listed = json.loads(cli("key", "list", "--json").stdout)
    assert [k["key_id"] for k in listed] == [signed.key_id]
    missing = cli("key", "export", "no-such-key", ok=False)
    assert missing.exit_code == 1 and "no signing key 'no-such-key'" in missing.output

    # a directory holding only the weights, the attestation, the manifest and the public key
    alone = tmp_path / "alone"
    alone.mkdir()
    for src in (
        weights,
        Path(f"{weights}.sig"),
        att,
        tmp_path / "manifest.json",
        tmp_path / "key.pem",
    ):
        shutil.copy(src, alone / src.name)
    database = Path(db_url.removeprefix("sqlite:///"))
    database.unlink()
    for extra in (
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        extra.unlink(missing_ok=True)
    offline = Cli(db_url, tmp_path / "no-store")
    args = [
        "attest", "verify",
        "--weights", str(alone / weights.name),
        "--attestation", str(alone / "att.json"),
        "--manifest", str(alone / "manifest.json"),
        "--key", str(alone / "key.pem"),
    ]  # fmt: skip
    out = offline(*args, "--oms-signature", str(alone / f"{weights.name}.sig"), "--json")
    result = json.loads(out.stdout)
    assert result["ok"] and len(result["checks"]) == 5
    assert not database.exists()  # verification opened no database

    # OMS, checked by model_signing itself
    import model_signing

    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=alone / "key.pem").verify(
        alone / weights.name, alone / f"{weights.name}.sig"
    )

    # each failure mode, its own exit code
    env = json.loads((alone / "att.json").read_bytes())
    env["payload"] = base64.b64encode(base64.b64decode(env["payload"]) + b" ").decode()
    (alone / "tampered.json").write_text(json.dumps(env))
    from cryptography.hazmat.primitives.asymmetric import ec

    from registry.attest.keys import public_pem

    (alone / "other.pem").write_text(
        public_pem(ec.generate_private_key(ec.SECP256R1()).public_key())
    )
    changed = alone / "changed.safetensors"
    changed.write_bytes((alone / weights.name).read_bytes() + b"\0")
    lines = (alone / "manifest.json").read_text().splitlines()
    (alone / "short.json").write_text("\n".join(lines[:-1]) + "\n")
    other_weights = alone / "other.safetensors"
    shutil.copy(alone / weights.name, other_weights)
    shutil.copy(alone / f"{weights.name}.sig", alone / "wrong.sig")
    cases = {
        "bad_signature": ["--attestation", str(alone / "tampered.json")],
        "unknown_key": ["--key", str(alone / "other.pem")],
        "subject_mismatch": ["--weights", str(changed)],
        "manifest_mismatch": ["--manifest", str(alone / "short.json")],
    }
    for mode, override in cases.items():
        r = offline(*args, *override, ok=False)
        assert r.exit_code == EXIT_CODES[mode], (mode, r.output)
        assert f"({mode})" in r.output
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)


def test_oms_and_chain_failures_have_their_exit_codes(
    signed: Signed, cli: Cli, tmp_path: Path
) -> None:
    parent_run, parent_w, _ = signed.weights("parent")
    _child_run, child_w, _ = signed.weights("child", parent=parent_run)
    cli("weights", "sign", str(parent_w))
    cli("weights", "sign", str(child_w))
    (tmp_path / "manifest.json").write_text(cli("manifest", "export", signed.manifest).stdout)
    base = [
        "attest", "verify",
        "--weights", str(child_w),
        "--attestation", f"{child_w}.attestation.json",
        "--manifest", str(tmp_path / "manifest.json"),
        "--key", signed.public_path,
    ]  # fmt: skip
    cli(*base, "--chain", f"{parent_w}.attestation.json")
    r = cli(*base, "--chain", f"{child_w}.attestation.json", ok=False)
    assert r.exit_code == EXIT_CODES["broken_chain"], r.output
    r = cli(*base, "--oms-signature", f"{parent_w}.sig", ok=False)
    assert r.exit_code == EXIT_CODES["oms_mismatch"], r.output


def test_weights_sign_refuses_without_a_key_and_for_unknown_files(
    signed: Signed, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = cli("weights", "sign", str(tmp_path / "nothing.safetensors"), ok=False)
    assert r.exit_code == 1 and "no weights file" in r.output
    unknown = tmp_path / "unrecorded.safetensors"
    unknown.write_bytes(b"x" * 10)
    r = cli("weights", "sign", str(unknown), ok=False)
    assert r.exit_code == 1 and "recorded" in r.output
    assert not Path(f"{unknown}.sig").exists()
    monkeypatch.delenv("PROVREG_SIGNING_KEY")
    r = cli("weights", "sign", str(unknown), ok=False)
    assert "provreg key create" in r.output  # the CLI's advice, after the domain message
