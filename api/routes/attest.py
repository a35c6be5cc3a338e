"""Signed statements over HTTP: the public keys and audit checkpoints (public, no token), the
attestations of runs, weights and manifests (readers), and published disclosures' detached
signatures (public, like the disclosures). Envelopes are served byte for byte as stored, so
their SHA-256 (``X-Provreg-Attestation``) is the digest a child attestation names."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import ReaderDep, SessionDep
from api.problems import responses
from api.routes.runs import RunRef, Sha256
from registry.attest import checkpoints, keys, records
from registry.disclosure.publishing import disclosure_signature
from registry.entities.attest import AttestationOut, KeyOut

router = APIRouter(tags=["attestations"])
AUTH = (401, 403)
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
ENVELOPE = {200: {"content": {DSSE_MEDIA_TYPE: {}}, "description": "the DSSE envelope"}}


class CheckpointPublic(BaseModel):
    id: int
    rows: int
    head: str
    at: datetime
    key_id: str
    envelope: dict[str, Any]  # the DSSE envelope, as JSON


def _envelope(att: AttestationOut) -> Response:
    return Response(
        content=att.envelope,
        media_type=DSSE_MEDIA_TYPE,
        headers={"X-Provreg-Attestation": att.digest, "X-Provreg-Key": att.key_id},
    )


@router.get("/keys", response_model=list[KeyOut])
def list_keys(session: SessionDep) -> list[KeyOut]:
    """The registry's public keys (PEM) by key id: what anyone verifies its statements with."""
    return keys.list_keys(session)


@router.get("/audit/checkpoints", response_model=list[CheckpointPublic])
def list_checkpoints(session: SessionDep) -> list[CheckpointPublic]:
    """Every signed audit checkpoint, oldest first: keep one to catch a later truncation."""
    return [
        CheckpointPublic(
            id=c.id,
            rows=c.rows,
            head=c.head,
            at=c.at,
            key_id=c.key_id,
            envelope=json.loads(c.envelope),
        )
        for c in checkpoints.list_checkpoints(session)
    ]


@router.get(
    "/runs/{run}/attestation",
    response_class=Response,
    responses={**ENVELOPE, **responses(*AUTH, 404, 422)},
)
def run_attestation(run: RunRef, session: SessionDep, _: ReaderDep) -> Response:
    """The SLSA provenance of the run's newest weights."""
    return _envelope(records.run_attestation(session, run))


@router.get(
    "/weights/{sha256}/attestation",
    response_class=Response,
    responses={**ENVELOPE, **responses(*AUTH, 404, 422)},
)
def weights_attestation(sha256: Sha256, session: SessionDep, _: ReaderDep) -> Response:
    """The SLSA provenance of a weights file, by its SHA-256."""
    return _envelope(records.attestation_of(session, "weights", sha256))


@router.get(
    "/manifests/{ref}/attestation",
    response_class=Response,
    responses={**ENVELOPE, **responses(*AUTH, 404, 422)},
)
def manifest_attestation(ref: str, session: SessionDep, _: ReaderDep) -> Response:
    """The manifest's signed statement (Merkle root, tree size, use, licences, policy)."""
    return _envelope(records.manifest_attestation(session, ref))


@router.get(
    "/disclosures/{digest}/signature",
    response_class=Response,
    responses={**ENVELOPE, **responses(404, 422)},
)
def disclosure_sig(digest: str, session: SessionDep) -> Response:
    """The detached signature of a published disclosure (over the SHA-256 of its bytes)."""
    return _envelope(disclosure_signature(session, digest))
