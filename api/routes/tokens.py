"""``/tokens``: admin-only listing. Tokens are made and revoked with ``provreg token``."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry import tokens
from registry.tokens import TokenOut

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=Page[TokenOut], responses=responses(401, 403, 422))
def list_tokens(session: SessionDep, _: AdminDep, page: PageDep) -> Page[TokenOut]:
    """Every token by name, revoked ones included; never a token or its hash."""
    return paginate(lambda **kw: tokens.list_tokens(session, **kw), page, key=lambda r: r.name)
