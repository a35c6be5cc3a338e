"""The web API: ``create_app()`` builds it over one engine; ``provreg serve`` runs it.

Routes live in ``api/routes/`` (one router per resource), call the same registry services as
the CLI, and answer errors as problem+json (``api/problems.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

import registry
from api import problems
from api.bodies import BodyGuard, document_limits
from api.caches import DocumentCache, TokenCache
from api.limits import Limits, get_limits
from api.routes import ROUTERS
from registry.config import Settings, get_settings
from registry.db.engine import make_engine
from registry.db.migrate import ensure_at_head
from registry.shards.store import ShardStore

DESCRIPTION = """\
Dataset provenance and training-manifest registry.

**Auth.** Send `Authorization: Bearer <token>` (make one with `provreg token create`). Writes
need a token with the right role (curators: contributors, sources, datasets, shards, manifests;
trainers: runs and consumption; admin: everything, settling runs included); reads of the
registry need a reader, curator, trainer or admin token; a contributor token reads only its own
contributor's statement. `/healthz` and disclosures are public. No token gives 401, a
token without the role 403. A request with a body is authenticated before its body is read.

**Limits.** A JSON body is at most 1 MiB (64 MiB for `POST /shards/bulk`, `POST /manifests` and a
run's progress, complete and fail reports; a shard upload at most `PROVREG_MAX_UPLOAD_BYTES`):
larger is a 413 before it is read. A body
must keep arriving (after 10 s, at least 16 KiB/s on average) or it is a 408. Text fields are
capped at their stored size, counts at 2^53-1 (shards: 2^40). The figures are the defaults;
`docs/api.md` lists every limit and its setting.

**Errors** are RFC 9457 `application/problem+json`. **Lists** are keyset-paginated:
`?limit=&after=<next>` gives `{"items": [...], "next": cursor | null}`.
"""


def create_app(
    engine: Engine | None = None,
    *,
    settings: Settings | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The API over ``engine`` (default: ``PROVREG_DATABASE_URL``), the shard store and upload
    limit of ``settings`` and the request limits of ``limits`` (default: the ``PROVREG_*``
    environment).

    Raises:
        DatabaseUnavailable: the database cannot be opened.
        SchemaOutOfDate: its schema is not at this code's revision (run ``provreg init``).
    """
    settings = settings or get_settings()
    limits = limits or get_limits()
    if engine is None:
        engine = make_engine(settings.database_url)
    ensure_at_head(engine)
    app = FastAPI(title="provreg", version=registry.__version__, description=DESCRIPTION)
    app.state.engine = engine
    app.state.settings = settings
    app.state.limits = limits
    app.state.store = ShardStore(settings.store)
    app.state.token_cache = TokenCache()
    app.state.documents = DocumentCache()
    problems.install(app)
    app.add_middleware(BodyGuard, limits=limits)
    for router in ROUTERS:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.as_problem_json(document_limits(FastAPI.openapi(app)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
