"""What the catalogue services take and return: licences, contributors, sources."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

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


class ShareIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    contributor: str
    share: Decimal


class TermsIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    amount: Decimal | None = None
    currency: str | None = None


class SourceIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    uri: str = Field(min_length=1, max_length=2000)
    kind: str
    licence: str = Field(max_length=1000)
    contributors: list[ShareIn] = Field(default_factory=list)
    terms: TermsIn | None = None
    collected_from: date | None = None
    collected_to: date | None = None
    jurisdiction: str | None = Field(default=None, max_length=100)
    tdm_checked: bool = False
    tdm_respected: bool = False
    pii: bool = False
    pii_measures: str | None = None
    consent_status: str = "unknown"
    description: str | None = None


class ContributorIn(BaseModel):
    """A contributor to register, as the API receives it; the service checks the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = "person"
    contact: str | None = Field(default=None, max_length=300)
    payout_ref: str | None = Field(default=None, max_length=200)
