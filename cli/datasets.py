"""``provreg dataset``: list, show and measure dataset versions."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, emit, table, tx
from registry.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Datasets: named, versioned sets of shards.")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List dataset versions with their totals."""
    from registry.shards.datasets import list_datasets

    with tx(write=False) as session:
        rows = list_datasets(session)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} datasets",
            ["dataset", "shards", "records", "tokens", "MB", "revoked shards"],
            [
                [
                    f"{r.name}@{r.version}",
                    r.shards,
                    r.records,
                    r.tokens,
                    f"{r.bytes / 1e6:.1f}",
                    r.revoked_shards,
                ]
                for r in rows
            ],
        ),
    )


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME[@VERSION]")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """A dataset version: its shards and totals."""
    from registry.shards.datasets import show_dataset

    with tx(write=False) as session:
        d = show_dataset(session, ref)

    def human() -> None:
        ds = d.dataset
        table(
            f"{ds.name}@{ds.version}: {ds.shards} shards, {ds.records} records, "
            f"{ds.tokens} tokens, {ds.bytes / 1e6:.1f} MB",
            ["shard", "source", "records", "tokens", "bytes", "status"],
            [[s.id, s.source, s.records, s.tokens, s.bytes, s.status] for s in d.shards],
        )

    emit(d, as_json, human)


@app.command("stats")
def stats(
    ref: Annotated[str, typer.Argument(help="NAME[@VERSION]")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Read the shard files with DuckDB: records, tokens, empties, duplicates, lengths."""
    from registry.shards.datasets import dataset_stats
    from registry.shards.store import ShardStore

    store = ShardStore(get_settings().store)
    with tx(write=False) as session:
        s = dataset_stats(session, store, ref)

    def human() -> None:
        q = s.length_quantiles
        table(
            f"{s.dataset}@{s.version} (read from {s.shards} shard files)",
            ["measure", "value"],
            [
                ["records", s.records],
                ["tokens", s.tokens],
                ["text bytes", s.text_bytes],
                ["empty records", s.empty_records],
                ["distinct records", s.distinct_records],
                ["exact duplicates", s.duplicate_records],
                ["  within a shard", s.duplicates_within_shards],
                ["  across shards", s.duplicates_across_shards],
                [
                    "length min / mean / max (bytes)",
                    f"{s.length_min} / {s.length_mean or 0:.0f} / {s.length_max}",
                ],
                [
                    "length p10 / p50 / p90 / p99",
                    " / ".join(str(q.get(k, "-")) for k in ("p10", "p50", "p90", "p99")),
                ],
            ],
        )
        table(
            "length histogram (UTF-8 bytes)",
            ["from", "to", "records"],
            [[b.low, b.high if b.high is not None else "", b.records] for b in s.length_histogram],
        )

    emit(s, as_json, human)
