"""``/signals``: opt-out signal observations per origin (readers read, curators record) and the
verdict on a URL for AI training (readers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CuratorDep, ReaderDep, SessionDep
from api.problems import responses
from registry import limits
from registry.entities.signals import (
    ObservationDetail,
    ObservationIn,
    ObservationOut,
    VerdictOut,
)
from registry.signals import observations

router = APIRouter(prefix="/signals", tags=["signals"])
AUTH = (401, 403)


class OriginOut(BaseModel):
    origin: str
    observations: int
    latest_observed_at: datetime


@router.get("/origins", response_model=list[OriginOut], responses=responses(*AUTH))
def list_origins(session: SessionDep, _: ReaderDep) -> list[OriginOut]:
    """Every origin with observations, how many, and the latest observation time."""
    return [
        OriginOut(origin=o, observations=n, latest_observed_at=at)
        for o, n, at in observations.list_origins(session)
    ]


@router.get("/observations", response_model=list[ObservationOut], responses=responses(*AUTH, 422))
def list_observations(
    origin: Annotated[str, Query(max_length=300, description="scheme://host[:port]")],
    session: SessionDep,
    _: ReaderDep,
) -> list[ObservationOut]:
    """An origin's observations, oldest observed first, each with its latest reading."""
    return observations.list_observations(session, origin)


@router.get(
    "/observations/{observation_id}",
    response_model=ObservationDetail,
    responses=responses(*AUTH, 404, 422),
)
def get_observation(observation_id: int, session: SessionDep, _: ReaderDep) -> ObservationDetail:
    """One observation with its raw text."""
    return observations.get_observation(session, observation_id)


@router.post(
    "/observations",
    status_code=201,
    response_model=ObservationOut,
    responses=responses(*AUTH, 400, 422),
)
def add_observation(spec: ObservationIn, session: SessionDep, _: CuratorDep) -> ObservationOut:
    """Record an observed signal (curator): its bytes are stored with their SHA-256."""
    return observations.add_observation(
        session,
        origin=spec.origin,
        kind=spec.kind,
        raw=spec.content.encode(),
        observed_at=spec.observed_at,
        url=spec.url,
        via="api",
    )


@router.get("/check", response_model=VerdictOut, responses=responses(*AUTH, 404, 422))
def check(
    url: Annotated[str, Query(max_length=limits.URI, description="an absolute http(s) URL")],
    session: SessionDep,
    _: ReaderDep,
    crawler: Annotated[str, Query(max_length=limits.LABEL)] = "*",
    at: Annotated[datetime | None, Query(description="judge by what was known then")] = None,
    source: Annotated[str | None, Query(max_length=limits.NAME)] = None,
) -> VerdictOut:
    """Allowed, disallowed or unknown for AI training, and which signal decided."""
    return observations.check_url(session, url, crawler=crawler, at=at, source=source)
