"""Reading the ledger: one entry, a contributor's statement, the admin summary, public totals.

Every figure is net of reversals (a reversal is a negative entry) and grouped by currency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, distinct, func, or_, select
from sqlalchemy.orm import Session

from registry.catalogue.contributors import contributor_row
from registry.db.chunks import chunked
from registry.db.models import (
    AuthorConsumption,
    Contributor,
    LedgerEntry,
    Manifest,
    Pool,
    Source,
    SourceAuthor,
    TrainingRun,
)
from registry.entities.ledger import (
    LedgerEntryOut,
    LedgerSummaryOut,
    Money,
    PublicAggregateOut,
    RunSubtotal,
    SourceSubtotal,
    StatementOut,
)
from registry.errors import InvalidInput, NotFound
from registry.ledger.entries import money


def _entries_query() -> Select[*tuple[Any, ...]]:
    """Entries with their source's and contributor's names: the columns of ``LedgerEntryOut``."""
    return (
        select(
            LedgerEntry.id,
            LedgerEntry.key,
            LedgerEntry.run_id,
            LedgerEntry.pool_id,
            LedgerEntry.source_id,
            Source.name.label("source"),
            LedgerEntry.contributor_id,
            Contributor.name.label("contributor"),
            LedgerEntry.terms_model,
            LedgerEntry.currency,
            LedgerEntry.amount_minor,
            LedgerEntry.kind,
            LedgerEntry.reverses_id,
            LedgerEntry.note,
            LedgerEntry.created_at,
        )
        .join(Source, Source.id == LedgerEntry.source_id)
        .join(Contributor, Contributor.id == LedgerEntry.contributor_id)
    )


def get_entry(session: Session, entry_id: int) -> LedgerEntryOut:
    """Raises: NotFound: no entry with this id."""
    row = session.execute(_entries_query().where(LedgerEntry.id == entry_id)).first()
    if row is None:
        raise NotFound(f"unknown ledger entry {entry_id}")
    return LedgerEntryOut.model_validate(row._mapping)


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def statement(
    session: Session,
    contributor_name: str,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
) -> StatementOut:
    """One contributor's entries (both dates inclusive, UTC), with subtotals and totals.

    Raises:
        NotFound: an unknown contributor.
        InvalidInput: ``date_from`` after ``date_to``.
    """
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(f"the start date {date_from} is after the end date {date_to}")
    person = contributor_row(session, contributor_name)
    query = _entries_query().where(LedgerEntry.contributor_id == person.id)
    if date_from:
        query = query.where(LedgerEntry.created_at >= _day_start(date_from))
    if date_to:
        query = query.where(LedgerEntry.created_at < _day_start(date_to + timedelta(days=1)))
    entries = [
        LedgerEntryOut.model_validate(r._mapping)
        for r in session.execute(query.order_by(LedgerEntry.created_at, LedgerEntry.id))
    ]
    by_run: dict[tuple[str | None, int | None, str], list[int]] = defaultdict(lambda: [0, 0])
    by_source: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    totals: dict[str, int] = defaultdict(int)
    for e in entries:
        for acc in (
            by_run[(e.run_id, e.pool_id, e.currency)],
            by_source[(e.source_id, e.source, e.currency)],
        ):
            acc[0] += e.amount_minor
            acc[1] += 1
        totals[e.currency] += e.amount_minor
    tokenizers = _tokenizers(session, {r for r, _, _ in by_run if r is not None})
    record_tokens = _record_tokens(session, person.id)
    return StatementOut(
        contributor=person.name,
        date_from=date_from,
        date_to=date_to,
        entries=tuple(entries),
        by_run=tuple(
            RunSubtotal(
                run_id=r,
                pool_id=p,
                currency=c,
                amount_minor=a,
                entries=n,
                tokenizer=tokenizers.get(r) if r else None,
                record_tokens=record_tokens.get(r) if r else None,
            )
            for (r, p, c), (a, n) in sorted(
                by_run.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or 0, kv[0][2])
            )
        ),
        by_source=tuple(
            SourceSubtotal(source_id=s, source=name, currency=c, amount_minor=a, entries=n)
            for (s, name, c), (a, n) in sorted(by_source.items())
        ),
        totals=money(totals),
    )


def _record_tokens(session: Session, contributor_id: int) -> dict[str, int]:
    """Per run, the tokens consumed from the records of the author keys paid to the
    contributor (``attribution``: derived when the run was settled)."""
    query = (
        select(AuthorConsumption.run_id, func.sum(AuthorConsumption.tokens))
        .join(
            SourceAuthor,
            (SourceAuthor.source_id == AuthorConsumption.source_id)
            & (SourceAuthor.author == AuthorConsumption.author),
        )
        .where(SourceAuthor.contributor_id == contributor_id)
        .group_by(AuthorConsumption.run_id)
    )
    return {run_id: int(tokens) for run_id, tokens in session.execute(query)}


def _tokenizers(session: Session, run_ids: set[str]) -> dict[str, str]:
    """Each run's tokenizer: a statement says in which tokens each run's charge was counted."""
    out: dict[str, str] = {}
    for chunk in chunked(sorted(run_ids)):
        query = select(TrainingRun.id, TrainingRun.tokenizer).where(TrainingRun.id.in_(chunk))
        for run_id, tokenizer in session.execute(query):
            out[run_id] = tokenizer
    return out


def _compensated(session: Session, *where: Any) -> int:
    """Contributors whose net balance is positive in at least one currency."""
    owed = (
        select(LedgerEntry.contributor_id)
        .where(*where)
        .group_by(LedgerEntry.contributor_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount_minor) > 0)
        .subquery()
    )
    return int(session.scalars(select(func.count(distinct(owed.c.contributor_id)))).one())


def _currency_totals(session: Session, *where: Any) -> tuple[Money, ...]:
    query = (
        select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
        .where(*where)
        .group_by(LedgerEntry.currency)
    )
    return money({c: int(a) for c, a in session.execute(query)})


def ledger_summary(session: Session) -> LedgerSummaryOut:
    """For admins: totals per currency, per source and per run (or pool), net of reversals."""
    amount, count = func.sum(LedgerEntry.amount_minor), func.count()
    by_source = session.execute(
        select(LedgerEntry.source_id, Source.name, LedgerEntry.currency, amount, count)
        .join(Source, Source.id == LedgerEntry.source_id)
        .group_by(LedgerEntry.source_id, Source.name, LedgerEntry.currency)
        .order_by(LedgerEntry.source_id, LedgerEntry.currency)
    )
    by_run = session.execute(
        select(
            LedgerEntry.run_id, LedgerEntry.pool_id, LedgerEntry.currency, amount, count
        ).group_by(LedgerEntry.run_id, LedgerEntry.pool_id, LedgerEntry.currency)
    ).all()
    return LedgerSummaryOut(
        entries=int(session.scalars(select(func.count()).select_from(LedgerEntry)).one()),
        contributors_compensated=_compensated(session),
        totals=_currency_totals(session),
        by_source=tuple(
            SourceSubtotal(source_id=s, source=n, currency=c, amount_minor=int(a), entries=k)
            for s, n, c, a, k in by_source
        ),
        by_run=tuple(
            RunSubtotal(run_id=r, pool_id=p, currency=c, amount_minor=int(a), entries=k)
            for r, p, c, a, k in sorted(by_run, key=lambda t: (t[0] or "", t[1] or 0, t[2]))
        ),
    )


def public_aggregate(session: Session, manifest_hash: str | None = None) -> PublicAggregateOut:
    """What a disclosure may publish: contributors compensated and totals per currency.

    With a manifest, only entries from its runs and its pools count.

    Raises:
        NotFound: an unknown manifest.
    """
    where: list[Any] = []
    if manifest_hash is not None:
        if session.get(Manifest, manifest_hash) is None:
            raise NotFound(f"unknown manifest {manifest_hash!r}")
        where.append(
            or_(
                LedgerEntry.run_id.in_(
                    select(TrainingRun.id).where(TrainingRun.manifest_hash == manifest_hash)
                ),
                LedgerEntry.pool_id.in_(select(Pool.id).where(Pool.manifest_hash == manifest_hash)),
            )
        )
    return PublicAggregateOut(
        manifest_hash=manifest_hash,
        contributors_compensated=_compensated(session, *where),
        totals=_currency_totals(session, *where),
    )
