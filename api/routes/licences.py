"""``/licences``: the seeded SPDX licences and the flags the policy reads. Needs a read token."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReaderDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry.catalogue import licences
from registry.entities.catalogue import LicenceOut

router = APIRouter(prefix="/licences", tags=["licences"])
AUTH = (401, 403)


@router.get("", response_model=Page[LicenceOut], responses=responses(*AUTH, 422))
def list_licences(session: SessionDep, _: ReaderDep, page: PageDep) -> Page[LicenceOut]:
    """Licences by SPDX id."""
    return paginate(
        lambda **kw: licences.list_licences(session, **kw), page, key=lambda r: r.spdx_id
    )


@router.get("/{spdx_id}", response_model=LicenceOut, responses=responses(*AUTH, 404, 422))
def get_licence(spdx_id: str, session: SessionDep, _: ReaderDep) -> LicenceOut:
    return licences.get_licence(session, spdx_id)
