"""The signals service: record observations as evidence, read them, judge URLs, re-read them.

Callers own the transaction (flush, never commit). Every observation and every re-reading
appends an audit row (``signal.observe``, ``signal.reparse``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from manifests.canonical import compact_json
from registry import audit, limits
from registry.db.chunks import chunked
from registry.db.models import Licence, SignalObservation, SignalParse, Source
from registry.db.types import utcnow
from registry.entities.signals import ObservationDetail, ObservationOut, SignalOut, VerdictOut
from registry.errors import InvalidInput, NotFound
from registry.signals import evaluate, headers, robots, tdmrep
from registry.signals.evaluate import HTML, KINDS, ROBOTS, TDMREP, URL_KINDS
from registry.signals.licence import licence_state
from registry.signals.origins import parse_origin, parse_url
from registry.signals.vocab import CURRENT, VOCABULARIES, parse_statement, vocabulary

VIAS = ("signals add", "signals fetch", "api")


def read(kind: str, raw: bytes, vocab_name: str) -> dict[str, Any]:
    """How bytes of ``kind`` read with a vocabulary: the stored ``parsed`` form."""
    vocab = vocabulary(vocab_name)
    if kind == ROBOTS:
        return robots.summary(raw.decode("utf-8", errors="replace"), vocab)
    if kind == TDMREP:
        return tdmrep.parse_file(raw).as_json()
    if kind == HTML:
        value = tdmrep.from_html(raw)
        return {"tdm-reservation": value.reservation, "tdm-policy": value.policy}
    fields = headers.parse_field_lines(raw.decode("utf-8", errors="replace"))
    out: dict[str, Any] = {"fields": fields}
    if "content-usage" in fields:
        statement = parse_statement(fields["content-usage"].encode(), vocab)
        out["content-usage"] = {**statement.as_json(), "train-ai": statement.training(vocab)}
    tdm = tdmrep.from_headers(fields)
    out["tdm"] = {"tdm-reservation": tdm.reservation, "tdm-policy": tdm.policy}
    return out


def parse_time(text: str, what: str = "an observation time") -> datetime:
    """An ISO 8601 time with a UTC offset (``2026-12-01T10:00:00Z``).

    Raises:
        InvalidInput: not ISO 8601, or without an offset.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{what} must be an ISO 8601 time such as 2026-12-01T10:00:00Z, got {text!r}",
            field="signals.time",
        ) from exc
    if value.tzinfo is None:
        raise InvalidInput(
            f"{what} {text!r} has no UTC offset; add Z or +HH:MM", field="signals.time"
        )
    return value


def _check_time(observed_at: datetime) -> datetime:
    if not isinstance(observed_at, datetime) or observed_at.tzinfo is None:
        raise InvalidInput(
            "an observation time must be an ISO 8601 time with a UTC offset",
            field="signals.observed_at",
        )
    if observed_at > utcnow():
        raise InvalidInput(
            f"observation time {observed_at.isoformat()} is in the future",
            field="signals.observed_at",
        )
    return observed_at


def _where(origin: str, kind: str, url: str | None) -> tuple[str, str | None]:
    """(the URL the bytes came from, the path it describes or None for origin-wide kinds)."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown signal kind {kind!r}; one of {', '.join(KINDS)}")
    if kind in URL_KINDS:
        if url is None:
            raise InvalidInput(
                f"a {kind} observation describes one URL's response: name that URL",
                field="signals.url",
            )
        url_origin, path = parse_url(url)
        if url_origin != origin:
            raise InvalidInput(f"URL {url!r} is not on origin {origin}")
        return url, path
    if url is not None:
        raise InvalidInput(f"a {kind} observation is the origin's own file; it takes no URL")
    return origin + ("/robots.txt" if kind == ROBOTS else tdmrep.WELL_KNOWN), None


def add_observation(
    session: Session,
    *,
    origin: str,
    kind: str,
    raw: bytes,
    observed_at: datetime,
    url: str | None = None,
    via: str = "signals add",
) -> ObservationOut:
    """Record what was observed, as evidence: the bytes, their SHA-256, and how they read.

    A statement that does not parse is evidence too (it reads as no preference); input that
    is not an observation at all is refused with nothing stored.

    Raises:
        InvalidInput: a malformed origin or URL, an unknown kind, a time without offset or in
            the future, header lines that are not ``Name: value`` signal fields, too many bytes.
    """
    origin = parse_origin(origin)
    source_url, path = _where(origin, kind, url)
    observed_at = _check_time(observed_at)
    if len(raw) > limits.SIGNAL_BYTES:
        raise InvalidInput(f"an observation is at most {limits.SIGNAL_BYTES} bytes")
    if via not in VIAS:  # pragma: no cover - callers are ours
        raise InvalidInput(f"unknown way of recording {via!r}")
    parsed = read(kind, raw, CURRENT)  # header lines are checked here
    row = SignalObservation(
        origin=origin,
        kind=kind,
        url=source_url,
        url_path=path,
        observed_at=observed_at,
        sha256=hashlib.sha256(raw).hexdigest(),
        raw=raw,
        parsed=compact_json(parsed),
        vocabulary=CURRENT,
        via=via,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "signal.observe",
        "signal_observation",
        str(row.id),
        {
            "origin": origin,
            "kind": kind,
            "url": source_url,
            "observed_at": observed_at.isoformat(),
            "sha256": row.sha256,
            "vocabulary": CURRENT,
            "via": via,
        },
    )
    return _out(session, row, _latest_parses(session, [row.id]))


def _latest_parses(session: Session, ids: Sequence[int]) -> dict[int, tuple[SignalParse, int]]:
    """Each observation's newest re-reading, and how many it has."""
    out: dict[int, tuple[SignalParse, int]] = {}
    for chunk in chunked(list(ids)):
        rows = session.scalars(
            select(SignalParse)
            .where(SignalParse.observation_id.in_(chunk))
            .order_by(SignalParse.observation_id, SignalParse.id)
        )
        for r in rows:
            count = out[r.observation_id][1] + 1 if r.observation_id in out else 1
            out[r.observation_id] = (r, count)
    return out


def _out(
    session: Session, row: SignalObservation, parses: dict[int, tuple[SignalParse, int]]
) -> ObservationOut:
    latest = parses.get(row.id)
    return ObservationOut(
        id=row.id,
        origin=row.origin,
        kind=row.kind,
        url=row.url,
        observed_at=row.observed_at,
        sha256=row.sha256,
        bytes=len(row.raw),
        vocabulary=latest[0].vocabulary if latest else row.vocabulary,
        parsed=json.loads(latest[0].parsed if latest else row.parsed),
        readings=1 + (latest[1] if latest else 0),
        via=row.via,
        recorded_at=row.recorded_at,
    )


def list_observations(session: Session, origin: str) -> list[ObservationOut]:
    """Every observation of an origin, oldest observed first."""
    origin = parse_origin(origin)
    rows = list(
        session.scalars(
            select(SignalObservation)
            .where(SignalObservation.origin == origin)
            .order_by(SignalObservation.observed_at, SignalObservation.id)
        )
    )
    parses = _latest_parses(session, [r.id for r in rows])
    return [_out(session, r, parses) for r in rows]


def list_origins(session: Session) -> list[tuple[str, int, datetime]]:
    """(origin, observations, latest observation time), by origin."""
    rows = session.execute(
        select(
            SignalObservation.origin,
            func.count(),
            func.max(SignalObservation.observed_at),
        )
        .group_by(SignalObservation.origin)
        .order_by(SignalObservation.origin)
    ).all()
    return [(o, n, at) for o, n, at in rows]


def get_observation(session: Session, observation_id: int) -> ObservationDetail:
    """One observation with its raw text.

    Raises:
        NotFound: no such observation.
    """
    row = session.get(SignalObservation, observation_id)
    if row is None:
        raise NotFound(f"unknown signal observation {observation_id}")
    out = _out(session, row, _latest_parses(session, [row.id]))
    return ObservationDetail(**out.model_dump(), raw_text=row.raw.decode("utf-8", errors="replace"))


def facts(
    session: Session, origins: Iterable[str], at: datetime | None = None
) -> list[evaluate.ObservationFact]:
    """The evaluator's view of the observations of ``origins`` made at or before ``at``."""
    rows: list[SignalObservation] = []
    for chunk in chunked(sorted(set(origins))):
        stmt = select(SignalObservation).where(SignalObservation.origin.in_(chunk))
        if at is not None:
            stmt = stmt.where(SignalObservation.observed_at <= at)
        rows.extend(session.scalars(stmt))
    parses = _latest_parses(session, [r.id for r in rows])
    return [
        evaluate.ObservationFact(
            id=r.id,
            origin=r.origin,
            kind=r.kind,
            observed_at=r.observed_at,
            raw=r.raw,
            vocabulary=parses[r.id][0].vocabulary if r.id in parses else r.vocabulary,
            url_path=r.url_path,
        )
        for r in rows
    ]


def source_licence_signal(session: Session, source: str) -> evaluate.Signal:
    """The source's licence as a signal (disallow, or unknown).

    Raises:
        NotFound: no such source.
    """
    row = session.scalars(select(Source).where(Source.name == source)).first()
    if row is None:
        raise NotFound(f"unknown source {source!r}")
    no_ai = {k: v for k, v in session.execute(select(Licence.spdx_id, Licence.no_ai_training))}
    state, ids = licence_state(row.licence_expression, no_ai)
    detail = f"source {source!r} is licensed {row.licence_expression}; " + (
        f"{', '.join(ids)} forbid(s) AI training" if ids else "no licence forbids AI training"
    )
    return evaluate.Signal(evaluate.LICENCE, state, None, detail)


def _signal_out(s: evaluate.Signal) -> SignalOut:
    return SignalOut(signal=s.signal, state=s.state, observation=s.observation, detail=s.detail)


def check_url(
    session: Session,
    url: str,
    *,
    crawler: str = "*",
    at: datetime | None = None,
    source: str | None = None,
) -> VerdictOut:
    """Judge one URL for AI training by the observations known at ``at`` (default: all).

    Raises:
        InvalidInput: not an absolute http(s) URL, an empty crawler name, a naive time.
        NotFound: an unknown source.
    """
    origin, path = parse_url(url)
    if not crawler.strip() or len(crawler) > limits.LABEL:
        raise InvalidInput(f"a crawler is a user-agent token of 1 to {limits.LABEL} characters")
    if at is not None and at.tzinfo is None:
        raise InvalidInput("a time must carry a UTC offset", field="signals.at")
    rules = evaluate.OriginRules(
        origin, evaluate.in_force(facts(session, [origin], at), at), crawler
    )
    statements = rules.signals(path)
    if source is not None:
        statements.insert(0, source_licence_signal(session, source))
    verdict = evaluate.decide(statements)
    return VerdictOut(
        url=url,
        crawler=crawler,
        at=at,
        state=verdict.state,
        decided_by=_signal_out(verdict.decided_by) if verdict.decided_by else None,
        signals=[_signal_out(s) for s in verdict.signals],
    )


def judge(
    session: Session,
    urls: Iterable[str],
    *,
    crawler: str = "*",
    at: datetime | None = None,
    source: str | None = None,
) -> evaluate.Judge:
    """A bulk judge over the origins of ``urls`` (``Judge.judge`` each URL).

    Raises:
        InvalidInput: a URL that is not absolute http(s).
    """
    origins = {evaluate.Judge([], crawler, None).split(u)[0] for u in urls}
    licence = source_licence_signal(session, source) if source is not None else None
    return evaluate.Judge(facts(session, origins, at), crawler, at, licence)


def reparse(session: Session, vocab_name: str, origin: str | None = None) -> int:
    """Read the stored bytes of every observation (of ``origin``) with ``vocab_name``; each one
    whose latest reading used another vocabulary gets a new reading. Returns how many.

    Raises:
        InvalidInput: an unknown vocabulary or a malformed origin.
    """
    if vocab_name not in VOCABULARIES:
        raise InvalidInput(
            f"unknown vocabulary {vocab_name!r}; known: {', '.join(sorted(VOCABULARIES))}",
            field="signals.vocabulary",
        )
    stmt = select(SignalObservation).order_by(SignalObservation.id)
    if origin is not None:
        stmt = stmt.where(SignalObservation.origin == parse_origin(origin))
    rows = list(session.scalars(stmt))
    parses = _latest_parses(session, [r.id for r in rows])
    count = 0
    for r in rows:
        current = parses[r.id][0].vocabulary if r.id in parses else r.vocabulary
        if current == vocab_name:
            continue
        parsed = compact_json(read(r.kind, r.raw, vocab_name))
        session.add(SignalParse(observation_id=r.id, vocabulary=vocab_name, parsed=parsed))
        session.flush()
        audit.record(
            session,
            "signal.reparse",
            "signal_observation",
            str(r.id),
            {"vocabulary": vocab_name, "previous": current},
        )
        count += 1
    return count
