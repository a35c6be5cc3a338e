"""``provreg shard``: register existing canonical shards, show, verify and revoke them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import JSON_HELP, console, emit, err_console, print_json, table, tx
from registry.config import get_settings

if TYPE_CHECKING:
    from registry.entities.shards import VerifyReport
    from registry.shards.store import ShardStore

app = typer.Typer(no_args_is_help=True, help="Content-addressed shards.")


@app.command("register")
def register(
    files: Annotated[list[str], typer.Argument(help="canonical shard Parquet files or globs")],
    source: Annotated[str, typer.Option(help="the registered source the data comes from")],
    dataset: Annotated[str, typer.Option(help="NAME[@VERSION] (version 1 by default)")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Register Parquet files already in the canonical schema as they are (hash, copy, register)."""
    from cli.ingest import concurrent_write_is_a_conflict, progress_bar, summary
    from cli.interrupts import terminate_as_interrupt
    from registry.shards.ingest import register_shard_files
    from registry.shards.readers import expand_paths, input_bytes
    from registry.shards.store import ShardStore

    store = ShardStore(get_settings().store)
    total = input_bytes(expand_paths(files, "parquet"))
    with (
        terminate_as_interrupt("nothing was registered"),
        concurrent_write_is_a_conflict(),
        progress_bar(total, "register") as bar,
        store.track(),
        tx() as session,
    ):
        report = register_shard_files(
            session, store, files, source=source, dataset=dataset, progress=bar
        )
    emit(report, as_json, lambda: console.print(summary(report), markup=False))


@app.command("show")
def show(
    shard: Annotated[str, typer.Argument(help="shard id or a unique prefix (8+ hex)")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show one shard."""
    from registry.shards.lookup import get_shard

    with tx(write=False) as session:
        row = get_shard(session, shard)
    emit(row, as_json, lambda: table(f"shard {row.id}", ["field", "value"], list(row)))


@app.command("revoke")
def revoke(
    shard: Annotated[str, typer.Argument(help="shard id or a unique prefix (8+ hex)")],
    reason: Annotated[str, typer.Option(help="why: an opt-out, a takedown notice, ...")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Revoke a shard: recorded with reason and time, audited; nothing is deleted."""
    from registry.catalogue.revocation import revoke_shard

    with tx() as session:
        row = revoke_shard(session, shard, reason)
    emit(row, as_json, lambda: console.print(f"shard {row.id} revoked: {row.revoked_reason}"))


@app.command("verify")
def verify(
    dataset: Annotated[
        str | None, typer.Option(help="only this dataset's shards (NAME[@VERSION])")
    ] = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="every shard, files in the store no shard names, and temporary files"
        ),
    ] = False,
    gc: Annotated[
        bool,
        typer.Option(
            "--gc",
            help="with --all: remove files no shard names and temporary files no process holds",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Re-hash stored shards; list every one missing or changed (exit 1 if any)."""
    from cli.ingest import progress_bar
    from registry.errors import InvalidInput
    from registry.shards.store import ShardStore
    from registry.shards.verification import verify_shards

    if (dataset is None) == (not all_):
        raise InvalidInput("give --dataset NAME[@VERSION] or --all")
    if gc and not all_:
        raise InvalidInput("--gc needs --all (only then are all the store's files accounted for)")
    store = ShardStore(get_settings().store)
    # gc removes files only under their locks, which on SQLite is the write lock
    with progress_bar(None, "verify") as bar, tx(write=gc) as session:
        report = verify_shards(session, store, dataset=dataset, gc=gc, progress=bar)
    if as_json:
        print_json(report.model_dump(mode="json") | {"ok": report.ok})
    else:
        _print_verify(report, store, gc)
    if not report.ok:
        raise typer.Exit(1)


def _print_verify(report: VerifyReport, store: ShardStore, gc: bool) -> None:
    for p in report.problems:
        err_console.print(f"{p.problem.upper()}: shard {p.shard_id}: {p.detail}", markup=False)
    for o in report.orphans:
        if o in report.orphans_in_use:
            verb = "kept (a running ingest is committing it)"
        else:
            verb = "removed" if report.orphans_removed else "found"
        console.print(f"orphan file {verb} (no shard names it): {store.uri_for(o)}")
    for t in report.temp_files:
        if not t.stale:
            state = "in use by a running process"
        else:
            state = "removed" if gc else "left by a stopped process"
        console.print(f"temporary file {state}: {t.path} ({t.bytes} bytes)", markup=False)
    stale = sum(t.stale for t in report.temp_files)
    state = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    console.print(
        f"verified {report.checked} shard(s), {report.bytes / 1e6:.1f} MB: {state}"
        + (f"; {len(report.orphans)} orphan file(s)" if report.orphans else "")
        + (f"; {stale} stale temporary file(s)" if stale else "")
        + (" (run with --gc to remove them)" if (report.orphans or stale) and not gc else "")
    )
