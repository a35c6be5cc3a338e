"""Settling a run: its consumption priced by each source's terms, split into charges.

per-mtok: tokens x rate / 1e6, rounded once per source (half even), split by shares.
flat: the fee, charged only to the first completed run under the manifest that consumed the
source (``consumption.first_flat_runs``). pool: nothing here (``pools.settle_pool``).
none: nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from registry import audit
from registry.catalogue.authors import author_contributors
from registry.db.engine import memory_mapped, sorting_threads
from registry.db.models import LedgerEntry, TrainingRun
from registry.db.types import utcnow
from registry.entities.ledger import SettlementOut, SourceSettlementOut
from registry.errors import Conflict, NotFound
from registry.faults import crash_point
from registry.ledger.allocation import per_mtok_exact, round_minor, to_minor_exact
from registry.ledger.attribution import NO_AUTHOR, author_tokens
from registry.ledger.consumption import SourceUse, first_flat_runs, use_by_source
from registry.ledger.entries import (
    EntryRow,
    entry_row,
    existing_keys,
    flat_key,
    insert_entries,
    money,
    run_key,
    totals,
)
from registry.ledger.money import check_ledger_amount
from registry.ledger.terms import (
    SourceTerms,
    load_terms,
    priced,
    refuse_sources_without_terms,
    split,
)
from registry.shards.store import ShardStore


@dataclass(frozen=True, slots=True)
class _Charge:
    """What the entries of a priced source carry: their keys, terms model and currency."""

    key_of: Callable[[int], str]  # contributor id -> idempotency key
    terms_model: str
    currency: str


@dataclass(frozen=True, slots=True)
class _Price:
    """One consumed source, priced for one run: the amount owed, or a note saying why none."""

    source: SourceTerms
    tokens: int
    amount_minor: int = 0
    charge: _Charge | None = None
    note: str | None = None


def settle_run(session: Session, run_id: str, *, store: ShardStore | None = None) -> SettlementOut:
    """Turn a completed run's consumption into ledger charges, one per contributor and source.

    Idempotent: entries whose key exists are not written again. Zero-amount parts are not
    written. The rules are in the module docstring and ``docs/ledger.md``. ``store`` holds the
    shard files: a source that pays its authors and whose shard the run read only in part
    needs that file (``attribution``).

    Raises:
        NotFound: an unknown run.
        Conflict: the run is not completed, or a concurrent settlement wrote the same keys.
        InvalidInput: a consumed source has contributors but no compensation terms, or the
            amount owed exceeds what the ledger holds (``money.MAX_LEDGER_MINOR``).
    """
    run = _completed_run(session, run_id)
    with memory_mapped(session), sorting_threads(session):  # a million-row join and sort
        uses = use_by_source(session, run_id)
        tokens = {sid: u.tokens for sid, u in uses.items()}
        sources = load_terms(session, tokens)
        refuse_sources_without_terms(sources.values(), f"run {run_id!r}")
        _attribute(session, run, sources, uses, store)
    prices = _price(session, run, sources, tokens)
    rows = _split(run, prices, utcnow())
    for currency, amount in totals(rows).items():  # the ledger's figures are exact JSON numbers
        check_ledger_amount(amount, currency, f"settling run {run_id!r}")
    new = _write(session, run, rows)
    _audit(session, run, new)
    session.flush()
    crash_point("settle.before_commit")  # the fault suite: die with the entries unwritten
    return _report(run, prices, rows, new)


def _completed_run(session: Session, run_id: str) -> TrainingRun:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    if run.status != "completed":
        raise Conflict(
            f"run {run_id!r} is {run.status}: only a completed run can be settled "
            "(a failed or interrupted run is settled once it is resumed and completes)"
        )
    return run


def _attribute(
    session: Session,
    run: TrainingRun,
    sources: dict[int, SourceTerms],
    uses: dict[int, SourceUse],
    store: ShardStore | None,
) -> None:
    """Give each author-paying source its payees' tokens: author key -> contributor."""
    paying = {s.id: uses[s.id] for s in sources.values() if s.pay_authors is not None and s.model}
    by_source = author_tokens(session, run, paying, store)
    contributors = author_contributors(session, paying)
    for sid, per_author in by_source.items():
        src = sources[sid]
        for author, tokens in per_author.items():
            cid = contributors.get((sid, author)) if author != NO_AUTHOR else None
            if cid is None:
                src.unauthored += tokens
            else:
                src.authors[cid] = src.authors.get(cid, 0) + tokens


def _price(
    session: Session, run: TrainingRun, sources: dict[int, SourceTerms], tokens: dict[int, int]
) -> list[_Price]:
    """Every consumed source's price for this run, in source id order."""
    flat_ids = [s.id for s in sources.values() if s.model == "flat" and tokens[s.id] > 0]
    first_runs = first_flat_runs(session, run.manifest_hash, flat_ids) if flat_ids else {}
    return [
        _price_source(run, sources[sid], tokens[sid], first_runs.get(sid))
        for sid in sorted(sources)
    ]


def _price_source(run: TrainingRun, src: SourceTerms, used: int, first_run: str | None) -> _Price:
    """The exact amount rounded once to minor units (half even), before the split."""
    if not src.payees:
        return _Price(src, used, note="no contributors: nothing owed")
    if src.model == "none":
        return _Price(src, used, note="terms none: nothing owed")
    if src.model == "pool":
        return _Price(src, used, note="paid from revenue-share pools (provreg pool settle)")
    if src.model == "per-mtok":
        rate, currency = priced(src)
        amount = round_minor(per_mtok_exact(used, rate, currency))
        return _Price(
            src, used, amount, _Charge(partial(run_key, run.id, src.id), "per-mtok", currency)
        )
    if src.model == "flat":
        fee, currency = priced(src)
        if used <= 0:
            return _Price(src, used, note="no tokens consumed: flat fee not due")
        if first_run != run.id:
            return _Price(
                src,
                used,
                note=f"flat fee is charged to run {first_run!r}, the first to consume it under this manifest",
            )
        amount = round_minor(to_minor_exact(fee, currency))
        charge = _Charge(partial(flat_key, run.manifest_hash, src.id), "flat", currency)
        return _Price(src, used, amount, charge)
    return _Price(src, used)


def _split(run: TrainingRun, prices: Sequence[_Price], now: datetime) -> list[EntryRow]:
    """One charge per contributor and priced source, by shares; zero parts are left out."""
    return [
        entry_row(
            key=p.charge.key_of(cid),
            run_id=run.id,
            source_id=p.source.id,
            contributor_id=cid,
            terms_model=p.charge.terms_model,
            currency=p.charge.currency,
            amount_minor=part,
            created_at=now,
        )
        for p in prices
        if p.charge is not None
        for cid, part in split(p.amount_minor, p.source)
        if part
    ]


def _write(session: Session, run: TrainingRun, rows: list[EntryRow]) -> list[EntryRow]:
    """Insert the rows whose keys are not in the ledger yet, and return them.

    The run's own charges are found with one indexed query; a flat-fee key names the manifest,
    not the run, so flat keys are also looked up by key.
    """
    existing = existing_keys(
        session,
        [r["key"] for r in rows if r["terms_model"] == "flat"],
        LedgerEntry.run_id == run.id,
        LedgerEntry.kind == "charge",
    )
    new = [r for r in rows if r["key"] not in existing]
    insert_entries(session, new)
    return new


def _audit(session: Session, run: TrainingRun, new: list[EntryRow]) -> None:
    """One audit row per settlement that wrote something; settling again records nothing."""
    if not new:
        return
    audit.record(
        session,
        "ledger.settle",
        "run",
        run.id,
        {
            "run_id": run.id,
            "manifest_hash": run.manifest_hash,
            "entries": len(new),
            "totals": totals(new),
        },
    )


def _report(
    run: TrainingRun, prices: Sequence[_Price], rows: list[EntryRow], new: list[EntryRow]
) -> SettlementOut:
    return SettlementOut(
        run_id=run.id,
        manifest_hash=run.manifest_hash,
        already_settled=bool(rows) and not new,
        entries_added=len(new),
        entries_existing=len(rows) - len(new),
        sources=tuple(
            SourceSettlementOut(
                source_id=p.source.id,
                source=p.source.name,
                terms_model=p.source.model,
                currency=p.charge.currency if p.charge else None,
                tokens=p.tokens,
                amount_minor=p.amount_minor,
                contributors=len(set(dict(p.source.shares)) | set(p.source.authors)),
                note=p.note,
            )
            for p in prices
        ),
        totals=money(totals(rows)),
    )
