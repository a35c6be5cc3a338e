"""``/datasets``: named, versioned sets of shards. Curators declare them; read tokens read them.

A dataset name may hold ``/``, so a version has its own path segment:
``/datasets/{name}/versions/{version}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CuratorDep, ReaderDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry.entities.shards import DatasetOut
from registry.shards import datasets

router = APIRouter(prefix="/datasets", tags=["datasets"])
AUTH = (401, 403)


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="letters, digits and . _ / -")
    version: str = Field(default=datasets.DEFAULT_VERSION, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=10_000)


@router.post(
    "", status_code=201, response_model=DatasetOut, responses=responses(*AUTH, 400, 409, 422)
)
def create_dataset(spec: DatasetIn, session: SessionDep, _: CuratorDep) -> DatasetOut:
    """Declare an empty dataset version (curator); shards are linked when registered."""
    return datasets.create_dataset(session, spec.name, spec.version, spec.description)


@router.get("", response_model=Page[DatasetOut], responses=responses(*AUTH, 422))
def list_datasets(session: SessionDep, _: ReaderDep, page: PageDep) -> Page[DatasetOut]:
    """Dataset versions by name, then version, with their totals."""
    return paginate(
        lambda **kw: datasets.list_datasets(session, **kw),
        page,
        key=lambda d: [d.name, d.version],
        key_type=tuple[str, str],
    )


@router.get(
    "/{name:path}/versions/{version}",
    response_model=DatasetOut,
    responses=responses(*AUTH, 404, 422),
)
def get_dataset(
    name: Annotated[str, Path(min_length=1, max_length=200)],
    version: Annotated[str, Path(min_length=1, max_length=50)],
    session: SessionDep,
    _: ReaderDep,
) -> DatasetOut:
    """One dataset version with its totals."""
    return datasets.get_dataset(session, f"{name}@{version}")
