"""``provreg audit``: check the hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import JSON_HELP, console, err_console, print_json, tx
from registry import audit

app = typer.Typer(no_args_is_help=True, help="The append-only audit log.")


@app.command("verify")
def verify(
    checkpoint: Annotated[
        str | None,
        typer.Option(help="a signed checkpoint file: prove the chain extends the one it signed"),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="the public key (PEM) to check the checkpoint with (default: registered)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Recompute the chain; name the first row edited, deleted or inserted out of band."""
    if checkpoint is not None:
        _verify_checkpoint(checkpoint, key, as_json)
        return
    with tx(write=False) as session:
        report = audit.verify(session)
    if as_json:
        print_json(report.__dict__)
    elif report.ok:
        console.print(f"audit log intact: {report.rows} rows, head {report.head}")
    else:
        err_console.print(f"audit log BROKEN at row {report.first_bad_id}: {report.problem}")
    if not report.ok:
        raise typer.Exit(1)


def _verify_checkpoint(path: str, key: str | None, as_json: bool) -> None:
    from registry.attest import checkpoints, keys
    from registry.errors import NotFound

    try:
        envelope = Path(path).read_bytes()
        public = [keys.load_public_key(Path(key).read_bytes(), what=key)] if key else None
    except FileNotFoundError as exc:
        raise NotFound(f"no file at {exc.filename}") from exc
    with tx(write=False) as session:
        report = checkpoints.verify_against(session, envelope, public)
    if as_json:
        print_json(report)
    elif report.ok:
        console.print(
            f"audit log extends the checkpoint: {report.rows} rows (checkpoint {report.checkpoint_rows}, "
            f"head {report.checkpoint_head}), head {report.head}"
        )
    else:
        err_console.print(
            f"audit log does NOT extend the checkpoint: {report.problem}", markup=False
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    out: Annotated[str | None, typer.Option(help="also write the signed checkpoint here")] = None,
) -> None:
    """Sign the chain's row count, head hash and time (published at GET /audit/checkpoints)."""
    from registry.attest import checkpoints

    with tx() as session:
        made = checkpoints.create_checkpoint(session)
    if out:
        Path(out).write_bytes(made.envelope)
    console.print(
        f"checkpoint {made.id}: {made.rows} rows, head {made.head}, signed by {made.key_id}"
    )
