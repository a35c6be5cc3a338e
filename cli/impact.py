"""``provreg impact`` and ``provreg takedown``: what some records reached, and taking them out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import JSON_HELP, console, emit, table, tx
from registry.errors import InvalidInput

if TYPE_CHECKING:
    from registry.entities.impact import ImpactReport

SourceOpt = Annotated[str | None, typer.Option("--source", help="a source's name")]
ShardOpt = Annotated[str | None, typer.Option("--shard", help="a shard id or unique prefix")]
DomainOpt = Annotated[str | None, typer.Option("--domain", help="a registrable domain")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="an exact record URL")]
AuthorOpt = Annotated[str | None, typer.Option("--author", help="SOURCE:KEY")]
RecordOpt = Annotated[str | None, typer.Option("--record", help="a record id (SHA-256)")]


def one_selector(**given: str | None) -> tuple[str, str]:
    """The one selector given, as (kind, value)."""
    chosen = [(k, v) for k, v in given.items() if v is not None]
    if len(chosen) != 1:
        raise InvalidInput("name exactly one selection of records", field="impact.selector_count")
    return chosen[0]


def impact(
    source: SourceOpt = None,
    shard: ShardOpt = None,
    domain: DomainOpt = None,
    url: UrlOpt = None,
    author: AuthorOpt = None,
    record: RecordOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Everything some records reached: shards, manifests and descendants, runs (tokens they
    consumed of those records), weights, published disclosures and ledger entries."""
    from registry.impact.report import impact as run_impact

    kind, value = one_selector(
        source=source, shard=shard, domain=domain, url=url, author=author, record=record
    )
    with tx(write=False) as session:
        report = run_impact(session, kind, value)
    emit(report, as_json, lambda: print_impact(report))


def print_impact(report: ImpactReport) -> None:
    console.print(
        f"{report.selector}: {report.records} record(s), {report.tokens} tokens in "
        f"{len(report.shards)} shard(s)",
        markup=False,
    )
    if report.unindexed_shards:
        console.print(
            f"note: {report.unindexed_shards} v2 shard(s) predate the record key index and "
            "were not searched for this URL or record",
            markup=False,
        )
    table(
        "shards",
        ["shard", "source", "status", "records", "tokens", "of records", "of tokens"],
        [
            (
                s.shard_id[:16],
                s.source,
                s.status,
                s.records,
                s.tokens,
                s.shard_records,
                s.shard_tokens,
            )
            for s in report.shards
        ],
    )
    table(
        "manifests",
        ["manifest", "name", "via", "parent"],
        [(m.hash[:16], m.name, m.via, (m.parent or "")[:16]) for m in report.manifests],
    )
    table(
        "runs (tokens consumed of the matching records)",
        ["run", "manifest", "status", "steps", "matching tokens", "precision"],
        [
            (r.id, r.manifest[:16], r.status, r.steps_done, r.matching_tokens, r.precision)
            for r in report.runs
        ],
    )
    table(
        "weights", ["sha256", "path", "run"], [(w.sha256, w.path, w.run_id) for w in report.weights]
    )
    table(
        "published disclosures",
        ["hash", "of", "subject", "format"],
        [(d.hash[:16], d.subject_kind, d.subject[:16], d.format) for d in report.disclosures],
    )
    table(
        "ledger entries paid",
        ["id", "run", "source", "contributor", "amount (minor)", "currency", "kind"],
        [
            (e.id, e.run_id, e.source, e.contributor_id, e.amount_minor, e.currency, e.kind)
            for e in report.ledger
        ],
    )
