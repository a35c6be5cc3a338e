"""``/manifests``: create (curator), list, read, page through shards, prove and verify.

``GET /manifests/{hash}/document`` is the hot read (trainers and auditors fetch it): the bytes
are immutable and content-addressed, so it is ``async def`` and answers from
``api.caches.DocumentCache`` and the token cache without a thread-pool hop or a query; a miss
costs one ``run_in_threadpool`` call.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import Engine

from api.caches import DocumentCache
from api.deps import BareReaderDep, CuratorDep, ReaderDep, SessionDep
from api.limits import BODY_KIND
from api.pagination import Page, PageDep, paginate
from api.problems import responses
from registry import manifests
from registry.db.engine import transaction
from registry.entities.manifests import (
    ManifestIn,
    ManifestOut,
    ManifestSummary,
    ShardLine,
    VerifyReport,
)

router = APIRouter(prefix="/manifests", tags=["manifests"])
AUTH = (401, 403)
IMMUTABLE = "public, max-age=31536000, immutable"


class InclusionProofOut(BaseModel):
    """An RFC 6962 audit path; check it offline against the document's ``merkle`` field."""

    algorithm: str
    shard: str
    leaf_index: int
    tree_size: int
    path: list[str]
    root: str
    record_root: str | None = None
    """In a ``provreg.manifest/2`` manifest: the leaf is the shard id, then this."""


class RecordProofOut(BaseModel):
    """Record -> shard record root -> manifest root; check it with ``record verify-proof``
    or the steps in ``docs/manifest-format.md``."""

    format: str
    algorithm: str
    record_leaf: str
    manifest: str
    record: str
    url: str | None
    shard: str
    record_index: int
    record_count: int
    record_path: list[str]
    record_root: str
    leaf_index: int
    leaf_count: int
    manifest_path: list[str]
    manifest_root: str


def _summary(m: ManifestOut) -> ManifestSummary:
    return ManifestSummary(**m.model_dump(exclude={"document"}))


@router.post(
    "",
    status_code=201,
    response_model=ManifestSummary,
    responses={
        200: {"model": ManifestSummary, "description": "the same manifest already exists"},
        **responses(*AUTH, 400, 404, 408, 409, 413, 422),
    },
    openapi_extra={BODY_KIND: "bulk"},
)
def create_manifest(
    spec: ManifestIn, response: Response, session: SessionDep, _: CuratorDep
) -> ManifestSummary:
    """Freeze a manifest (curator). 403 with ``violations`` when the licence policy refuses it;
    409 when its name is taken by a different manifest; the same request again is a 200."""
    out, created = manifests.create_or_match_manifest(session, spec)
    if not created:
        response.status_code = 200
    return _summary(out)


@router.get("", response_model=Page[ManifestSummary], responses=responses(*AUTH, 422))
def list_manifests(session: SessionDep, _: ReaderDep, page: PageDep) -> Page[ManifestSummary]:
    """Manifests by hash."""
    found = paginate(
        lambda **kw: manifests.list_manifests(session, **kw), page, key=lambda m: m.hash
    )
    return Page[ManifestSummary](items=[_summary(m) for m in found.items], next=found.next)


@router.get("/{ref}", response_model=ManifestSummary, responses=responses(*AUTH, 404, 422))
def get_manifest(ref: str, session: SessionDep, _: ReaderDep) -> ManifestSummary:
    """A manifest by hash, unique hash prefix or name."""
    return _summary(manifests.get_manifest(session, ref))


def _load_document(engine: Engine, ref: str) -> tuple[str, bytes]:
    with transaction(engine, actor="anonymous", write=False) as session:
        return manifests.manifest_document(session, ref)


@router.get(
    "/{ref}/document",
    response_class=Response,
    responses={
        200: {
            "description": "the canonical document bytes (ETag: the manifest hash)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **responses(*AUTH, 404, 422),
    },
)
async def get_document(ref: str, request: Request, _: BareReaderDep) -> Response:
    """The canonical document exactly as stored (its SHA-256 is the manifest hash); immutable."""
    cache: DocumentCache = request.app.state.documents
    cached = cache.get(ref)
    if cached is None:
        digest, body = await run_in_threadpool(_load_document, request.app.state.engine, ref)
        cache.put(digest, body)
    else:
        digest, body = ref, cached
    headers = {"ETag": f'"{digest}"', "Cache-Control": IMMUTABLE}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/{ref}/shards", response_model=Page[ShardLine], responses=responses(*AUTH, 404, 422))
def list_shards(ref: str, session: SessionDep, _: ReaderDep, page: PageDep) -> Page[ShardLine]:
    """The manifest's shards by id (the Merkle leaf order)."""
    digest = manifests.manifest_row(session, ref).hash
    return paginate(
        lambda **kw: list(manifests.shard_lines(session, digest, **kw)), page, key=lambda s: s.id
    )


@router.get(
    "/{ref}/proof/{shard}",
    response_model=InclusionProofOut,
    response_model_exclude_none=True,
    responses=responses(*AUTH, 404, 409, 422),
)
def prove(ref: str, shard: str, session: SessionDep, _: ReaderDep) -> InclusionProofOut:
    """An inclusion proof of ``shard`` (id or unique prefix) in the manifest."""
    return InclusionProofOut(**manifests.prove(session, ref, shard).to_dict())


@router.get(
    "/{digest}/records/proof",
    response_model=RecordProofOut,
    responses=responses(404, 409, 422),
)
def prove_record(
    digest: str,
    request: Request,
    session: SessionDep,
    url: str | None = None,
    record: str | None = None,
) -> RecordProofOut:
    """Public, no token: the proof that a record (``url=`` or ``record=``) is in a published
    manifest. Unknown and unpublished manifests get the same 404; an absent record gets 404
    "not in this manifest" and nothing else."""
    from registry.proofs.records import prove_record, published_manifest

    row = published_manifest(session, digest)
    proof = prove_record(session, request.app.state.store, row, record=record, url=url)
    return RecordProofOut(**proof.to_dict())


@router.get("/{ref}/verify", response_model=VerifyReport, responses=responses(*AUTH, 404, 422))
def verify(ref: str, session: SessionDep, _: ReaderDep) -> VerifyReport:
    """Recompute the hash, Merkle root and totals from the stored rows (200 with ``ok``)."""
    return manifests.verify_manifest(session, ref)
