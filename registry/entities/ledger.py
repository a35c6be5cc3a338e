"""What the ledger hands out: frozen pydantic models (amounts in integer minor units).

Kept apart from ``entities.py`` so the ledger's shapes live next to the ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import computed_field

from registry.entities import Entity


class Money(Entity):
    """An exact amount: ``amount_minor`` minor units of ``currency`` (1234 EUR = 12.34 EUR)."""

    currency: str
    amount_minor: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def formatted(self) -> str:
        # Imported here: ``registry.ledger`` imports these entities when it is first imported.
        from registry.ledger.money import format_minor

        return format_minor(self.amount_minor, self.currency)


class LedgerEntryOut(Entity):
    id: int
    key: str
    run_id: str | None
    pool_id: int | None
    source_id: int
    source: str
    contributor_id: int
    contributor: str
    terms_model: str
    currency: str
    amount_minor: int
    kind: str
    reverses_id: int | None
    note: str | None
    created_at: datetime


class SourceSettlementOut(Entity):
    """How one source consumed by a run was priced (``amount_minor`` is after the one rounding)."""

    source_id: int
    source: str
    terms_model: str | None
    currency: str | None
    tokens: int
    amount_minor: int
    contributors: int
    note: str | None = None


class SettlementOut(Entity):
    run_id: str
    manifest_hash: str
    already_settled: bool
    entries_added: int
    entries_existing: int
    sources: tuple[SourceSettlementOut, ...]
    totals: tuple[Money, ...]


class PoolOut(Entity):
    id: int
    manifest_hash: str
    amount: Decimal
    currency: str
    created_at: datetime


class PoolSettlementOut(Entity):
    pool_id: int
    manifest_hash: str
    already_settled: bool
    entries_added: int
    total: Money
    sources: tuple[SourceSettlementOut, ...]


class CorrectionOut(Entity):
    reversal: LedgerEntryOut
    charge: LedgerEntryOut


class RunSubtotal(Entity):
    run_id: str | None
    pool_id: int | None
    currency: str
    amount_minor: int
    entries: int
    tokenizer: str | None = None  # a run's: the tokens it was priced by are counted in it
    record_tokens: int | None = None  # tokens the run consumed from this contributor's records


class SourceSubtotal(Entity):
    source_id: int
    source: str
    currency: str
    amount_minor: int
    entries: int


class StatementOut(Entity):
    contributor: str
    date_from: date | None
    date_to: date | None
    entries: tuple[LedgerEntryOut, ...]
    by_run: tuple[RunSubtotal, ...]
    by_source: tuple[SourceSubtotal, ...]
    totals: tuple[Money, ...]


class LedgerSummaryOut(Entity):
    entries: int
    contributors_compensated: int
    totals: tuple[Money, ...]
    by_source: tuple[SourceSubtotal, ...]
    by_run: tuple[RunSubtotal, ...]


class PublicAggregateOut(Entity):
    """Safe to publish: counts and totals, never an individual contributor's amount."""

    manifest_hash: str | None
    contributors_compensated: int
    totals: tuple[Money, ...]


class RecordUsageOut(Entity):
    """One of the contributor's records a run consumed, and how many of its tokens."""

    record_id: str
    url: str | None
    source: str
    author: str
    tokens: int


class RunUsageOut(Entity):
    """What one run consumed of the contributor's records (under one manifest)."""

    run_id: str
    manifest_hash: str
    tokens: int
    records: tuple[RecordUsageOut, ...]


class UsageOut(Entity):
    """A contributor's usage: per settled run, the records of theirs it consumed, exactly."""

    contributor: str
    tokens: int
    runs: tuple[RunUsageOut, ...]
