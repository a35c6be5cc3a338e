"""``provreg ingest``: files in, registered content-addressed shards out (one transaction)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import JSON_HELP, console, emit, tx
from cli.interrupts import terminate_as_interrupt
from registry.config import get_settings
from registry.faults import crash_point

if TYPE_CHECKING:
    from registry.entities.shards import IngestReport


@contextmanager
def progress_bar(total: int | None, what: str) -> Iterator[Callable[[int], None]]:
    """A byte-counting tqdm bar on stderr (silent when stderr is not a terminal)."""
    from tqdm import tqdm

    with tqdm(
        total=total or None,
        desc=what,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        disable=None,
    ) as bar:
        yield bar.update


def summary(r: IngestReport) -> str:
    """The line people read at the end: what was added, and how fast."""
    mb = r.input_bytes / 1e6
    speed = f"{mb / r.seconds:.1f} MB/s" if r.seconds > 0 else "-"
    ref = f"{r.dataset}@{r.version}"
    lines = [f"created dataset {ref}"] if r.dataset_created else []
    if r.nothing_new:
        lines.append(
            f"nothing new: all {len(r.shard_ids)} shard(s) of this input are already in {ref} "
            f"({r.records} records, {r.tokens} tokens)"
        )
    else:
        lines.append(
            f"{ref}: {len(r.shard_ids)} shard(s) ({r.shards_registered} new, "
            f"{r.shards_linked} added to the dataset, {r.shards_already_in_dataset} already in it), "
            f"{r.records} records, {r.tokens} tokens, {r.bytes_written / 1e6:.1f} MB stored; "
            f"read {mb:.1f} MB in {r.seconds:.1f} s ({speed})"
        )
    if r.signals is not None:
        lines += signals_lines(r.signals)
    return "\n".join(lines)


def signals_lines(sig: dict[str, Any]) -> list[str]:
    """The excluded-record report: by origin and signal, and what unknown records did."""
    lines = [
        f"opt-out signals (crawler {sig['crawler']!r}, as known at {sig['judged_at']}): "
        f"excluded {sig['excluded']} records, kept {sig['kept']}"
    ]
    lines += [
        f"  excluded {e['records']} from {e['origin'] or '(no URL)'} by {e['signal']}"
        for e in sig["excluded_by"]
    ]
    kept = "kept" if sig["unknown_policy"] == "allow" else "refused"
    lines.append(
        f"  unknown: {sig['unknown']} records {kept} (--signals-unknown {sig['unknown_policy']})"
    )
    return lines


def ingest(
    paths: Annotated[list[str], typer.Argument(help="files, globs or directories")],
    source: Annotated[str, typer.Option(help="the registered source the data comes from")],
    dataset: Annotated[str, typer.Option(help="NAME[@VERSION] (version 1 by default)")],
    format: Annotated[
        str | None,
        typer.Option("--format", help="jsonl, parquet, csv, text or hf-disk (default: by name)"),
    ] = None,
    text_field: Annotated[str, typer.Option(help="field or column holding the text")] = "text",
    per_line: Annotated[
        bool, typer.Option("--per-line", help="text format: a document per line, not per file")
    ] = False,
    shard_size: Annotated[
        str, typer.Option(help="target text bytes per shard, e.g. 64MiB")
    ] = "64MiB",
    url_field: Annotated[
        str | None, typer.Option(help="field holding each record's URL (absolute http/https)")
    ] = None,
    author_field: Annotated[
        str | None, typer.Option(help="field holding each record's author (a key in the source)")
    ] = None,
    licence_field: Annotated[
        str | None,
        typer.Option(help="field holding each record's SPDX licence (overrides the source's)"),
    ] = None,
    date_field: Annotated[
        str | None, typer.Option(help="field holding each record's ISO 8601 date or date-time")
    ] = None,
    signals_unknown: Annotated[
        str,
        typer.Option(help="records whose URL no opt-out signal judges: allow (store) or refuse"),
    ] = "allow",
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Read files into canonical shards, store them and register them, all or nothing.

    Any record field (--url-field, --author-field, --licence-field, --date-field) makes the
    shards provreg-shard-v2, with those columns (docs/shard-format.md)."""
    from registry.shards.ingest import ingest_paths, parse_size
    from registry.shards.readers import expand_paths, input_bytes
    from registry.shards.record_fields import RecordFields
    from registry.shards.store import ShardStore

    size = parse_size(shard_size)
    store = ShardStore(get_settings().store)
    total = input_bytes(expand_paths(paths, format))
    with (
        terminate_as_interrupt("nothing was stored"),
        concurrent_write_is_a_conflict(),
        progress_bar(total, "ingest") as bar,
        store.track(),
        tx() as session,
    ):
        report = ingest_paths(
            session,
            store,
            paths,
            source=source,
            dataset=dataset,
            format=format,
            text_field=text_field,
            per_line=per_line,
            shard_size=size,
            progress=bar,
            fields=RecordFields(
                url=url_field, author=author_field, licence=licence_field, created=date_field
            ),
            signals_unknown=signals_unknown,
        )
    crash_point("ingest.after_commit")  # the fault suite: die before telling anyone
    emit(report, as_json, lambda: console.print(summary(report), markup=False))


@contextmanager
def concurrent_write_is_a_conflict() -> Iterator[None]:
    """A write another transaction made first, as one clear line instead of a traceback.

    Ingest itself waits for or skips what concurrent writers did (``registry.db.upsert``,
    ``registry.shards.file_locks``); this is the net under it for what still collides (a
    deadlock, a constraint no upsert covers). Nothing was stored: the transaction rolled back.
    """
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from registry.errors import Conflict

    try:
        yield
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if not isinstance(exc, IntegrityError) and state not in ("40001", "40P01"):
            raise
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise Conflict(
            f"a concurrent write collided with this one ({first}); nothing was stored: run it again"
        ) from exc
