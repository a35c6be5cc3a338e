"""``/healthz``: public; says the process is up and its database answers at the right schema."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.problems import responses
from registry.db import migrate

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str
    schema_revision: str | None


@router.get("/healthz", response_model=Health, responses=responses(503))
def healthz(request: Request) -> Health:
    engine = request.app.state.engine
    return Health(
        status="ok",
        database=engine.dialect.name,
        schema_revision=migrate.current_revision(engine),
    )
