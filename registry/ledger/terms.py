"""What a settlement needs to know about each source: its terms and its contributors' shares.

Loaded in bulk, a chunk of sources at a time, so settling a run over 10,000 sources costs a few
queries, not 30,000.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import CompensationTerms, Source, SourceContributor
from registry.errors import InvalidInput
from registry.ledger.allocation import EXACT, allocate


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
    pay_authors: Decimal | None = None
    authors: dict[int, int] = field(default_factory=dict)
    """Contributor id -> tokens consumed from their records (filled by a run's settlement)."""
    unauthored: int = 0
    """Tokens consumed from records without an author."""

    @property
    def payees(self) -> bool:
        """Whether anyone can be paid: contributors by share, or authors by tokens."""
        return bool(self.shares) or self.pay_authors is not None


def load_terms(session: Session, ids: Iterable[int]) -> dict[int, SourceTerms]:
    """The terms and shares of the sources ``ids``, by source id."""
    out: dict[int, SourceTerms] = {}
    for chunk in chunked(sorted(ids)):
        for sid, name, pay in session.execute(
            select(Source.id, Source.name, Source.pay_authors).where(Source.id.in_(chunk))
        ):
            out[sid] = SourceTerms(sid, name, pay_authors=pay)
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
    missing = sorted(s.name for s in sources if s.payees and s.model is None)
    if missing:
        shown = ", ".join(repr(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InvalidInput(
            f"cannot settle {what}: {len(missing)} consumed source(s) have contributors but no "
            f"compensation terms: {shown}"
        )


def split(total_minor: int, src: SourceTerms) -> list[tuple[int, int]]:
    """(contributor id, minor units) for each payee of ``src``, parts summing to the total.

    One largest-remainder allocation over every payee, in contributor id order, so a source
    is still rounded once. With ``pay_authors`` = s and T tokens consumed (``Ta`` of them from
    records with an author), author i weighs s x t_i and contributor j (T - s x Ta) x share_j:
    the authors take s of the amount by tokens, the source-level contributors the rest, with
    the tokens of records without an author. Without source-level contributors the authors
    share it all by tokens.
    """
    weights = _weights(src)
    if not weights:
        return []
    order = sorted(weights)
    parts = allocate(total_minor, [weights[cid] for cid in order])
    return list(zip(order, parts, strict=True))


def _weights(src: SourceTerms) -> dict[int, Decimal]:
    pay = src.pay_authors
    authored = sum(src.authors.values())
    total = authored + src.unauthored
    if pay is None or total == 0:
        return {cid: share for cid, share in src.shares}
    with decimal.localcontext(EXACT):
        if not src.shares:
            return {cid: Decimal(t) for cid, t in src.authors.items()} if authored else {}
        out: dict[int, Decimal] = defaultdict(Decimal)
        for cid, tokens in src.authors.items():
            out[cid] += pay * tokens
        rest = total - pay * authored
        for cid, share in src.shares:
            out[cid] += rest * share
        return dict(out)
