"""What the catalogue services take and return: licences, contributors, sources."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from registry import limits
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
    crawler: str | None = None
    pay_authors: Decimal | None = None
    contributors: tuple[ShareOut, ...]
    terms: TermsOut | None
    created_at: datetime


class AuthorLinkOut(Entity):
    """An author key now paid as ``contributor`` (``was``: whom it paid before)."""

    source: str
    author: str
    contributor: str
    was: str | None


class ShareIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    contributor: str = Field(min_length=1, max_length=limits.NAME)
    share: Decimal = Field(description="more than 0; shares sum to exactly 1")


class TermsIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str = Field(max_length=20)
    amount: Decimal | None = None
    currency: str | None = Field(default=None, max_length=10)


class SourceIn(BaseModel):
    """A source to register, as the CLI and the API take it. The lengths are the columns'
    (``registry.limits``); ``registry.catalogue.sources.add_source`` checks them again, with
    the name rule (``registry.names``), for any other caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=limits.NAME)
    uri: str = Field(min_length=1, max_length=limits.URI)
    kind: str = Field(max_length=30)
    licence: str = Field(max_length=limits.LICENCE)
    contributors: list[ShareIn] = Field(default_factory=list, max_length=10_000)
    terms: TermsIn | None = None
    collected_from: date | None = None
    collected_to: date | None = None
    jurisdiction: str | None = Field(default=None, max_length=limits.JURISDICTION)
    tdm_checked: bool = False
    tdm_respected: bool = False
    pii: bool = False
    pii_measures: str | None = Field(default=None, max_length=limits.LONG_TEXT)
    consent_status: str = Field(default="unknown", max_length=20)
    description: str | None = Field(default=None, max_length=limits.LONG_TEXT)
    crawler: str | None = Field(
        default=None,
        max_length=limits.NAME,
        description="the crawler's user-agent product token (RFC 9309), whose robots.txt "
        "group applies to this source's URLs",
    )
    pay_authors: Decimal | None = Field(
        default=None,
        description="share in (0, 1] of what the source earns paid to its records' authors "
        "by tokens consumed; the contributors' shares then sum to 1 over the rest",
    )


class ContributorIn(BaseModel):
    """A contributor to register, as the API receives it; the service checks the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=limits.NAME)
    kind: str = Field(default="person", max_length=20)
    contact: str | None = Field(default=None, max_length=limits.CONTACT)
    payout_ref: str | None = Field(default=None, max_length=limits.PAYOUT_REF)
