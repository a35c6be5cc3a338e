"""What the API-token service returns: never a token itself, nor its hash."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TokenOut(BaseModel):
    """A token as the registry describes it: never the token itself, nor its hash."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: str
    contributor: str | None
    created_at: datetime
    revoked_at: datetime | None
