"""What the web API accepts and how long it waits: request bodies and connections.

Read from the environment (``PROVREG_*``) by ``provreg serve`` and ``create_app``; every figure
is in ``docs/api.md``. A body's size is checked before its first byte is read, and a body must
keep arriving (``min_body_rate`` after ``body_grace_s``), so neither a large nor a slow request
holds a worker; a connection must send its request headers within ``header_timeout_s`` and is
dropped after ``keep_alive_s`` idle between requests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB: Final = 1024 * 1024
BODY_KIND: Final = "x-provreg-body"
"""``openapi_extra`` key naming a route's body limit: ``json`` (the default) or ``bulk``. The
streamed upload (``PUT /shards/{id}/content``) has its own, ``PROVREG_MAX_UPLOAD_BYTES``."""


class Limits(BaseSettings):
    """The API's bounds on requests; defaults suit a registry behind a normal network."""

    model_config = SettingsConfigDict(env_prefix="PROVREG_", extra="ignore")

    max_body_bytes: int = Field(
        default=1 * MIB, gt=0, description="the largest JSON body of any route but the bulk ones"
    )
    max_bulk_body_bytes: int = Field(
        default=64 * MIB,
        gt=0,
        description="the largest JSON body of POST /shards/bulk, POST /manifests and a run's "
        "progress, complete and fail reports",
    )
    body_grace_s: float = Field(
        default=10.0, gt=0, description="seconds a body may take before the minimum rate applies"
    )
    min_body_rate: int = Field(
        default=16 * 1024,
        gt=0,
        description="bytes per second a body must average after the grace period (else 408)",
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="seconds to send a request's line and headers"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, gt=0, description="the largest request line plus headers (else 431)"
    )
    keep_alive_s: int = Field(
        default=5, gt=0, description="seconds an idle keep-alive connection stays open"
    )

    def body_limit(self, kind: str | None) -> int:
        """The byte limit of a route's body kind (``BODY_KIND``)."""
        return self.max_bulk_body_bytes if kind == "bulk" else self.max_body_bytes


@lru_cache(maxsize=1)
def get_limits() -> Limits:
    return Limits()
