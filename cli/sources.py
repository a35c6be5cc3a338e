"""``provreg source``: register and inspect data sources."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from cli.common import JSON_HELP, console, emit, table, tx
from registry.catalogue import sources
from registry.entities.catalogue import SourceIn, SourceOut
from registry.errors import InvalidInput
from registry.limits import shape_error

app = typer.Typer(no_args_is_help=True, help="Data sources: origin, licence, contributors, terms.")


def _date(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d")
    except ValueError as exc:
        raise InvalidInput(f"{what} {value!r} is not a date (YYYY-MM-DD)") from exc


@app.command("add")
def add(
    name: str,
    uri: Annotated[str, typer.Option(help="where the data came from")],
    kind: Annotated[
        str,
        typer.Option(
            help="web-crawl, public-dataset, licensed, user-contributed, synthetic or proprietary"
        ),
    ],
    licence: Annotated[str, typer.Option(help="SPDX licence expression, e.g. 'MIT OR Apache-2.0'")],
    contributor: Annotated[
        list[str] | None, typer.Option(help="NAME=SHARE; shares sum to 1")
    ] = None,
    terms: Annotated[
        str | None, typer.Option(help="per-mtok:1.50:EUR, flat:500:USD, pool:10000:EUR or none")
    ] = None,
    collected_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    collected_to: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    jurisdiction: Annotated[str | None, typer.Option()] = None,
    tdm_checked: Annotated[
        bool, typer.Option(help="a TDM/opt-out reservation was checked")
    ] = False,
    tdm_respected: Annotated[bool, typer.Option(help="reservations found were respected")] = False,
    pii: Annotated[bool, typer.Option(help="the data may hold personal information")] = False,
    pii_measures: Annotated[str | None, typer.Option(help="what was done about PII")] = None,
    consent: Annotated[
        str, typer.Option(help="not-required, consented, opted-out or unknown")
    ] = "unknown",
    description: Annotated[str | None, typer.Option()] = None,
    crawler: Annotated[
        str | None,
        typer.Option(help="crawler user agent (product token) whose robots.txt group applies"),
    ] = None,
    pay_authors: Annotated[
        str | None,
        typer.Option(
            help="SHARE in (0, 1] of what the source earns paid to its records' authors by "
            "tokens consumed; contributors' shares sum to 1 over the rest"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Register a source with its licence, contributors and compensation terms."""
    start, end = _date(collected_from, "--collected-from"), _date(collected_to, "--collected-to")
    try:
        spec = SourceIn(
            name=name,
            uri=uri,
            kind=kind,
            licence=licence,
            contributors=[sources.parse_share(c) for c in contributor or []],
            terms=sources.parse_terms(terms) if terms else None,
            collected_from=start.date() if start else None,
            collected_to=end.date() if end else None,
            jurisdiction=jurisdiction,
            tdm_checked=tdm_checked,
            tdm_respected=tdm_respected,
            pii=pii,
            pii_measures=pii_measures,
            consent_status=consent,
            description=description,
            crawler=crawler,
            pay_authors=sources.parse_pay_authors(pay_authors) if pay_authors else None,
        )
    except ValidationError as exc:
        raise shape_error(exc, "source") from exc
    with tx() as session:
        row = sources.add_source(session, spec)
    emit(
        row,
        as_json,
        lambda: console.print(f"source {row.name!r} added (id {row.id}, licence {row.licence})"),
    )


def _show(s: SourceOut) -> None:
    fields = s.model_dump(exclude={"contributors", "terms"})
    table(f"source {s.name}", ["field", "value"], list(fields.items()))
    if s.contributors:
        table(
            "contributors",
            ["contributor", "share"],
            [[c.contributor, c.share] for c in s.contributors],
        )
    if s.terms:
        console.print(
            f"terms: {s.terms.model} {s.terms.amount or ''} {s.terms.currency or ''}".rstrip()
        )


@app.command("show")
def show(
    name: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """Show one source, its contributors and terms."""
    with tx(write=False) as session:
        row = sources.get_source(session, name)
    emit(row, as_json, lambda: _show(row))


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List sources."""
    with tx(write=False) as session:
        rows = sources.list_sources(session)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} sources",
            ["name", "kind", "licence", "status", "crawler", "contributors", "terms"],
            [
                [
                    r.name,
                    r.kind,
                    r.licence,
                    r.status,
                    r.crawler or "-",
                    len(r.contributors),
                    r.terms.model if r.terms else "-",
                ]
                for r in rows
            ],
        ),
    )


@app.command("revoke")
def revoke(
    name: str,
    reason: Annotated[str, typer.Option(help="why: an opt-out, a takedown notice, ...")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Revoke a source and all its shards (opt-out or takedown); nothing is deleted."""
    from registry.catalogue.revocation import revoke_source

    with tx() as session:
        row, shards = revoke_source(session, name, reason)
    emit(
        {"source": row, "shards_revoked": shards},
        as_json,
        lambda: console.print(
            f"source {row.name!r} revoked with {shards} shard(s): {row.revoked_reason}",
            markup=False,
        ),
    )
