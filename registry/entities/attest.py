"""What the attestation services hand out: keys, attestations, checkpoints, verification."""

from __future__ import annotations

from datetime import datetime

from registry.entities import Entity


class KeyOut(Entity):
    """A registered public key; ``key_id`` = SHA-256 of its DER SubjectPublicKeyInfo."""

    key_id: str
    name: str
    algorithm: str
    public_key: str  # PEM
    created_at: datetime


class AttestationOut(Entity):
    """A signed statement about one subject; ``envelope`` is the DSSE JSON, byte for byte, and
    ``digest`` the SHA-256 of those bytes (what a child attestation names)."""

    digest: str
    subject_kind: str  # manifest, weights or disclosure
    subject: str
    predicate_type: str
    key_id: str
    created_at: datetime
    envelope: bytes


class CheckpointOut(Entity):
    """A signed audit checkpoint: the chain had ``rows`` rows ending in ``head`` at ``at``."""

    id: int
    rows: int
    head: str
    at: datetime
    key_id: str
    envelope: bytes


class CheckpointReport(Entity):
    """Whether the current audit chain extends a checkpointed one."""

    ok: bool
    checkpoint_rows: int
    checkpoint_head: str
    rows: int
    head: str
    problem: str | None = None
