"""Sources: where data came from, under which licence, from whom, and on what terms.

The request shapes (``SourceIn`` and friends, in ``registry.entities.catalogue``) are the same
for the CLI and the API, so both validate through the same code.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from registry import audit, limits
from registry.catalogue.contributors import contributor_row
from registry.catalogue.licences import known_licence_ids, normalise_expression
from registry.db.models import (
    COMPENSATION_MODELS,
    CONSENT_STATUSES,
    SOURCE_KINDS,
    CompensationTerms,
    Source,
    SourceContributor,
)
from registry.db.paging import keyset
from registry.entities.catalogue import ShareIn, ShareOut, SourceIn, SourceOut, TermsIn, TermsOut
from registry.errors import Conflict, InvalidInput, NotFound
from registry.ledger.money import MAX_SHARE_PLACES, check_currency, parse_decimal
from registry.names import lookup_key, normalise_name

# Adds up to 10**39 shares of MAX_SHARE_PLACES places exactly; a rounding would raise instead.
_EXACT = decimal.Context(
    prec=MAX_SHARE_PLACES + 40, traps=[decimal.Inexact, decimal.InvalidOperation]
)


def parse_share(text: str) -> ShareIn:
    """``alice=0.25`` -> ShareIn; the CLI's spelling of a contributor's share."""
    name, sep, share = text.rpartition("=")
    if not sep or not name.strip():
        raise InvalidInput(f"contributor share {text!r} is not NAME=SHARE (e.g. alice=0.5)")
    value = _share(share, name.strip())
    return ShareIn(contributor=name.strip(), share=value)


def _share(value: str | Decimal, contributor: str) -> Decimal:
    """A share: more than 0, one digit before the point and ``MAX_SHARE_PLACES`` after at most
    (the sum to 1 is checked with the other shares)."""
    return parse_decimal(
        value,
        what=f"share of {contributor!r}",
        allow_zero=False,
        max_value=None,
        max_places=MAX_SHARE_PLACES,
        max_integer_digits=1,
    )


def parse_terms(text: str) -> TermsIn:
    """``per-mtok:1.50:EUR``, ``flat:500:USD``, ``pool:10000:EUR`` or ``none``."""
    parts = text.strip().split(":")
    if parts == ["none"]:
        return TermsIn(model="none")
    if len(parts) != 3:
        raise InvalidInput(
            f"terms {text!r} are not MODEL:AMOUNT:CURRENCY "
            "(per-mtok:1.50:EUR, flat:500:USD, pool:10000:EUR) or none"
        )
    model, amount, currency = parts
    return TermsIn(
        model=model, amount=parse_decimal(amount, what="terms amount"), currency=currency
    )


def _check_shares(shares: list[ShareIn]) -> list[ShareIn]:
    """The shares with their contributors' names normalised; they must sum to exactly 1.

    Each share has at most ``MAX_SHARE_PLACES`` decimal places and is at most 1, so their sum
    has a bounded number of digits and ``_EXACT`` adds them without rounding (Decimal's default
    context rounds at 28 digits and let 0.5 + 0.50000000000000000000000000001 pass).
    """
    seen: set[str] = set()
    out: list[ShareIn] = []
    for s in shares:
        name = normalise_name(s.contributor, "contributor name")
        if name in seen:
            raise InvalidInput(f"contributor {name!r} is listed twice")
        seen.add(name)
        out.append(ShareIn(contributor=name, share=_share(s.share, name)))
    with decimal.localcontext(_EXACT):
        total = sum((s.share for s in out), Decimal(0))
    if out and total != 1:
        raise InvalidInput(
            f"contributor shares must sum to exactly 1, they sum to {total} "
            f"(shares have at most {MAX_SHARE_PLACES} decimal places and are added exactly)"
        )
    return out


def _check_terms(terms: TermsIn) -> TermsIn:
    if terms.model not in COMPENSATION_MODELS:
        raise InvalidInput(
            f"unknown compensation model {terms.model!r}: expected one of {', '.join(COMPENSATION_MODELS)}"
        )
    if terms.model == "none":
        if terms.amount is not None or terms.currency is not None:
            raise InvalidInput("terms 'none' take no amount or currency")
        return terms
    if terms.amount is None or terms.currency is None:
        raise InvalidInput(f"terms {terms.model!r} need an amount and a currency")
    amount = parse_decimal(terms.amount, what="terms amount")
    return TermsIn(model=terms.model, amount=amount, currency=check_currency(terms.currency))


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise InvalidInput(f"unknown {what} {value!r}: expected one of {', '.join(choices)}")


_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]{1,200}")
"""RFC 9309 section 2.2.1: a crawler's product token holds only a-z, A-Z, '_' and '-'."""


def _checked(spec: SourceIn) -> SourceIn:
    """``spec`` with its name and contributors normalised, once every text field is checked
    against its column's size (``registry.limits``) and the shares against their rules."""
    _check_choice(spec.kind, SOURCE_KINDS, "source kind")
    _check_choice(spec.consent_status, CONSENT_STATUSES, "consent status")
    name = normalise_name(spec.name, "source name")
    limits.check_text(spec.uri, "source URI", limits.URI, min_length=1)
    limits.check_text(spec.licence, "licence expression", limits.LICENCE)
    limits.check_optional_text(spec.jurisdiction, "jurisdiction", limits.JURISDICTION)
    limits.check_optional_text(spec.pii_measures, "PII measures", limits.LONG_TEXT)
    limits.check_optional_text(spec.description, "source description", limits.LONG_TEXT)
    if spec.crawler is not None and not _PRODUCT_TOKEN.fullmatch(spec.crawler):
        raise InvalidInput(
            f"crawler {spec.crawler!r} is not a user-agent product token (RFC 9309: letters, "
            "'_' and '-' only)",
            field="source.crawler",
        )
    shares = _check_shares(spec.contributors)
    pay = _check_pay_authors(spec.pay_authors, bool(shares))
    return spec.model_copy(update={"name": name, "contributors": shares, "pay_authors": pay})


def parse_pay_authors(text: str) -> Decimal:
    """``0.7`` -> Decimal, parsed exactly (never through float); checked by ``add_source``."""
    return _pay_share(text)


def _pay_share(value: str | Decimal) -> Decimal:
    try:
        return parse_decimal(
            value,
            what="authors' share (pay authors)",
            allow_zero=False,
            max_value=None,
            max_places=MAX_SHARE_PLACES,
            max_integer_digits=1,
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, field="source.pay_authors") from exc


def _check_pay_authors(value: Decimal | None, has_contributors: bool) -> Decimal | None:
    """The authors' share: in (0, 1], exact; below 1 the rest needs source-level contributors."""
    if value is None:
        return None
    pay = _pay_share(value)
    if pay > 1:
        raise InvalidInput(
            f"authors' share must be in (0, 1], got {pay}", field="source.pay_authors"
        )
    if pay < 1 and not has_contributors:
        raise InvalidInput(
            f"authors take {pay} of the source's earnings: the rest needs source-level "
            "contributors whose shares sum to 1",
            field="source.contributors",
        )
    return pay


def add_source(session: Session, spec: SourceIn) -> SourceOut:
    """Register a source with its contributors' shares and compensation terms.

    Every field is checked here, whoever calls (``_checked``), so the CLI, the API and a script
    meet the same limits with the same message on SQLite and PostgreSQL.

    Raises:
        InvalidInput: a bad name, a text field too long or not storable, a malformed or
            unknown licence, bad shares, terms, kind or dates.
        NotFound: an unknown contributor.
        Conflict: the name is taken.
    """
    spec = _checked(spec)
    licence = normalise_expression(spec.licence, known_licence_ids(session))
    limits.check_text(licence, "licence expression (normalised)", limits.LICENCE)
    terms = _check_terms(spec.terms) if spec.terms else None
    if spec.collected_from and spec.collected_to and spec.collected_from > spec.collected_to:
        raise InvalidInput("collection period ends before it starts")
    name = spec.name
    if session.scalars(select(Source.id).where(Source.name == name)).first() is not None:
        raise Conflict(f"source {name!r} already exists")
    members = [(contributor_row(session, s.contributor), s.share) for s in spec.contributors]

    fields = spec.model_dump(exclude={"contributors", "terms", "licence", "name"})
    row = Source(name=name, licence_expression=licence, **fields)
    session.add(row)
    session.flush()
    for contributor, share in members:
        session.add(SourceContributor(source_id=row.id, contributor_id=contributor.id, share=share))
    if terms:
        session.add(CompensationTerms(source_id=row.id, **terms.model_dump()))
    session.flush()
    audit.record(
        session,
        "source.add",
        "source",
        str(row.id),
        spec.model_dump(
            mode="json",
            exclude={k for k in ("crawler", "pay_authors") if getattr(spec, k) is None},
        )
        | {"licence": licence},
    )
    return source_out(session, row)


def source_row(session: Session, name: str) -> Source:
    """The source named ``name`` (in any Unicode normal form).

    Raises:
        NotFound: no source has that name.
    """
    key = lookup_key(name)
    row = session.scalars(select(Source).where(Source.name == key)).first() if key else None
    if row is None:
        raise NotFound(f"unknown source {name!r}")
    return row


def source_out(session: Session, row: Source) -> SourceOut:
    session.refresh(row, ["contributors", "terms"])
    return _out(row)


def _out(row: Source) -> SourceOut:
    return SourceOut(
        id=row.id,
        name=row.name,
        uri=row.uri,
        kind=row.kind,
        licence=row.licence_expression,
        collected_from=row.collected_from,
        collected_to=row.collected_to,
        jurisdiction=row.jurisdiction,
        tdm_checked=row.tdm_checked,
        tdm_respected=row.tdm_respected,
        pii=row.pii,
        pii_measures=row.pii_measures,
        consent_status=row.consent_status,
        status=row.status,
        revoked_reason=row.revoked_reason,
        revoked_at=row.revoked_at,
        description=row.description,
        crawler=row.crawler,
        pay_authors=row.pay_authors,
        contributors=tuple(
            ShareOut(contributor=m.contributor.name, share=m.share) for m in row.contributors
        ),
        terms=TermsOut.model_validate(row.terms) if row.terms else None,
        created_at=row.created_at,
    )


def get_source(session: Session, name: str) -> SourceOut:
    """One source with its contributors and terms, loaded in three queries.

    Raises:
        NotFound: no source has that name.
    """
    key = lookup_key(name)
    query = _with_members(select(Source)).where(Source.name == key)
    row = session.scalars(query).first() if key else None
    if row is None:
        raise NotFound(f"unknown source {name!r}")
    return _out(row)


def _with_members(stmt: Select[Source]) -> Select[Source]:
    return stmt.options(
        selectinload(Source.contributors).selectinload(SourceContributor.contributor),
        selectinload(Source.terms),
    )


def list_sources(
    session: Session, *, after: str | None = None, limit: int | None = None
) -> list[SourceOut]:
    """Sources by name; ``after``/``limit`` give one keyset page (see ``registry.paging``)."""
    stmt = _with_members(select(Source))
    rows = session.scalars(keyset(stmt, [Source.name], after=after, limit=limit))
    return [_out(r) for r in rows]
