"""``provreg contributor``: the people and organisations behind sources."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, console, emit, table, tx
from registry.catalogue import authors, contributors

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


@app.command("link")
def link(
    author: Annotated[str, typer.Argument(help="SOURCE:KEY, an author key of a source")],
    name: Annotated[str, typer.Argument(help="the contributor to pay that author as")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Merge an author key into an existing contributor: later settlements pay them."""
    with tx() as session:
        out = authors.link_author(session, author, name)
    emit(
        out,
        as_json,
        lambda: console.print(
            f"author {out.source}:{out.author} is now paid as {out.contributor!r} (was {out.was!r})"
        ),
    )


@app.command("usage")
def usage(
    name: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Which of a contributor's records each settled run consumed, and how many tokens."""
    from registry import ledger
    from registry.config import get_settings
    from registry.shards.store import ShardStore

    with tx(write=False) as session:
        out = ledger.usage(session, name, store=ShardStore(get_settings().store))
    emit(
        out,
        as_json,
        lambda: table(
            f"{out.contributor}: {out.tokens:,} tokens in {len(out.runs)} run(s)",
            ["run", "manifest", "record", "url", "tokens"],
            [
                [r.run_id, r.manifest_hash[:12], rec.record_id[:16], rec.url or "-", rec.tokens]
                for r in out.runs
                for rec in r.records
            ],
        ),
    )
