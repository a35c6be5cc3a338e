"""What the signals service hands out: observations (the evidence) and verdicts on URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry import limits
from registry.entities import Entity


class ObservationOut(Entity):
    """One observed signal: where and when, the SHA-256 of its bytes, and its latest reading
    (``parsed`` with ``vocabulary``; ``readings`` counts the readings, the import's first)."""

    id: int
    origin: str
    kind: str
    url: str
    observed_at: datetime
    sha256: str
    bytes: int
    vocabulary: str
    parsed: dict[str, Any]
    readings: int
    via: str
    recorded_at: datetime


class ObservationDetail(ObservationOut):
    """An observation with its raw text (the stored bytes decoded as UTF-8)."""

    raw_text: str


class SignalOut(Entity):
    """One statement about a URL: ``signal`` names the kind of signal, ``observation`` the
    evidence behind it (none for the source's licence)."""

    signal: str
    state: Literal["allow", "disallow", "unknown"]
    observation: int | None
    detail: str


class VerdictOut(Entity):
    """Allowed, disallowed or unknown for AI training, which statement decided, and all of them."""

    url: str
    crawler: str
    at: datetime | None
    state: Literal["allowed", "disallowed", "unknown"]
    decided_by: SignalOut | None
    signals: list[SignalOut]


class ObservationIn(BaseModel):
    """An observation to record over the API: its bytes as text, where and when seen."""

    model_config = ConfigDict(extra="forbid")

    origin: str = Field(min_length=1, max_length=300, description="scheme://host[:port]")
    kind: Literal["robots.txt", "tdmrep.json", "http-header", "html"]
    content: str = Field(
        max_length=limits.SIGNAL_BYTES,
        description="the bytes as text: a file's content, or header field lines 'Name: value'",
    )
    url: str | None = Field(
        default=None, max_length=limits.URI, description="the URL described (header, HTML)"
    )
    observed_at: datetime
