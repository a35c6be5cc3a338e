"""``provreg token``: make, list and revoke API tokens. A token is printed once, at creation."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, console, emit, err_console, print_json, table, tx
from registry import auth

app = typer.Typer(no_args_is_help=True, help="API tokens: roles for `provreg serve`.")


@app.command("create")
def create(
    role: Annotated[str, typer.Option(help="admin, curator, trainer, reader or contributor")],
    name: Annotated[str | None, typer.Option(help="a unique name (default: ROLE-<random>)")] = None,
    contributor: Annotated[
        str | None, typer.Option(help="the contributor a contributor token speaks for")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Make a token; it is shown this once and only its SHA-256 is kept."""
    with tx() as session:
        plaintext, out = auth.create_token(session, name=name, role=role, contributor=contributor)
    if as_json:
        print_json(out.model_dump(mode="json") | {"token": plaintext})
        return
    err_console.print(
        f"token {out.name!r} ({out.role}) created; it is shown only now, keep it secret:"
    )
    print(plaintext)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List tokens (names and roles, never the tokens)."""
    with tx(write=False) as session:
        rows = auth.list_tokens(session)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} tokens",
            ["name", "role", "contributor", "created", "revoked"],
            [[r.name, r.role, r.contributor, r.created_at, r.revoked_at] for r in rows],
        ),
    )


@app.command("revoke")
def revoke(
    name: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Revoke a token: it authenticates nothing from now on."""
    with tx() as session:
        out = auth.revoke_token(session, name)
    emit(out, as_json, lambda: console.print(f"token {out.name!r} revoked"))
