"""``/runs`` and ``/weights``: what a remote trainer needs, calling the same services as
``trainer.client.LocalRegistry`` (one request, one transaction), plus the two manifest reads a
trainer makes while training (``manifest_router``: a run's shard status and a manifest's chain).

Trainers (and admins) write; readers read. Progress is idempotent by step
(``registry.runs.record_progress``), and completing or failing a run again with the same report
is a no-op, so a client may retry any of them after a lost answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ReaderDep, SessionDep, TrainerDep
from api.limits import BODY_KIND
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from manifests.digests import HEX64
from registry import limits, manifests, runs
from registry.entities.runs import ConsumptionOut, Progress, RunOut, WeightsOut, WeightsReport
from registry.entities.shards import ManifestShardOut
from registry.shards.resolve import manifest_shard

router = APIRouter(tags=["runs"])
manifest_router = APIRouter(prefix="/manifests", tags=["manifests"])
AUTH = (401, 403)
RunRef = Annotated[
    str, Path(min_length=1, max_length=64, description="run id or a unique prefix (8+ hex)")
]
Sha256 = Annotated[str, Path(pattern=HEX64, description="SHA-256 of the weights file")]


class RunIn(BaseModel):
    """A run to open on a manifest whose policy holds today."""

    model_config = ConfigDict(extra="forbid")

    manifest: str = Field(min_length=1, max_length=200, description="hash, prefix or name")
    config: dict[str, Any] = Field(description="model and training config (JSON)")
    seed: int = Field(ge=0)
    tokenizer: str = Field(min_length=1, max_length=limits.LABEL)
    code_version: str = Field(min_length=1, max_length=limits.LABEL)
    parent_run_id: str | None = Field(
        default=None, max_length=64, description="a completed run whose weights this continues"
    )


class CompleteIn(BaseModel):
    """The last progress report and the stamped weights, recorded with ``completed``."""

    model_config = ConfigDict(extra="forbid")

    progress: Progress
    sha256: str = Field(pattern=HEX64)
    path: str = Field(min_length=1, max_length=limits.PATH)
    bytes: int = Field(ge=0, le=limits.MAX_SAFE_INT)


class FailIn(BaseModel):
    """Why the run stopped, and the steps it took since its last checkpoint (if any)."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(min_length=1, max_length=limits.ERROR)
    progress: Progress | None = None


class WeightsVerifyIn(BaseModel):
    """A weights file as its holder read it: its SHA-256 and its header's ``provreg.*`` entries."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=HEX64)
    stamp: dict[str, str] | None = Field(
        description="the safetensors header metadata (the stamp entries); null if none"
    )
    path: str = Field(default="", max_length=4096, description="for the report only")


# --- runs ---------------------------------------------------------------------------------------


@router.post(
    "/runs", status_code=201, response_model=RunOut, responses=responses(*AUTH, 400, 404, 409, 422)
)
def open_run(spec: RunIn, session: SessionDep, _: TrainerDep) -> RunOut:
    """Open a run (trainer). 403 with ``violations`` when the manifest's policy fails today."""
    return runs.open_run(
        session,
        manifest_ref=spec.manifest,
        config=spec.config,
        seed=spec.seed,
        tokenizer=spec.tokenizer,
        code_version=spec.code_version,
        parent_run_id=spec.parent_run_id,
    )


@router.get("/runs", response_model=Page[RunOut], responses=responses(*AUTH, 404, 422))
def list_runs(
    session: SessionDep,
    _: ReaderDep,
    page: PageDep,
    manifest: Annotated[
        str | None, Query(max_length=200, description="only runs on this manifest")
    ] = None,
) -> Page[RunOut]:
    """Runs by id."""
    return paginate(
        lambda **kw: runs.runs_page(session, manifest=manifest, **kw), page, key=lambda r: r.id
    )


@router.get("/runs/{run}", response_model=RunOut, responses=responses(*AUTH, 404, 422))
def get_run(run: RunRef, session: SessionDep, _: ReaderDep) -> RunOut:
    """A run; ``status`` is ``interrupted`` for a running run whose heartbeat went stale."""
    return runs.get_run(session, run)


@router.get(
    "/runs/{run}/consumption",
    response_model=list[ConsumptionOut],
    responses=responses(*AUTH, 404, 422),
)
def get_consumption(run: RunRef, session: SessionDep, _: ReaderDep) -> list[ConsumptionOut]:
    """Per shard, what the run fed the optimizer as of its last recorded report."""
    return runs.consumption(session, run)


@router.get("/runs/{run}/chain", response_model=list[str], responses=responses(*AUTH, 404, 422))
def run_chain(run: RunRef, session: SessionDep, _: ReaderDep) -> list[str]:
    """The manifests the run's weights were trained on, oldest first (its stamp's chain)."""
    return runs.manifest_chain(session, run)


@router.post(
    "/runs/{run}/resume", response_model=RunOut, responses=responses(*AUTH, 400, 404, 409, 422)
)
def resume_run(run: RunRef, session: SessionDep, _: TrainerDep) -> RunOut:
    """Take over an interrupted run (trainer); 409 if it completed, failed or is alive."""
    return runs.resume_run(session, run)


@router.post(
    "/runs/{run}/progress",
    response_model=RunOut,
    responses=responses(*AUTH, 400, 404, 409, 422),
    openapi_extra={BODY_KIND: "bulk"},  # a report names every shard used since the last one
)
def record_progress(run: RunRef, progress: Progress, session: SessionDep, _: TrainerDep) -> RunOut:
    """Add the consumption since the last report and move the cursor, together (trainer).

    ``steps_done`` must be beyond the recorded steps: the same report again is a no-op (a
    retry), any other report not beyond them is a 409. Nothing is counted twice."""
    return runs.record_progress(session, run, progress)


@router.post(
    "/runs/{run}/heartbeat", status_code=204, responses=responses(*AUTH, 400, 404, 409, 422)
)
def heartbeat(run: RunRef, session: SessionDep, _: TrainerDep) -> Response:
    """Say the run's process is alive (trainer); 409 once it is no longer running."""
    runs.heartbeat(session, run)
    return Response(status_code=204)


@router.post(
    "/runs/{run}/complete",
    response_model=RunOut,
    responses=responses(*AUTH, 400, 404, 409, 422),
    openapi_extra={BODY_KIND: "bulk"},  # a report names every shard used since the last one
)
def complete_run(run: RunRef, spec: CompleteIn, session: SessionDep, _: TrainerDep) -> RunOut:
    """The last progress, the weights' digest and ``completed`` in one transaction (trainer).
    The same request again answers the completed run and changes nothing."""
    return runs.complete_run(
        session, run, spec.progress, sha256=spec.sha256, path=spec.path, size=spec.bytes
    )


@router.post(
    "/runs/{run}/fail",
    response_model=RunOut,
    responses=responses(*AUTH, 400, 404, 409, 422),
    openapi_extra={BODY_KIND: "bulk"},  # a report names every shard used since the last one
)
def fail_run(run: RunRef, spec: FailIn, session: SessionDep, _: TrainerDep) -> RunOut:
    """Record the steps taken since the last checkpoint, then ``failed`` with the reason
    (trainer), in one transaction. The same failure again is a no-op."""
    return runs.fail_run(session, run, spec.error, spec.progress)


@router.post(
    "/runs/{run}/interrupted", response_model=RunOut, responses=responses(*AUTH, 400, 404, 409, 422)
)
def mark_interrupted(run: RunRef, session: SessionDep, _: TrainerDep) -> RunOut:
    """Record that a running run stopped without finishing, so it can be resumed (trainer)."""
    return runs.mark_interrupted(session, run)


# --- weights ------------------------------------------------------------------------------------


@router.post("/weights/verify", response_model=WeightsReport, responses=responses(*AUTH, 400, 422))
def verify_weights(spec: WeightsVerifyIn, session: SessionDep, _: ReaderDep) -> WeightsReport:
    """Check a weights file's digest and stamp against the registry (200 with ``ok`` and
    ``problems``). The caller hashes the file and reads its header; the file never travels."""
    return runs.check_weights(session, spec.sha256, spec.stamp, path=spec.path)


@router.get("/weights/{sha256}", response_model=WeightsOut, responses=responses(*AUTH, 404, 422))
def get_weights(sha256: Sha256, session: SessionDep, _: ReaderDep) -> WeightsOut:
    """The registry's record of a weights file: its run, manifest, path and size."""
    return runs.get_weights(session, sha256)


# --- the manifest reads a trainer makes -----------------------------------------------------------


@manifest_router.get("/{ref}/chain", response_model=list[str], responses=responses(*AUTH, 404, 422))
def manifest_chain(ref: str, session: SessionDep, _: ReaderDep) -> list[str]:
    """The manifest's lineage, oldest first, ending with it."""
    return manifests.lineage(session, ref)


@manifest_router.get(
    "/{ref}/shards/{shard_id}/status",
    response_model=ManifestShardOut,
    responses=responses(*AUTH, 404, 422),
)
def shard_status(
    ref: str,
    shard_id: Annotated[str, Path(pattern=HEX64, description="the shard id")],
    session: SessionDep,
    _: ReaderDep,
) -> ManifestShardOut:
    """A shard of this manifest as the registry stands now: ``revoked`` (with ``reason``) when
    the shard or its source was revoked or opted out. 404 for a shard the manifest does not
    declare: a trainer must not read it."""
    return manifest_shard(session, manifests.manifest_row(session, ref).hash, shard_id)
