"""One router per resource; ``ROUTERS`` is what ``create_app`` includes, in this order.

To add a resource: write ``api/routes/<resource>.py`` with ``router = APIRouter(prefix=...,
tags=[...])``, plain ``def`` routes calling registry services, then list it here.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    attest,
    audit,
    contributors,
    datasets,
    disclosures,
    health,
    impact,
    ledger,
    licences,
    manifests,
    runs,
    shards,
    signals,
    sources,
    tokenizers,
    tokens,
)

ROUTERS: list[APIRouter] = [
    health.router,
    licences.router,
    contributors.router,
    sources.router,
    datasets.router,
    shards.router,
    impact.router,  # before manifests: /manifests/{ref}/rebase
    manifests.router,
    runs.manifest_router,
    runs.router,
    ledger.router,
    audit.router,
    tokens.router,
    tokenizers.router,
    attest.router,  # before disclosures: /disclosures/{digest}/signature
    signals.router,
    disclosures.router,
]
