"""``/shards``: register shards by id and metadata (one, or many in one transaction), upload
their bytes as a streamed body checked against the id, and read them back.

The upload is ``async def``: it reads the body chunk by chunk and hands each MiB to the thread
pool for hashing and writing, so neither a large body nor the disk stalls the event loop; its
database work is one ``run_in_threadpool`` call per step (check, then keep).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import BareCuratorDep, CuratorDep, ReaderDep, SessionDep
from api.limits import BODY_KIND
from api.problems import responses
from manifests.digests import HEX64
from registry.catalogue.revocation import revoke_shard
from registry.db.engine import transaction
from registry.entities.shards import RegisterReport, ShardIn, ShardOut, UploadOut
from registry.errors import TooLarge
from registry.shards import lookup, registration, uploads
from registry.shards.store import CHUNK, ShardStore
from registry.shards.uploads import UploadSink

router = APIRouter(prefix="/shards", tags=["shards"])
AUTH = (401, 403)
OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
MAX_BULK = 100_000  # shards in one /shards/bulk request
ShardIdPath = Annotated[str, Path(pattern=HEX64, description="the shard id: SHA-256 of its bytes")]
ShardRefPath = Annotated[
    str, Path(min_length=1, max_length=64, description="shard id or a unique prefix (8+ hex)")
]


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shards: list[ShardIn] = Field(min_length=1, max_length=MAX_BULK)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="an opt-out, a takedown, ...")


@router.post(
    "",
    status_code=201,
    response_model=ShardOut,
    responses={
        200: {"model": ShardOut, "description": "already registered alike: nothing changed"},
        **responses(*AUTH, 400, 404, 409, 422),
    },
)
def register_shard(
    spec: ShardIn, request: Request, response: Response, session: SessionDep, _: CuratorDep
) -> ShardOut:
    """Register one shard by id and metadata (curator); upload its bytes later with PUT."""
    report = registration.register_shards(session, request.app.state.store, [spec])
    if not report.registered:
        response.status_code = 200
    return lookup.get_shard(session, spec.id)


@router.post(
    "/bulk",
    status_code=201,
    response_model=RegisterReport,
    responses=responses(*AUTH, 400, 404, 408, 409, 413, 422),
    openapi_extra={BODY_KIND: "bulk"},
)
def register_bulk(
    spec: BulkIn, request: Request, session: SessionDep, _: CuratorDep
) -> RegisterReport:
    """Register many shards in one transaction (curator): all of them, or none."""
    return registration.register_shards(session, request.app.state.store, spec.shards)


@router.get("/{shard}", response_model=ShardOut, responses=responses(*AUTH, 404, 422))
def get_shard(shard: ShardRefPath, session: SessionDep, _: ReaderDep) -> ShardOut:
    """One shard's metadata, by id or unique prefix."""
    return lookup.get_shard(session, shard)


@router.post(
    "/{shard}/revoke", response_model=ShardOut, responses=responses(*AUTH, 400, 404, 409, 422)
)
def revoke(shard: ShardRefPath, spec: RevokeIn, session: SessionDep, _: CuratorDep) -> ShardOut:
    """Revoke a shard (curator): recorded with reason and time; nothing is deleted."""
    return revoke_shard(session, shard, spec.reason)


# --- content ----------------------------------------------------------------------------------


def _check_uploadable(request: Request, shard_id: str) -> None:
    with transaction(request.app.state.engine, actor="anonymous", write=False) as session:
        uploads.check_uploadable(session, shard_id)


def _keep(request: Request, shard_id: str, sink: UploadSink, actor: str) -> UploadOut:
    store: ShardStore = request.app.state.store
    with store.track(), transaction(request.app.state.engine, actor=actor) as session:
        return uploads.store_upload(session, store, shard_id, sink)


async def _receive(request: Request, sink: UploadSink) -> None:
    """Feed the body to ``sink`` a MiB at a time, off the event loop; stop past the limit."""
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if sink.size + len(buf) > sink.limit:
            await run_in_threadpool(sink.write, bytes(buf))  # raises TooLarge
        if len(buf) >= CHUNK:
            await run_in_threadpool(sink.write, bytes(buf))
            buf.clear()
    if buf:
        await run_in_threadpool(sink.write, bytes(buf))


@router.put(
    "/{shard_id}/content",
    status_code=201,
    response_model=UploadOut,
    responses={
        200: {"model": UploadOut, "description": "these bytes were already stored"},
        **responses(*AUTH, 404, 408, 409, 413, 422),
    },
    openapi_extra={
        BODY_KIND: "upload",
        "requestBody": {
            "required": True,
            "description": "the shard's bytes, streamed; their SHA-256 must be the id",
            "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
async def upload_content(
    shard_id: ShardIdPath, request: Request, response: Response, token: BareCuratorDep
) -> UploadOut:
    """Upload a registered shard's bytes (curator). They are hashed as they arrive and kept only
    if they hash to the id and have the registered size: 409 otherwise, and nothing is kept.
    413 past ``PROVREG_MAX_UPLOAD_BYTES``. Uploading stored bytes again is a 200 no-op."""
    limit: int = request.app.state.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the upload ({declared} bytes) is larger than the limit of {limit} bytes")
    await run_in_threadpool(_check_uploadable, request, shard_id)
    sink = await run_in_threadpool(UploadSink, request.app.state.store, limit)
    try:
        await _receive(request, sink)
    except BaseException:
        sink.discard()
        raise
    out = await run_in_threadpool(_keep, request, shard_id, sink, token.name)
    if not out.added:
        response.status_code = 200
    return out


BYTES_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the shard's bytes (ETag: the id)",
        "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _chunks(store: ShardStore, shard_id: str) -> Iterator[bytes]:
    with store.open(shard_id) as f:
        while chunk := f.read(CHUNK):
            yield chunk


@router.get(
    "/{shard}/content",
    response_class=Response,
    responses={**BYTES_RESPONSE, **responses(*AUTH, 404, 422)},
)
def get_content(
    shard: ShardRefPath, request: Request, session: SessionDep, _: ReaderDep
) -> Response:
    """The shard's bytes, streamed; ``ETag`` is the id, so a client can check them. 403 when
    the shard is revoked."""
    store: ShardStore = request.app.state.store
    shard_id, size = uploads.stored_content(session, store, shard)
    headers = {"ETag": f'"{shard_id}"', "Cache-Control": IMMUTABLE}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if store.is_local:
        return FileResponse(store.path_for(shard_id), media_type=OCTETS, headers=headers)
    headers["Content-Length"] = str(size)
    return StreamingResponse(_chunks(store, shard_id), media_type=OCTETS, headers=headers)


@router.head(
    "/{shard}/content",
    response_class=Response,
    responses={200: {"description": "the bytes are stored"}, **responses(*AUTH, 404, 422)},
)
def head_content(
    shard: ShardRefPath, request: Request, session: SessionDep, _: ReaderDep
) -> Response:
    """Whether the shard's bytes are stored: 200 with their length and ETag, else 404."""
    shard_id, size = uploads.stored_content(session, request.app.state.store, shard)
    return Response(
        headers={"Content-Length": str(size), "ETag": f'"{shard_id}"', "Cache-Control": IMMUTABLE},
        media_type=OCTETS,
    )
