"""``provreg record prove`` and ``provreg record verify-proof``: one record's place in a manifest.

``verify-proof`` needs no database: the proof and the manifest document are all it reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, err_console, print_json, tx
from registry.errors import InvalidInput

app = typer.Typer(help="Prove a record is in a manifest, and check such a proof offline.")


@app.command("prove")
def prove(
    manifest: Annotated[str, typer.Argument(help="a manifest's name, hash or unique prefix")],
    record: Annotated[str | None, typer.Option("--record", help="a record id (SHA-256)")] = None,
    url: Annotated[str | None, typer.Option("--url", help="an exact record URL")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the proof here")] = None,
) -> None:
    """Print (or write) the proof that a record is in MANIFEST: record -> shard -> root."""
    from registry.config import get_settings
    from registry.proofs.records import prove_record
    from registry.shards.store import ShardStore

    store = ShardStore(get_settings().store)
    with tx() as session:  # a write only when a shard's record root was never computed
        proof = prove_record(session, store, manifest, record=record, url=url)
    if out is None:
        print_json(proof.to_dict())
        return
    out.write_text(json.dumps(proof.to_dict(), indent=2) + "\n", "utf-8")
    console.print(
        f"wrote the proof of record {proof.record} (record {proof.record_index} of "
        f"{proof.record_count} in shard {proof.shard}) to {out}"
    )


@app.command("verify-proof")
def verify_proof(
    proof: Annotated[Path, typer.Argument(help="a proof from `provreg record prove`")],
    manifest: Annotated[
        Path, typer.Option(help="the manifest document (JSON), e.g. from `manifest export`")
    ],
) -> None:
    """Check a record proof offline, against the manifest document alone."""
    from manifests.errors import ProofError
    from manifests.records import RecordProof, verify_record_proof

    try:
        data = json.loads(proof.read_text("utf-8"))
        text = manifest.read_text("utf-8")
        try:
            document = json.loads(text)
        except ValueError:  # a `manifest export`: the document is its first line
            document = json.loads(text.splitlines()[0])
        document = document.get("document", document)
    except (OSError, ValueError, IndexError, AttributeError) as exc:
        raise InvalidInput(f"cannot read the proof or the manifest: {exc}") from exc
    try:
        parsed = RecordProof.from_dict(data)
        verify_record_proof(parsed, document)
    except ProofError as exc:
        err_console.print(f"proof INVALID: {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"verified: record {parsed.record} is record {parsed.record_index} of "
        f"{parsed.record_count} in shard {parsed.shard}, leaf {parsed.leaf_index} of "
        f"{parsed.leaf_count} of manifest {parsed.manifest}"
    )
