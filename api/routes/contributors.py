"""``/contributors``: curators register them; read tokens read them."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CuratorDep, ReaderDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry.catalogue import contributors
from registry.entities.catalogue import ContributorIn, ContributorOut

router = APIRouter(prefix="/contributors", tags=["contributors"])
AUTH = (401, 403)


@router.post(
    "",
    status_code=201,
    response_model=ContributorOut,
    responses=responses(*AUTH, 400, 409, 422),
)
def create_contributor(spec: ContributorIn, session: SessionDep, _: CuratorDep) -> ContributorOut:
    """Register a contributor (curator)."""
    return contributors.add_contributor(session, **spec.model_dump())


@router.get("", response_model=Page[ContributorOut], responses=responses(*AUTH, 422))
def list_contributors(session: SessionDep, _: ReaderDep, page: PageDep) -> Page[ContributorOut]:
    """Contributors by name."""
    return paginate(
        lambda **kw: contributors.list_contributors(session, **kw), page, key=lambda r: r.name
    )


@router.get("/{name}", response_model=ContributorOut, responses=responses(*AUTH, 404, 422))
def get_contributor(name: str, session: SessionDep, _: ReaderDep) -> ContributorOut:
    return contributors.get_contributor(session, name)
