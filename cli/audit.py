"""``provreg audit``: check the hash-chained audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, console, err_console, print_json, tx
from registry import audit

app = typer.Typer(no_args_is_help=True, help="The append-only audit log.")


@app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """Recompute the chain; name the first row edited, deleted or inserted out of band."""
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
