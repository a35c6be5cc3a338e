"""The compensation ledger: what each contributor is owed for what each run consumed.

Money is exact (invariant 6): a source's amount is computed as an exact Decimal in minor units,
rounded once (half to even) to whole minor units, then split across the source's contributors
by largest remainder, so the parts add up exactly to the source's amount. Entries are only ever
appended: every charge has an idempotency ``key`` (settling twice adds nothing) and a correction
is a reversal plus a new charge. The rules are written down in ``docs/ledger.md``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import distinct, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import audit
from registry.catalogue.contributors import contributor_row
from registry.db.models import (
    CompensationTerms,
    Consumption,
    Contributor,
    LedgerEntry,
    Manifest,
    Pool,
    Shard,
    Source,
    SourceContributor,
    TrainingRun,
)
from registry.db.types import utcnow
from registry.entities.ledger import (
    CorrectionOut,
    LedgerEntryOut,
    LedgerSummaryOut,
    Money,
    PoolOut,
    PoolSettlementOut,
    PublicAggregateOut,
    RunSubtotal,
    SettlementOut,
    SourceSettlementOut,
    SourceSubtotal,
    StatementOut,
)
from registry.errors import Conflict, InvalidInput, NotFound
from registry.ledger.allocation import (
    allocate,
    is_whole_minor,
    per_mtok_exact,
    round_minor,
    to_minor_exact,
)
from registry.ledger.money import check_currency, parse_decimal

# Bound parameter lists: SQLite allows 32,766 variables per statement.
_CHUNK = 5_000
_T = TypeVar("_T")
_LEDGER = LedgerEntry.metadata.tables["ledger_entries"]  # Core table: bulk inserts skip the ORM


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_key(run_id: str, source_id: int, contributor_id: int) -> str:
    return f"run:{run_id}:source:{source_id}:contributor:{contributor_id}"


def flat_key(manifest_hash: str, source_id: int, contributor_id: int) -> str:
    return f"flat:{manifest_hash}:source:{source_id}:contributor:{contributor_id}"


def pool_key(pool_id: int, source_id: int, contributor_id: int) -> str:
    return f"pool:{pool_id}:source:{source_id}:contributor:{contributor_id}"


# --- what the database holds about the sources a settlement touches -------------------------


class _Source:
    """A source's name, terms and contributors' shares, loaded in bulk for one settlement."""

    __slots__ = ("amount", "currency", "id", "model", "name", "shares")

    def __init__(self, id: int, name: str) -> None:
        self.id, self.name = id, name
        self.model: str | None = None
        self.amount: Decimal | None = None
        self.currency: str | None = None
        self.shares: list[tuple[int, Decimal]] = []


def _load_sources(session: Session, ids: Sequence[int]) -> dict[int, _Source]:
    out: dict[int, _Source] = {}
    for chunk in _chunks(sorted(ids)):
        for sid, name in session.execute(
            select(Source.id, Source.name).where(Source.id.in_(chunk))
        ):
            out[sid] = _Source(sid, name)
        terms = select(
            CompensationTerms.source_id,
            CompensationTerms.model,
            CompensationTerms.amount,
            CompensationTerms.currency,
        ).where(CompensationTerms.source_id.in_(chunk))
        for sid, model, amount, currency in session.execute(terms):
            src = out[sid]
            src.model, src.amount, src.currency = model, amount, currency
        shares = (
            select(
                SourceContributor.source_id,
                SourceContributor.contributor_id,
                SourceContributor.share,
            )
            .where(SourceContributor.source_id.in_(chunk))
            .order_by(SourceContributor.source_id, SourceContributor.contributor_id)
        )
        for sid, cid, share in session.execute(shares):
            out[sid].shares.append((cid, share))
    return out


def _priced(src: _Source) -> tuple[Decimal, str]:
    """A priced source's amount and currency (``sources.add_source`` requires both)."""
    if src.amount is None or src.currency is None:
        raise InvalidInput(
            f"source {src.name!r} has {src.model} terms without an amount or currency"
        )
    return src.amount, src.currency


def _refuse_sources_without_terms(sources: Iterable[_Source], what: str) -> None:
    missing = sorted(s.name for s in sources if s.shares and s.model is None)
    if missing:
        shown = ", ".join(repr(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InvalidInput(
            f"cannot settle {what}: {len(missing)} consumed source(s) have contributors but no "
            f"compensation terms: {shown}"
        )


def _tokens_by_source(session: Session, *where: Any) -> dict[int, int]:
    """Tokens consumed per source: one GROUP BY in the database, not a million rows in Python."""
    query = (
        select(Shard.source_id, func.sum(Consumption.tokens))
        .select_from(Consumption)
        .join(Shard, Shard.id == Consumption.shard_id)
        .where(*where)
        .group_by(Shard.source_id)
    )
    return {sid: int(total or 0) for sid, total in session.execute(query)}


# --- settling a run -------------------------------------------------------------------------


def _run_row(session: Session, run_id: str) -> TrainingRun:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    if run.status != "completed":
        raise Conflict(
            f"run {run_id!r} is {run.status}: only a completed run can be settled "
            "(a failed or interrupted run is settled once it is resumed and completes)"
        )
    return run


def _first_flat_runs(
    session: Session, manifest_hash: str, source_ids: Sequence[int]
) -> dict[int, str]:
    """For each flat-fee source, the completed run under the manifest that consumed it first.

    First = earliest ``finished_at``, then smallest run id; a completed run without a finish
    time sorts after every run that has one.
    """
    firsts: dict[int, tuple[tuple[int, datetime, str], str]] = {}
    for chunk in _chunks(sorted(source_ids)):
        query = (
            select(Shard.source_id, TrainingRun.id, TrainingRun.finished_at)
            .select_from(Consumption)
            .join(Shard, Shard.id == Consumption.shard_id)
            .join(TrainingRun, TrainingRun.id == Consumption.run_id)
            .where(
                TrainingRun.manifest_hash == manifest_hash,
                TrainingRun.status == "completed",
                Consumption.tokens > 0,
                Shard.source_id.in_(chunk),
            )
            .group_by(Shard.source_id, TrainingRun.id, TrainingRun.finished_at)
        )
        for sid, rid, finished in session.execute(query):
            order = (0, finished, rid) if finished else (1, datetime.max.replace(tzinfo=UTC), rid)
            if sid not in firsts or order < firsts[sid][0]:
                firsts[sid] = (order, rid)
    return {sid: rid for sid, (_, rid) in firsts.items()}


def _split(total_minor: int, src: _Source) -> list[tuple[int, int]]:
    """(contributor id, minor units) for each contributor of ``src``, parts summing to the total."""
    parts = allocate(total_minor, [share for _, share in src.shares])
    return [(cid, part) for (cid, _), part in zip(src.shares, parts, strict=True)]


def _existing_keys(session: Session, keys: Sequence[str], *where: Any) -> set[str]:
    found: set[str] = set()
    if where:
        found.update(session.scalars(select(LedgerEntry.key).where(*where)))
    rest = [k for k in keys if k not in found]
    for chunk in _chunks(rest):
        found.update(session.scalars(select(LedgerEntry.key).where(LedgerEntry.key.in_(chunk))))
    return found


def _insert_entries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Core executemany: ORM objects for 100,000 entries would cost seconds and gigabytes."""
    if not rows:
        return
    try:
        session.execute(insert(_LEDGER), rows)
    except IntegrityError as exc:
        raise Conflict(
            "ledger entries with these keys were written concurrently; nothing was written, retry"
        ) from exc


def _totals(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r["currency"]] += r["amount_minor"]
    return dict(sorted(out.items()))


def _money(totals: dict[str, int]) -> tuple[Money, ...]:
    return tuple(Money(currency=c, amount_minor=a) for c, a in sorted(totals.items()))


def settle_run(session: Session, run_id: str) -> SettlementOut:
    """Turn a completed run's consumption into ledger charges, one per contributor and source.

    per-mtok: tokens x rate / 1e6, rounded once per source (half even), split by shares.
    flat: the fee, charged only to the first completed run under the manifest that consumed the
    source (see ``_first_flat_runs``). pool: nothing here (``settle_pool``). none: nothing.
    Idempotent: entries whose key exists are not written again. Zero-amount parts are not written.

    Raises:
        NotFound: an unknown run.
        Conflict: the run is not completed, or a concurrent settlement wrote the same keys.
        InvalidInput: a consumed source has contributors but no compensation terms.
    """
    run = _run_row(session, run_id)
    tokens = _tokens_by_source(session, Consumption.run_id == run_id)
    sources = _load_sources(session, list(tokens))
    _refuse_sources_without_terms(sources.values(), f"run {run_id!r}")
    flat_ids = [s.id for s in sources.values() if s.model == "flat" and tokens[s.id] > 0]
    first_runs = _first_flat_runs(session, run.manifest_hash, flat_ids) if flat_ids else {}

    now = utcnow()
    rows: list[dict[str, Any]] = []
    lines: list[SourceSettlementOut] = []
    for sid in sorted(sources):
        src, used = sources[sid], tokens[sid]
        amount, note = 0, None
        key_of: Callable[[int], str] | None = None
        if not src.shares:
            note = "no contributors: nothing owed"
        elif src.model == "none":
            note = "terms none: nothing owed"
        elif src.model == "pool":
            note = "paid from revenue-share pools (provreg pool settle)"
        elif src.model == "per-mtok":
            rate, currency = _priced(src)
            amount = round_minor(per_mtok_exact(used, rate, currency))
            key_of = partial(run_key, run_id, sid)
        elif src.model == "flat":
            fee, currency = _priced(src)
            first = first_runs.get(sid)
            if used <= 0:
                note = "no tokens consumed: flat fee not due"
            elif first != run_id:
                note = f"flat fee is charged to run {first!r}, the first to consume it under this manifest"
            else:
                amount = round_minor(to_minor_exact(fee, currency))
                key_of = partial(flat_key, run.manifest_hash, sid)
        if key_of is not None:
            for cid, part in _split(amount, src):
                if part:
                    rows.append(
                        {
                            "key": key_of(cid),
                            "run_id": run_id,
                            "pool_id": None,
                            "source_id": sid,
                            "contributor_id": cid,
                            "terms_model": src.model,
                            "currency": src.currency,
                            "amount_minor": part,
                            "kind": "charge",
                            "reverses_id": None,
                            "note": None,
                            "created_at": now,
                        }
                    )
        lines.append(
            SourceSettlementOut(
                source_id=sid,
                source=src.name,
                terms_model=src.model,
                currency=src.currency if key_of else None,
                tokens=used,
                amount_minor=amount,
                contributors=len(src.shares),
                note=note,
            )
        )

    existing = _existing_keys(
        session,
        [r["key"] for r in rows if r["terms_model"] == "flat"],
        LedgerEntry.run_id == run_id,
        LedgerEntry.kind == "charge",
    )
    new = [r for r in rows if r["key"] not in existing]
    _insert_entries(session, new)
    if new:
        audit.record(
            session,
            "ledger.settle",
            "run",
            run_id,
            {
                "run_id": run_id,
                "manifest_hash": run.manifest_hash,
                "entries": len(new),
                "totals": _totals(new),
            },
        )
    session.flush()
    return SettlementOut(
        run_id=run_id,
        manifest_hash=run.manifest_hash,
        already_settled=bool(rows) and not new,
        entries_added=len(new),
        entries_existing=len(rows) - len(new),
        sources=tuple(lines),
        totals=_money(_totals(rows)),
    )


# --- revenue-share pools --------------------------------------------------------------------


def create_pool(
    session: Session, *, manifest_hash: str, amount: Decimal | str, currency: str
) -> PoolOut:
    """Open a revenue-share pool of ``amount`` for the sources consumed under a manifest.

    Raises:
        InvalidInput: a non-positive amount, an unknown currency, or an amount finer than the
            currency's minor unit (EUR 10.005).
        NotFound: an unknown manifest.
    """
    value = parse_decimal(amount, what="pool amount", allow_zero=False)
    code = check_currency(currency)
    if not is_whole_minor(value, code):
        raise InvalidInput(f"pool amount {value} {code} is finer than the currency's minor unit")
    if session.get(Manifest, manifest_hash) is None:
        raise NotFound(f"unknown manifest {manifest_hash!r}")
    row = Pool(manifest_hash=manifest_hash, amount=value, currency=code)
    session.add(row)
    session.flush()
    audit.record(
        session,
        "pool.create",
        "pool",
        str(row.id),
        {"manifest_hash": manifest_hash, "amount": str(value), "currency": code},
    )
    return PoolOut.model_validate(row)


def settle_pool(session: Session, pool_id: int) -> PoolSettlementOut:
    """Split a pool across the pool-terms sources consumed under its manifest, by tokens.

    Tokens are summed over every completed run of the manifest at settlement time; a pool is
    settled once (a second call adds nothing). Each source's part is split by shares. Sources
    without contributors take no part.

    Raises:
        NotFound: an unknown pool.
        InvalidInput: a pool source priced in another currency, a consumed source with
            contributors but no terms, or no pool source consumed by a completed run.
    """
    pool = session.get(Pool, pool_id)
    if pool is None:
        raise NotFound(f"unknown pool {pool_id}")
    total_minor = round_minor(to_minor_exact(pool.amount, pool.currency))
    total = Money(currency=pool.currency, amount_minor=total_minor)
    done = session.scalars(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.pool_id == pool_id)
    ).one()
    if done:
        return PoolSettlementOut(
            pool_id=pool_id,
            manifest_hash=pool.manifest_hash,
            already_settled=True,
            entries_added=0,
            total=total,
            sources=(),
        )
    tokens = _tokens_by_source(
        session,
        Consumption.run_id.in_(
            select(TrainingRun.id).where(
                TrainingRun.manifest_hash == pool.manifest_hash, TrainingRun.status == "completed"
            )
        ),
    )
    sources = _load_sources(session, list(tokens))
    _refuse_sources_without_terms(sources.values(), f"pool {pool_id}")
    members = [s for s in sources.values() if s.model == "pool" and s.shares and tokens[s.id] > 0]
    members.sort(key=lambda s: s.id)
    wrong = sorted(f"{s.name!r} ({s.currency})" for s in members if s.currency != pool.currency)
    if wrong:
        raise InvalidInput(
            f"pool {pool_id} is in {pool.currency} but its sources are priced in another "
            f"currency: {', '.join(wrong)}; currencies never mix"
        )
    if not members:
        raise InvalidInput(
            f"pool {pool_id}: no source with pool terms and contributors was consumed by a "
            f"completed run under manifest {pool.manifest_hash}"
        )
    now = utcnow()
    rows: list[dict[str, Any]] = []
    lines = []
    parts = allocate(total_minor, [tokens[s.id] for s in members])
    for src, part in zip(members, parts, strict=True):
        for cid, amount in _split(part, src):
            if amount:
                rows.append(
                    {
                        "key": pool_key(pool_id, src.id, cid),
                        "run_id": None,
                        "pool_id": pool_id,
                        "source_id": src.id,
                        "contributor_id": cid,
                        "terms_model": "pool",
                        "currency": pool.currency,
                        "amount_minor": amount,
                        "kind": "charge",
                        "reverses_id": None,
                        "note": None,
                        "created_at": now,
                    }
                )
        lines.append(
            SourceSettlementOut(
                source_id=src.id,
                source=src.name,
                terms_model="pool",
                currency=pool.currency,
                tokens=tokens[src.id],
                amount_minor=part,
                contributors=len(src.shares),
            )
        )
    _insert_entries(session, rows)
    audit.record(
        session,
        "pool.settle",
        "pool",
        str(pool_id),
        {
            "pool_id": pool_id,
            "entries": len(rows),
            "sources": len(members),
            "totals": _totals(rows),
        },
    )
    session.flush()
    return PoolSettlementOut(
        pool_id=pool_id,
        manifest_hash=pool.manifest_hash,
        already_settled=False,
        entries_added=len(rows),
        total=total,
        sources=tuple(lines),
    )


# --- corrections: append, never edit ---------------------------------------------------------


def _entries_query() -> Any:
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


def _reversal_row(session: Session, entry_id: int, reason: str) -> dict[str, Any]:
    if not reason or not reason.strip():
        raise InvalidInput("a reversal needs a reason")
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(f"unknown ledger entry {entry_id}")
    if entry.kind == "reversal":
        raise InvalidInput(
            f"ledger entry {entry_id} is itself a reversal; correct the original entry instead"
        )
    already = session.scalars(
        select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)
    ).first()
    if already is not None:
        raise Conflict(f"ledger entry {entry_id} was already reversed by entry {already}")
    return {
        "key": f"reversal:{entry_id}",
        "run_id": entry.run_id,
        "pool_id": entry.pool_id,
        "source_id": entry.source_id,
        "contributor_id": entry.contributor_id,
        "terms_model": entry.terms_model,
        "currency": entry.currency,
        "amount_minor": -entry.amount_minor,
        "kind": "reversal",
        "reverses_id": entry_id,
        "note": reason.strip(),
        "created_at": utcnow(),
    }


def _append(session: Session, row: dict[str, Any]) -> LedgerEntryOut:
    try:
        new_id = session.execute(insert(_LEDGER).returning(LedgerEntry.id), row).scalar_one()
    except IntegrityError as exc:
        raise Conflict(f"ledger entry {row['key']!r} already exists") from exc
    return get_entry(session, new_id)


def reverse_entry(session: Session, entry_id: int, *, reason: str) -> LedgerEntryOut:
    """Cancel a charge by appending its negative; the original stays as it was.

    Raises:
        NotFound: an unknown entry.
        InvalidInput: no reason, or the entry is itself a reversal.
        Conflict: the entry was already reversed.
    """
    row = _reversal_row(session, entry_id, reason)
    out = _append(session, row)
    audit.record(
        session,
        "ledger.reverse",
        "ledger_entry",
        str(entry_id),
        {
            "reverses_id": entry_id,
            "reversal_id": out.id,
            "amount_minor": out.amount_minor,
            "currency": out.currency,
            "reason": row["note"],
        },
    )
    return out


def correct_entry(
    session: Session, entry_id: int, new_amount_minor: int, *, reason: str
) -> CorrectionOut:
    """Replace a charge's amount: a reversal of it plus a new charge, in one transaction.

    Raises:
        NotFound: an unknown entry.
        InvalidInput: no reason, a negative or non-integer amount, or the entry is a reversal.
        Conflict: the entry was already reversed or corrected.
    """
    if (
        isinstance(new_amount_minor, bool)
        or not isinstance(new_amount_minor, int)
        or new_amount_minor < 0
    ):
        raise InvalidInput(
            f"corrected amount must be a non-negative integer of minor units, got {new_amount_minor!r}"
        )
    row = _reversal_row(session, entry_id, reason)
    reversal = _append(session, row)
    charge = _append(
        session,
        row
        | {
            "key": f"correction:{entry_id}",
            "amount_minor": new_amount_minor,
            "kind": "charge",
            "reverses_id": None,
        },
    )
    audit.record(
        session,
        "ledger.correct",
        "ledger_entry",
        str(entry_id),
        {
            "reverses_id": entry_id,
            "reversal_id": reversal.id,
            "charge_id": charge.id,
            "amount_minor": new_amount_minor,
            "currency": charge.currency,
            "reason": row["note"],
        },
    )
    return CorrectionOut(reversal=reversal, charge=charge)


# --- reading: statements, summaries, public aggregates ---------------------------------------


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
    return StatementOut(
        contributor=person.name,
        date_from=date_from,
        date_to=date_to,
        entries=tuple(entries),
        by_run=tuple(
            RunSubtotal(run_id=r, pool_id=p, currency=c, amount_minor=a, entries=n)
            for (r, p, c), (a, n) in sorted(
                by_run.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or 0, kv[0][2])
            )
        ),
        by_source=tuple(
            SourceSubtotal(source_id=s, source=name, currency=c, amount_minor=a, entries=n)
            for (s, name, c), (a, n) in sorted(by_source.items())
        ),
        totals=_money(totals),
    )


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
    return _money({c: int(a) for c, a in session.execute(query)})


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
