"""What the catalogue services return: licences, contributors, sources."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from registry.entities import Entity


class LicenceOut(Entity):
    spdx_id: str
    name: str
    url: str | None
    family: str
    commercial_use: bool
    derivatives: bool
    attribution: bool
    share_alike: bool
    non_commercial: bool
    no_ai_training: bool


class ContributorOut(Entity):
    id: int
    name: str
    kind: str
    contact: str | None
    payout_ref: str | None
    created_at: datetime


class ShareOut(Entity):
    contributor: str
    share: Decimal


class TermsOut(Entity):
    model: str
    amount: Decimal | None
    currency: str | None


class SourceOut(Entity):
    id: int
    name: str
    uri: str
    kind: str
    licence: str
    collected_from: date | None
    collected_to: date | None
    jurisdiction: str | None
    tdm_checked: bool
    tdm_respected: bool
    pii: bool
    pii_measures: str | None
    consent_status: str
    status: str
    revoked_reason: str | None
    revoked_at: datetime | None
    description: str | None
    contributors: tuple[ShareOut, ...]
    terms: TermsOut | None
    created_at: datetime
