"""``/sources``: where data came from, with licence, contributors' shares and terms."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CuratorDep, ReaderDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry.catalogue import sources
from registry.catalogue.revocation import revoke_source
from registry.entities.catalogue import SourceIn, SourceOut

router = APIRouter(prefix="/sources", tags=["sources"])
AUTH = (401, 403)


@router.post(
    "",
    status_code=201,
    response_model=SourceOut,
    responses=responses(*AUTH, 400, 404, 409, 422),
)
def create_source(spec: SourceIn, session: SessionDep, _: CuratorDep) -> SourceOut:
    """Register a source (curator). 404 names an unknown contributor; 422 a bad licence."""
    return sources.add_source(session, spec)


@router.get("", response_model=Page[SourceOut], responses=responses(*AUTH, 422))
def list_sources(session: SessionDep, _: ReaderDep, page: PageDep) -> Page[SourceOut]:
    """Sources by name."""
    return paginate(lambda **kw: sources.list_sources(session, **kw), page, key=lambda r: r.name)


@router.get("/{name}", response_model=SourceOut, responses=responses(*AUTH, 404, 422))
def get_source(name: str, session: SessionDep, _: ReaderDep) -> SourceOut:
    return sources.get_source(session, name)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="an opt-out, a takedown, ...")


class SourceRevokedOut(BaseModel):
    source: SourceOut
    shards_revoked: int


@router.post(
    "/{name}/revoke",
    response_model=SourceRevokedOut,
    responses=responses(*AUTH, 400, 404, 409, 422),
)
def revoke(name: str, spec: RevokeIn, session: SessionDep, _: CuratorDep) -> SourceRevokedOut:
    """Revoke a source and every active shard of it (curator); nothing is deleted."""
    source, count = revoke_source(session, name, spec.reason)
    return SourceRevokedOut(source=source, shards_revoked=count)
