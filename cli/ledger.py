"""``provreg settle``, ``pool``, ``ledger`` and ``statement``: what contributors are owed."""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime
from typing import Annotated

import typer

from cli.common import JSON_HELP, console, emit, print_json, table, tx
from registry import ledger
from registry.entities.ledger import Money, StatementOut
from registry.errors import InvalidInput
from registry.ledger.money import format_minor

pool_app = typer.Typer(
    no_args_is_help=True, help="Revenue-share pools split across sources by tokens."
)
ledger_app = typer.Typer(no_args_is_help=True, help="The append-only compensation ledger.")


def _totals(totals: tuple[Money, ...]) -> str:
    return ", ".join(m.formatted for m in totals) or "nothing"


def settle(
    run: Annotated[str, typer.Argument(help="id of a completed run")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Turn a completed run's consumption into ledger entries; settling again adds nothing."""
    from registry.config import get_settings
    from registry.shards.store import ShardStore

    with tx() as session:
        out = ledger.settle_run(session, run, store=ShardStore(get_settings().store))

    def human() -> None:
        table(
            f"run {out.run_id}",
            ["source", "terms", "tokens", "amount", "contributors", "note"],
            [
                [
                    s.source,
                    s.terms_model or "-",
                    s.tokens,
                    format_minor(s.amount_minor, s.currency) if s.currency else "-",
                    s.contributors,
                    s.note or "",
                ]
                for s in out.sources
            ],
        )
        if out.already_settled:
            console.print(f"run {out.run_id} was already settled: nothing added")
        else:
            console.print(
                f"run {out.run_id} settled: {out.entries_added} entries added, total {_totals(out.totals)}"
            )

    emit(out, as_json, human)


@pool_app.command("create")
def pool_create(
    amount: Annotated[str, typer.Option(help="the pool, e.g. 10000 or 10000.00")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. EUR")],
    manifest: Annotated[str, typer.Option(help="hash of the manifest whose sources share it")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Open a pool to be split across the pool-terms sources consumed under a manifest."""
    with tx() as session:
        out = ledger.create_pool(session, manifest_hash=manifest, amount=amount, currency=currency)
    emit(out, as_json, lambda: console.print(f"pool {out.id} created: {out.amount} {out.currency}"))


@pool_app.command("settle")
def pool_settle(
    pool_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Split a pool by tokens across its sources, then by contributors' shares."""
    with tx() as session:
        out = ledger.settle_pool(session, pool_id)

    def human() -> None:
        if out.already_settled:
            console.print(f"pool {out.pool_id} was already settled: nothing added")
            return
        table(
            f"pool {out.pool_id}",
            ["source", "tokens", "amount", "contributors"],
            [
                [
                    s.source,
                    s.tokens,
                    format_minor(s.amount_minor, out.total.currency),
                    s.contributors,
                ]
                for s in out.sources
            ],
        )
        console.print(
            f"pool {out.pool_id} settled: {out.entries_added} entries, {out.total.formatted}"
        )

    emit(out, as_json, human)


@ledger_app.command("reverse")
def reverse(
    entry: Annotated[int, typer.Argument(help="ledger entry id")],
    reason: Annotated[str, typer.Option(help="why; recorded on the entry and in the audit log")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Cancel an entry by appending its negative; nothing is edited or deleted."""
    with tx() as session:
        out = ledger.reverse_entry(session, entry, reason=reason)
    emit(
        out,
        as_json,
        lambda: console.print(
            f"entry {entry} reversed by entry {out.id}: {format_minor(out.amount_minor, out.currency)}"
        ),
    )


@ledger_app.command("correct")
def correct(
    entry: Annotated[int, typer.Argument(help="ledger entry id")],
    amount_minor: Annotated[
        int, typer.Option("--amount-minor", help="the right amount, in minor units")
    ],
    reason: Annotated[str, typer.Option(help="why; recorded on the entries and in the audit log")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Correct an entry: a reversal of it plus a new charge of the right amount."""
    with tx() as session:
        out = ledger.correct_entry(session, entry, amount_minor, reason=reason)
    emit(
        out,
        as_json,
        lambda: console.print(
            f"entry {entry} reversed by {out.reversal.id} and recharged as {out.charge.id}: "
            f"{format_minor(out.charge.amount_minor, out.charge.currency)}"
        ),
    )


@ledger_app.command("summary")
def summary(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """For admins: totals per currency, per source and per run."""
    with tx(write=False) as session:
        out = ledger.ledger_summary(session)

    def human() -> None:
        table(
            "by source",
            ["source", "amount", "entries"],
            [
                [s.source, format_minor(s.amount_minor, s.currency), s.entries]
                for s in out.by_source
            ],
        )
        table(
            "by run or pool",
            ["run", "pool", "amount", "entries"],
            [
                [
                    r.run_id or "-",
                    r.pool_id or "-",
                    format_minor(r.amount_minor, r.currency),
                    r.entries,
                ]
                for r in out.by_run
            ],
        )
        console.print(
            f"{out.entries} entries; {out.contributors_compensated} contributors compensated; "
            f"total {_totals(out.totals)}"
        )

    emit(out, as_json, human)


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise InvalidInput(f"{what} {value!r} is not a date (YYYY-MM-DD)") from exc


def _csv(out: StatementOut) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["id", "created_at", "kind", "run_id", "pool_id", "source", "terms_model",
                "currency", "amount_minor", "amount", "reverses_id", "note"])  # fmt: skip
    for e in out.entries:
        amount = format_minor(e.amount_minor, e.currency).split(" ")[0]
        w.writerow([e.id, e.created_at.isoformat(), e.kind, e.run_id or "", e.pool_id or "",
                    e.source, e.terms_model, e.currency, e.amount_minor, amount,
                    e.reverses_id or "", e.note or ""])  # fmt: skip


def _human(out: StatementOut) -> None:
    table(
        f"statement for {out.contributor}",
        ["id", "date", "kind", "run / pool", "source", "terms", "amount"],
        [
            [
                e.id,
                e.created_at.date(),
                e.kind,
                e.run_id or f"pool {e.pool_id}",
                e.source,
                e.terms_model,
                format_minor(e.amount_minor, e.currency),
            ]
            for e in out.entries
        ],
    )
    table(
        "by run or pool",
        ["run / pool", "tokens counted in", "tokens of their records", "amount"],
        [
            [
                r.run_id or f"pool {r.pool_id}",
                r.tokenizer or "-",
                "-" if r.record_tokens is None else f"{r.record_tokens:,}",
                format_minor(r.amount_minor, r.currency),
            ]
            for r in out.by_run
        ],
    )
    table(
        "by source",
        ["source", "amount"],
        [[s.source, format_minor(s.amount_minor, s.currency)] for s in out.by_source],
    )
    console.print(f"total: {_totals(out.totals)}")


def statement_cmd(
    contributor: Annotated[str, typer.Argument(help="contributor name")],
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD, inclusive")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD, inclusive")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """A contributor's entries with per-run and per-source subtotals and totals per currency."""
    if fmt not in ("table", "csv", "json"):
        raise InvalidInput(f"unknown format {fmt!r}: expected table, csv or json")
    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    with tx(write=False) as session:
        out = ledger.statement(session, contributor, date_from=start, date_to=end)
    {"json": lambda: print_json(out), "csv": lambda: _csv(out), "table": lambda: _human(out)}[fmt]()


def register(app: typer.Typer) -> None:
    """Add the ledger's commands to the root ``provreg`` app (one line in ``main.py``)."""
    app.command("settle")(settle)
    app.command("statement")(statement_cmd)
    app.add_typer(pool_app, name="pool")
    app.add_typer(ledger_app, name="ledger")
