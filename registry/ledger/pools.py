"""Revenue-share pools: an amount split across the pool-terms sources of a manifest, by tokens.

Tokens are summed over every completed run of the manifest at settlement time; a pool is
settled once (a second call adds nothing). Each source's part is then split by its shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import Consumption, LedgerEntry, Manifest, Pool, TrainingRun
from registry.db.types import utcnow
from registry.entities.ledger import Money, PoolOut, PoolSettlementOut, SourceSettlementOut
from registry.errors import InvalidInput, NotFound
from registry.ledger.allocation import allocate, is_whole_minor, round_minor, to_minor_exact
from registry.ledger.consumption import tokens_by_source
from registry.ledger.entries import EntryRow, entry_row, insert_entries, pool_key, totals
from registry.ledger.money import check_currency, parse_decimal
from registry.ledger.terms import SourceTerms, load_terms, refuse_sources_without_terms, split


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

    Sources without contributors take no part.

    Raises:
        NotFound: an unknown pool.
        InvalidInput: a pool source priced in another currency, a consumed source with
            contributors but no terms, or no pool source consumed by a completed run.
    """
    pool = _pool_row(session, pool_id)
    total = _total(pool)
    if _already_settled(session, pool_id):
        return _report(pool, total, (), already_settled=True)
    members, tokens = _members(session, pool)
    parts = allocate(total.amount_minor, [tokens[s.id] for s in members])
    rows = _split(pool, members, parts)
    insert_entries(session, rows)
    _audit(session, pool, members, rows)
    session.flush()
    lines = tuple(
        SourceSettlementOut(
            source_id=src.id,
            source=src.name,
            terms_model="pool",
            currency=pool.currency,
            tokens=tokens[src.id],
            amount_minor=part,
            contributors=len(src.shares),
        )
        for src, part in zip(members, parts, strict=True)
    )
    return _report(pool, total, lines, entries_added=len(rows))


def _pool_row(session: Session, pool_id: int) -> Pool:
    pool = session.get(Pool, pool_id)
    if pool is None:
        raise NotFound(f"unknown pool {pool_id}")
    return pool


def _total(pool: Pool) -> Money:
    """The pool's amount in minor units (``create_pool`` refused anything finer)."""
    return Money(
        currency=pool.currency, amount_minor=round_minor(to_minor_exact(pool.amount, pool.currency))
    )


def _already_settled(session: Session, pool_id: int) -> bool:
    done = session.scalars(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.pool_id == pool_id)
    ).one()
    return bool(done)


def _members(session: Session, pool: Pool) -> tuple[list[SourceTerms], dict[int, int]]:
    """The sources that share the pool, in id order, and the tokens each source was consumed for.

    Raises:
        InvalidInput: see ``settle_pool``.
    """
    tokens = tokens_by_source(
        session,
        Consumption.run_id.in_(
            select(TrainingRun.id).where(
                TrainingRun.manifest_hash == pool.manifest_hash, TrainingRun.status == "completed"
            )
        ),
    )
    sources = load_terms(session, tokens)
    refuse_sources_without_terms(sources.values(), f"pool {pool.id}")
    members = [s for s in sources.values() if s.model == "pool" and s.shares and tokens[s.id] > 0]
    members.sort(key=lambda s: s.id)
    wrong = sorted(f"{s.name!r} ({s.currency})" for s in members if s.currency != pool.currency)
    if wrong:
        raise InvalidInput(
            f"pool {pool.id} is in {pool.currency} but its sources are priced in another "
            f"currency: {', '.join(wrong)}; currencies never mix"
        )
    if not members:
        raise InvalidInput(
            f"pool {pool.id}: no source with pool terms and contributors was consumed by a "
            f"completed run under manifest {pool.manifest_hash}"
        )
    return members, tokens


def _split(pool: Pool, members: Sequence[SourceTerms], parts: Sequence[int]) -> list[EntryRow]:
    """Each source's part split by its shares, one charge per contributor; zero parts left out."""
    now = utcnow()
    return [
        entry_row(
            key=pool_key(pool.id, src.id, cid),
            pool_id=pool.id,
            source_id=src.id,
            contributor_id=cid,
            terms_model="pool",
            currency=pool.currency,
            amount_minor=amount,
            created_at=now,
        )
        for src, part in zip(members, parts, strict=True)
        for cid, amount in split(part, src)
        if amount
    ]


def _audit(
    session: Session, pool: Pool, members: Sequence[SourceTerms], rows: list[EntryRow]
) -> None:
    audit.record(
        session,
        "pool.settle",
        "pool",
        str(pool.id),
        {
            "pool_id": pool.id,
            "entries": len(rows),
            "sources": len(members),
            "totals": totals(rows),
        },
    )


def _report(
    pool: Pool,
    total: Money,
    lines: tuple[SourceSettlementOut, ...],
    *,
    already_settled: bool = False,
    entries_added: int = 0,
) -> PoolSettlementOut:
    return PoolSettlementOut(
        pool_id=pool.id,
        manifest_hash=pool.manifest_hash,
        already_settled=already_settled,
        entries_added=entries_added,
        total=total,
        sources=lines,
    )
