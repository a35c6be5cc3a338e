"""``/impact`` (what some records reached) and ``/takedowns`` (taking them out): curators and
admins; ``POST /manifests/{ref}/rebase`` lives here too, beside the takedown it follows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CuratorDep, SessionDep
from api.problems import responses
from registry import limits
from registry.db.engine import transaction
from registry.entities.impact import ImpactReport, TakedownOut
from registry.entities.manifests import ManifestOut
from registry.impact.rebase import rebase
from registry.impact.report import impact
from registry.impact.selectors import one_selector
from registry.impact.takedown import takedown
from registry.shards.store import ShardStore

router = APIRouter(tags=["impact"])
AUTH = (401, 403)
Sel = Annotated[str | None, Query(max_length=2000)]


@router.get("/impact", response_model=ImpactReport, responses=responses(*AUTH, 404, 422))
def get_impact(
    session: SessionDep,
    _: CuratorDep,
    source: Sel = None,
    shard: Sel = None,
    domain: Sel = None,
    url: Sel = None,
    author: Sel = None,
    record: Sel = None,
) -> ImpactReport:
    """Everything the records one selector names reached (curator or admin)."""
    kind, value = one_selector(
        source=source, shard=shard, domain=domain, url=url, author=author, record=record
    )
    return impact(session, kind, value)


class TakedownIn(BaseModel):
    """One selector (shard, domain, url, author as SOURCE:KEY, or record), a reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shard: str | None = Field(default=None, max_length=64)
    domain: str | None = Field(default=None, max_length=255)
    url: str | None = Field(default=None, max_length=limits.PATH)
    author: str | None = Field(default=None, max_length=401)
    record: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=limits.REASON)
    dry_run: bool = False


@router.post(
    "/takedowns",
    response_model=TakedownOut,
    status_code=201,
    responses=responses(*AUTH, 400, 404, 409, 422)
    | {200: {"model": TakedownOut, "description": "a dry run: planned, nothing changed"}},
)
def post_takedown(
    spec: TakedownIn, request: Request, response: Response, token: CuratorDep
) -> TakedownOut:
    """Apply a takedown in one transaction (201), or plan it with ``dry_run`` (200)."""
    kind, value = one_selector(
        shard=spec.shard, domain=spec.domain, url=spec.url, author=spec.author, record=spec.record
    )
    store: ShardStore = request.app.state.store
    # its own transaction inside the store's tracking: files of a failed commit are removed
    with (
        store.track(),
        transaction(request.app.state.engine, actor=token.name, write=not spec.dry_run) as s,
    ):
        out = takedown(s, store, kind, value, spec.reason, dry_run=spec.dry_run)
    if out.dry_run:
        response.status_code = 200
    return out


class RebaseIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    intended_use: str | None = Field(default=None, max_length=40)


@router.post(
    "/manifests/{ref}/rebase",
    response_model=ManifestOut,
    status_code=201,
    responses=responses(*AUTH, 400, 404, 409, 422),
)
def post_rebase(ref: str, spec: RebaseIn, session: SessionDep, _: CuratorDep) -> ManifestOut:
    """A child of the manifest with replacements for its taken-down shards (curator)."""
    return rebase(session, ref, spec.name, spec.intended_use)
