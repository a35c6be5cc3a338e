"""``provreg impact`` and ``provreg takedown``: what some records reached, and taking them out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import JSON_HELP, console, emit, table, tx
from registry.impact.selectors import one_selector

if TYPE_CHECKING:
    from registry.entities.impact import ImpactReport

SourceOpt = Annotated[str | None, typer.Option("--source", help="a source's name")]
ShardOpt = Annotated[str | None, typer.Option("--shard", help="a shard id or unique prefix")]
DomainOpt = Annotated[str | None, typer.Option("--domain", help="a registrable domain")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="an exact record URL")]
AuthorOpt = Annotated[str | None, typer.Option("--author", help="SOURCE:KEY")]
RecordOpt = Annotated[str | None, typer.Option("--record", help="a record id (SHA-256)")]


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


def takedown(
    reason: Annotated[str, typer.Option(help="why: the takedown notice, the request, ...")],
    shard: ShardOpt = None,
    domain: DomainOpt = None,
    url: UrlOpt = None,
    author: AuthorOpt = None,
    record: RecordOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print what would happen and change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Revoke the shards holding some records, write replacements with the other records and
    a new version of each dataset that held them; one transaction, audited."""
    from registry.config import get_settings
    from registry.impact.takedown import takedown as run_takedown
    from registry.shards.store import ShardStore

    kind, value = one_selector(shard=shard, domain=domain, url=url, author=author, record=record)
    store = ShardStore(get_settings().store)
    with store.track(), tx(write=not dry_run) as session:
        out = run_takedown(session, store, kind, value, reason, dry_run=dry_run)

    def human() -> None:
        verb = "would remove" if out.dry_run else "removed"
        console.print(
            f"takedown {out.selector}: {verb} {out.records} record(s), {out.tokens} tokens "
            f"from {len(out.shards)} shard(s)",
            markup=False,
        )
        table(
            None,
            ["revoked shard", "source", "records", "tokens", "replacement"],
            [
                (s.shard_id, s.source, s.records_removed, s.tokens_removed,
                 s.replacement or ("(written when applied)" if out.dry_run else "(none: no records left)"))
                for s in out.shards
            ],
        )  # fmt: skip
        if out.datasets:
            console.print(
                (
                    "new dataset versions (when applied): "
                    if out.dry_run
                    else "new dataset versions: "
                )
                + ", ".join(out.datasets),
                markup=False,
            )
        if out.dry_run:
            console.print("dry run: nothing changed", markup=False)

    emit(out, as_json, human)
