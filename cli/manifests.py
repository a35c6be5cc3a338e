"""``provreg manifest``: declare, inspect, prove and verify training manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import JSON_HELP, console, emit, err_console, print_json, table, tx
from registry import manifests as svc
from registry.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Frozen, Merkle-rooted training manifests.")


def _waivers(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        source, sep, reason = item.partition("=")
        if not sep or not source.strip() or not reason.strip():
            raise InvalidInput(f"waiver {item!r} is not SOURCE=REASON")
        out[source.strip()] = reason.strip()
    return out


def _read_ids(path: Path) -> list[str]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read --shards-from {path}: {exc.strerror}") from exc
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="a unique name")],
    use: Annotated[
        str, typer.Option(help="intended use: commercial, research, internal-evaluation, education")
    ],
    dataset: Annotated[list[str] | None, typer.Option(help="NAME[@VERSION]; repeatable")] = None,
    shard: Annotated[
        list[str] | None, typer.Option(help="shard id or unique prefix; repeatable")
    ] = None,
    shards_from: Annotated[
        Path | None, typer.Option(help="file with one shard id per line")
    ] = None,
    exclude_source: Annotated[
        list[str] | None, typer.Option(help="drop this source's shards")
    ] = None,
    parent: Annotated[str | None, typer.Option(help="the manifest this one revises")] = None,
    waive: Annotated[
        list[str] | None, typer.Option(help="SOURCE=REASON: accept a waivable risk")
    ] = None,
    eval_dataset: Annotated[
        str | None,
        typer.Option(help="NAME[@VERSION] held out for evaluation (must not overlap)"),
    ] = None,
    eval_fraction: Annotated[
        str | None,
        typer.Option(help="hold out this fraction of the selected shards for evaluation"),
    ] = None,
    eval_seed: Annotated[int, typer.Option(help="seeds the --eval-fraction sample")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Create a manifest; prints its hash. Refused manifests list every violation.

    With --eval-dataset or --eval-fraction it also names held-out shards: never in the
    manifest's training shards, evaluated on by continual training (docs/continual.md)."""
    spec = svc.ManifestIn(
        name=name,
        intended_use=use,
        datasets=dataset or [],
        shards=(shard or []) + (_read_ids(shards_from) if shards_from else []),
        exclude_sources=exclude_source or [],
        parent=parent,
        waivers=_waivers(waive or []),
    )
    if eval_dataset is None and eval_fraction is None:
        with tx() as session:
            out = svc.create_manifest(session, spec)
        emit(out, as_json, lambda: print(out.hash))
        return
    from decimal import Decimal, InvalidOperation

    from registry import continual

    fraction = None
    if eval_fraction is not None:
        try:
            fraction = Decimal(eval_fraction)
        except InvalidOperation as exc:
            raise InvalidInput(
                f"the evaluation fraction {eval_fraction!r} is not a number"
            ) from exc
    with tx() as session:
        out, held = continual.create_manifest_with_eval(
            session, spec, eval_dataset=eval_dataset, eval_fraction=fraction, seed=eval_seed
        )
    emit(
        out.model_dump(mode="json") | {"eval_shards": held},
        as_json,
        lambda: print(f"{out.hash}\n{len(held)} held-out shard(s) for evaluation"),
    )


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List manifests."""
    with tx(write=False) as session:
        rows = svc.list_manifests(session)
    emit(
        [r.model_dump(mode="json", exclude={"document"}) for r in rows],
        as_json,
        lambda: table(
            f"{len(rows)} manifests",
            ["hash", "name", "use", "shards", "tokens", "parent"],
            [
                [
                    r.hash[:16],
                    r.name,
                    r.intended_use,
                    r.shard_count,
                    r.total_tokens,
                    (r.parent or "")[:16],
                ]
                for r in rows
            ],
        ),
    )


@app.command("show")
def show(
    ref: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Show a manifest's document and summary."""
    with tx(write=False) as session:
        out = svc.get_manifest(session, ref)

    def human() -> None:
        d = out.document
        console.print(f"manifest {out.hash}\n  name {out.name}, intended use {out.intended_use}")
        console.print(f"  created {d['created_at']}, parent {out.parent or '-'}")
        console.print(f"  merkle root {out.merkle_root} over {out.shard_count} shards")
        console.print(
            f"  {out.total_records} records, {out.total_tokens} tokens, {out.total_bytes} bytes"
        )
        table(
            "sources",
            ["source", "kind", "licence", "shards", "tokens", "obligations"],
            [
                [
                    s["name"],
                    s["kind"],
                    s["licence"],
                    s["shards"],
                    s["tokens"],
                    ", ".join(s["obligations"]),
                ]
                for s in d["sources"]
            ],
        )
        for w in d["waivers"]:
            console.print(f"  waiver: {w['source']}: {w['reason']}")

    emit(out, as_json, human)


@app.command("shards")
def shards(
    ref: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """List a manifest's shards (sorted by id: the Merkle leaf order)."""
    with tx(write=False) as session:
        digest = svc.manifest_row(session, ref).hash
        for line in svc.shard_lines(session, digest):
            if as_json:
                print(line.model_dump_json())
            else:
                print(
                    f"{line.id}  {line.source}  {line.records} records  {line.tokens} tokens  {line.status}"
                )


@app.command("diff")
def diff(
    a: str, b: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Shards added and removed from A to B, their totals and licences."""
    with tx(write=False) as session:
        out = svc.diff_manifests(session, a, b)

    def human() -> None:
        console.print(
            f"{out.a[:16]} -> {out.b[:16]}: +{len(out.added)} shards, -{len(out.removed)} shards"
        )
        for key in ("shards", "records", "tokens", "bytes"):
            console.print(f"  {key}: {out.totals_a[key]} -> {out.totals_b[key]}")
        for lic in out.licences_added:
            console.print(f"  + licence {lic}")
        for lic in out.licences_removed:
            console.print(f"  - licence {lic}")
        for s in out.added:
            console.print(f"  + {s}")
        for s in out.removed:
            console.print(f"  - {s}")

    emit(out, as_json, human)


@app.command("prove")
def prove(ref: str, shard: str) -> None:
    """Print the inclusion proof of SHARD in the manifest, as JSON."""
    with tx(write=False) as session:
        proof = svc.prove(session, ref, shard)
    print_json(proof.to_dict())


@app.command("verify-proof")
def verify_proof(
    proof: Path,
    manifest: Annotated[
        Path, typer.Option(help="the manifest document (JSON), e.g. from `manifest export`")
    ],
) -> None:
    """Check a proof offline, against the manifest document alone."""
    from manifests.errors import ManifestError
    from manifests.merkle import InclusionProof, verify_inclusion_against_document

    try:
        data = json.loads(proof.read_text("utf-8"))
        document = json.loads(manifest.read_text("utf-8"))
        document = document.get("document", document)
        parsed = InclusionProof.from_dict(data)
        ok = verify_inclusion_against_document(parsed, parsed.shard, document)
    except (OSError, ValueError, ManifestError) as exc:
        raise InvalidInput(f"cannot check the proof: {exc}") from exc
    if not ok:
        err_console.print(f"proof INVALID: shard {parsed.shard} is not proven in this manifest")
        raise typer.Exit(1)
    console.print(
        f"proof valid: shard {parsed.shard} is leaf {parsed.leaf_index} of {parsed.tree_size}"
    )


@app.command("export")
def export(ref: str) -> None:
    """The canonical document on the first line, then one JSON line per shard."""
    with tx(write=False) as session:
        row = svc.manifest_row(session, ref)
        print(row.document)
        v2 = json.loads(row.document)["schema"] == "provreg.manifest/2"
        for line in svc.shard_lines(session, row.hash, record_roots=v2):
            print(line.model_dump_json(exclude_none=True))


@app.command("verify")
def verify(
    ref: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Recompute the manifest's hash, Merkle root and totals from the stored rows."""
    with tx(write=False) as session:
        report = svc.verify_manifest(session, ref)
    if as_json:
        print_json(report)
    elif report.ok:
        console.print(f"manifest {report.hash} verified: hash, Merkle root and totals match")
    else:
        err_console.print(f"manifest {report.hash} FAILED verification:")
        for p in report.problems:
            err_console.print(f"  - {p}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("rebase")
def rebase(
    old: Annotated[str, typer.Argument(help="the manifest (hash, prefix or name) to rebase")],
    name: Annotated[str, typer.Option(help="the new manifest's unique name")],
    use: Annotated[
        str | None, typer.Option(help="intended use (the old manifest's by default)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """After a takedown: a child of OLD with the replacement shards instead of its revoked
    ones; runs on OLD are refused from then on. Prints the new hash."""
    from registry.impact.rebase import rebase as run_rebase

    with tx() as session:
        out = run_rebase(session, old, name, use)
    emit(out, as_json, lambda: print(out.hash))
