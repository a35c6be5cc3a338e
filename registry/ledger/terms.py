"""What a settlement needs to know about each source: its terms and its contributors' shares.

Loaded in bulk, a chunk of sources at a time, so settling a run over 10,000 sources costs a few
queries, not 30,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import CompensationTerms, Source, SourceContributor
from registry.errors import InvalidInput
from registry.ledger.allocation import allocate


@dataclass(slots=True)
class SourceTerms:
    """A source's name, terms (``model`` None: no terms recorded) and contributors' shares.

    ``shares`` are (contributor id, share), in contributor id order.
    """

    id: int
    name: str
    model: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    shares: list[tuple[int, Decimal]] = field(default_factory=list)


def load_terms(session: Session, ids: Iterable[int]) -> dict[int, SourceTerms]:
    """The terms and shares of the sources ``ids``, by source id."""
    out: dict[int, SourceTerms] = {}
    for chunk in chunked(sorted(ids)):
        for sid, name in session.execute(
            select(Source.id, Source.name).where(Source.id.in_(chunk))
        ):
            out[sid] = SourceTerms(sid, name)
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


def priced(src: SourceTerms) -> tuple[Decimal, str]:
    """A priced source's amount and currency (``sources.add_source`` requires both).

    Raises:
        InvalidInput: the terms lack an amount or a currency.
    """
    if src.amount is None or src.currency is None:
        raise InvalidInput(
            f"source {src.name!r} has {src.model} terms without an amount or currency"
        )
    return src.amount, src.currency


def refuse_sources_without_terms(sources: Iterable[SourceTerms], what: str) -> None:
    """Settling must not silently pay nothing to contributors whose source has no terms.

    Raises:
        InvalidInput: a source has contributors but no compensation terms.
    """
    missing = sorted(s.name for s in sources if s.shares and s.model is None)
    if missing:
        shown = ", ".join(repr(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InvalidInput(
            f"cannot settle {what}: {len(missing)} consumed source(s) have contributors but no "
            f"compensation terms: {shown}"
        )


def split(total_minor: int, src: SourceTerms) -> list[tuple[int, int]]:
    """(contributor id, minor units) for each contributor of ``src``, parts summing to the total."""
    parts = allocate(total_minor, [share for _, share in src.shares])
    return [(cid, part) for (cid, _), part in zip(src.shares, parts, strict=True)]
