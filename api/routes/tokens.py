"""``/tokens``: admin-only listing and revocation. Tokens are made with ``provreg token``.

Revoking here evicts the token from this process's auth cache at once; other processes stop
accepting it within ``api.caches.TOKEN_TTL_S`` seconds.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request

from api.deps import AdminDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry import auth
from registry.entities.auth import TokenOut

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=Page[TokenOut], responses=responses(401, 403, 422))
def list_tokens(session: SessionDep, _: AdminDep, page: PageDep) -> Page[TokenOut]:
    """Every token by name, revoked ones included; never a token or its hash."""
    return paginate(lambda **kw: auth.list_tokens(session, **kw), page, key=lambda r: r.name)


@router.post(
    "/{name}/revoke", response_model=TokenOut, responses=responses(401, 403, 404, 409, 422)
)
def revoke_token(
    name: str, request: Request, after: BackgroundTasks, session: SessionDep, _: AdminDep
) -> TokenOut:
    """Revoke a token (admin): from now on it authenticates nothing."""
    out = auth.revoke_token(session, name)
    cache = request.app.state.token_cache
    cache.evict(out.name)  # the name as stored (NFC)
    after.add_task(
        cache.evict, out.name
    )  # again after the commit: a request in between re-cached it
    return out
