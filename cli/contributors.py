"""``provreg contributor``: the people and organisations behind sources."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, console, emit, table, tx
from registry.catalogue import contributors

app = typer.Typer(no_args_is_help=True, help="Contributors: who the data came from.")


@app.command("add")
def add(
    name: str,
    kind: Annotated[str, typer.Option(help="person or organisation")] = "person",
    contact: Annotated[str | None, typer.Option(help="e-mail or address (never published)")] = None,
    payout_ref: Annotated[
        str | None, typer.Option(help="payout reference (never published)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Register a contributor."""
    with tx() as session:
        row = contributors.add_contributor(
            session, name=name, kind=kind, contact=contact, payout_ref=payout_ref
        )
    emit(row, as_json, lambda: console.print(f"contributor {row.name!r} added (id {row.id})"))


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List contributors."""
    with tx(write=False) as session:
        rows = contributors.list_contributors(session)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} contributors",
            ["id", "name", "kind", "contact"],
            [[r.id, r.name, r.kind, r.contact] for r in rows],
        ),
    )
