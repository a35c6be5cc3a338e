"""``provreg key``, ``provreg attest`` and ``provreg weights sign|card``: signed statements.

``attest verify`` needs no database and no network: it reads only the files it is given, and
exits with one code per failure mode (``EXIT_CODES``), so a script can tell a forged signature
from a swapped file.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from cli.common import JSON_HELP, console, err_console, print_json, table, tx
from registry.errors import VerificationFailed


def _records() -> ModuleType:
    """Imported on use: signing pulls in cryptography, which other commands never need."""
    from registry.attest import records

    return records


key_app = typer.Typer(no_args_is_help=True, help="Signing keys (ECDSA P-256).")
attest_app = typer.Typer(no_args_is_help=True, help="Signed attestations (in-toto, DSSE).")

# one exit code per failure mode of offline verification (1 stays "an error", 2 "bad usage")
EXIT_CODES = {
    "bad_signature": 10,
    "unknown_key": 11,
    "subject_mismatch": 12,
    "manifest_mismatch": 13,
    "stamp_mismatch": 14,
    "oms_mismatch": 15,
    "broken_chain": 16,
}


@key_app.command("create")
def key_create(
    name: str,
    out: Annotated[
        str | None,
        typer.Option(help="where to write the private key (default: PROVREG_KEY_DIR/NAME.pem)"),
    ] = None,
) -> None:
    """Create a signing key: the private key goes to a 0600 file, the public key is registered."""
    from registry.attest import keys  # cryptography loads only for the commands that need it

    with tx() as session:
        key, path = keys.create_key(session, name, path=out)
    console.print(f"key {key.name} {key.key_id}")
    console.print(
        f"private key {path} (mode 0600); public key {Path(path).with_suffix('.pub.pem')}"
    )
    console.print(f"sign with it: export PROVREG_SIGNING_KEY={path}")


@key_app.command("list")
def key_list(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """The registered public keys."""
    from registry.attest import keys  # cryptography loads only for the commands that need it

    with tx(write=False) as session:
        found = keys.list_keys(session)
    if as_json:
        print_json(found)
        return
    table(
        None,
        ["name", "key id", "algorithm", "created"],
        [[k.name, k.key_id, k.algorithm, k.created_at] for k in found],
    )


@key_app.command("export")
def key_export(ref: str) -> None:
    """Print a registered public key (PEM), by name or key id."""
    from registry.attest import keys  # cryptography loads only for the commands that need it

    with tx(write=False) as session:
        print(keys.get_key(session, ref).public_key, end="")


@attest_app.command("show")
def show(ref: str) -> None:
    """The statement of a run's or weights file's attestation (or a manifest's, by hash)."""
    envelope = _envelope(ref)
    print_json(json.loads(base64.b64decode(json.loads(envelope)["payload"])))


@attest_app.command("export")
def export(
    ref: str,
    out: Annotated[str | None, typer.Option(help="write the envelope here, not to stdout")] = None,
) -> None:
    """The DSSE envelope of a run's or weights file's attestation (or a manifest's), as stored."""
    envelope = _envelope(ref)
    if out:
        Path(out).write_bytes(envelope)
    else:
        print(envelope.decode("utf-8"))


def _envelope(ref: str) -> bytes:
    with tx(write=False) as session:
        return _records().resolve_attestation(session, ref).envelope


@attest_app.command("verify")
def verify(
    attestation: Annotated[str, typer.Option(help="the attestation (DSSE envelope) file")],
    manifest: Annotated[str, typer.Option(help="the exported manifest (manifest export)")],
    key: Annotated[str, typer.Option(help="the registry's public key (PEM)")],
    weights: Annotated[str | None, typer.Option(help="the weights file it is about")] = None,
    oms_signature: Annotated[
        str | None, typer.Option("--oms-signature", help="also check this OMS signature")
    ] = None,
    chain: Annotated[
        list[str] | None,
        typer.Option(help="parent attestations, to follow up to the first run (repeat)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Verify offline, with no database and no network; one exit code per failure mode."""
    from registry.attest import keys  # cryptography loads only for the commands that need it
    from registry.attest import verify as v  # reads no database

    public = keys.load_public_key(_read(key, "public key"), what=key)
    envelope = _read(attestation, "attestation")
    try:
        if weights is None:
            result = v.verify_manifest_attestation(envelope, manifest=manifest, keys=[public])
        else:
            result = v.verify_weights_attestation(
                weights,
                envelope,
                manifest=manifest,
                keys=[public],
                oms_signature=oms_signature,
                oms_public_key=key,
                chain=[_read(c, "parent attestation") for c in chain]
                if chain is not None
                else None,
            )
    except VerificationFailed as exc:
        if as_json:
            print_json({"ok": False, "mode": exc.mode, "problem": exc.detail})
        err_console.print(f"provreg: NOT verified ({exc.mode}): {exc.detail}", markup=False)
        raise typer.Exit(EXIT_CODES[exc.mode]) from exc
    if as_json:
        print_json(
            {
                "ok": True,
                "subject": result.subject,
                "key_id": result.key_id,
                "checks": result.checks,
            }
        )
        return
    console.print(f"verified {result.subject}")
    for check in result.checks:
        console.print(f"  ok  {check}")


def _read(path: str, what: str) -> bytes:
    from registry.errors import NotFound

    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"no {what} file at {path}") from exc


def weights_sign(
    file: str,
    key: Annotated[
        str | None, typer.Option(help="the private key file (default: PROVREG_SIGNING_KEY)")
    ] = None,
    attestation_out: Annotated[
        str | None, typer.Option("--attestation-out", help="default: FILE.attestation.json")
    ] = None,
    signature_out: Annotated[
        str | None, typer.Option("--signature-out", help="the OMS signature; default: FILE.sig")
    ] = None,
) -> None:
    """Sign recorded weights: their attestation (SLSA provenance) and an OMS signature."""
    from registry import runs
    from registry.attest import keys, oms
    from registry.config import get_settings
    from registry.errors import InvalidInput, NotFound
    from registry.shards.store import hash_file

    path = key or get_settings().signing_key
    if not path:
        raise InvalidInput(_records().NO_KEY, field="attest.no_key")
    if not Path(file).is_file():
        raise NotFound(f"no weights file at {file}")
    digest, _ = hash_file(file)
    with tx() as session:
        signer = keys.registered_signer(session, path)
        runs.get_weights(session, digest)  # recorded here, or NotFound
        attestation = _records().attest_weights(session, digest, signer=signer)
        if attestation is None:  # pragma: no cover - a signer was given
            raise InvalidInput(_records().NO_KEY, field="attest.no_key")
        oms.sign(file, signature_out or f"{file}.sig", signer.path)
    Path(attestation_out or f"{file}.attestation.json").write_bytes(attestation.envelope)
    console.print(
        f"attestation {attestation.digest} -> {attestation_out or file + '.attestation.json'}"
    )
    console.print(f"OMS signature -> {signature_out or file + '.sig'} (key {signer.key_id})")


def weights_card(
    file: str,
    out: Annotated[str, typer.Option(help="where to write the card")] = "README.md",
    model: Annotated[str | None, typer.Option(help="the model's name in the card")] = None,
    registry_url: Annotated[
        str | None, typer.Option(help="the registry's public URL, to make references links")
    ] = None,
) -> None:
    """Write a Hugging Face model card for recorded weights (licence, datasets, provenance)."""
    from registry.errors import NotFound
    from registry.lineage.model_card import model_card
    from registry.shards.store import hash_file

    if not Path(file).is_file():
        raise NotFound(f"no weights file at {file}")
    digest, _ = hash_file(file)
    with tx(write=False) as session:
        card = model_card(session, digest, model_name=model, registry_url=registry_url)
    Path(out).write_text(str(card), encoding="utf-8")
    console.print(f"model card -> {out}")
