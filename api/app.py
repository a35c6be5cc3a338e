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
from api.caches import DocumentCache, TokenCache
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
token without the role 403.

**Errors** are RFC 9457 `application/problem+json`. **Lists** are keyset-paginated:
`?limit=&after=<next>` gives `{"items": [...], "next": cursor | null}`.
"""


def create_app(engine: Engine | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The API over ``engine`` (default: ``PROVREG_DATABASE_URL``) and the shard store and upload
    limit of ``settings`` (default: the ``PROVREG_*`` environment).

    Raises:
        DatabaseUnavailable: the database cannot be opened.
        SchemaOutOfDate: its schema is not at this code's revision (run ``provreg init``).
    """
    settings = settings or get_settings()
    if engine is None:
        engine = make_engine(settings.database_url)
    ensure_at_head(engine)
    app = FastAPI(title="provreg", version=registry.__version__, description=DESCRIPTION)
    app.state.engine = engine
    app.state.settings = settings
    app.state.store = ShardStore(settings.store)
    app.state.token_cache = TokenCache()
    app.state.documents = DocumentCache()
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.as_problem_json(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
