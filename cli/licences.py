"""``provreg licence``: the licences the registry knows and their flags."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, emit, table, tx
from registry.catalogue import licences

app = typer.Typer(no_args_is_help=True, help="Licences and their flags.")

FLAGS = (
    "commercial_use",
    "derivatives",
    "attribution",
    "share_alike",
    "non_commercial",
    "no_ai_training",
)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List every licence with the flags the policy uses."""
    with tx(write=False) as session:
        rows = licences.list_licences(session)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} licences",
            ["SPDX id", "family", *[f.replace("_", " ") for f in FLAGS]],
            [[r.spdx_id, r.family, *["yes" if getattr(r, f) else "" for f in FLAGS]] for r in rows],
        ),
    )


@app.command("show")
def show(
    spdx_id: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Show one licence."""
    with tx(write=False) as session:
        row = licences.get_licence(session, spdx_id)
    emit(
        row, as_json, lambda: table(row.spdx_id, ["field", "value"], list(row.model_dump().items()))
    )
