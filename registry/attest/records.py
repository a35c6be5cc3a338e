"""Signing and storing attestations: at manifest freeze, when a run records weights, at publishing.

Each ``attest_*`` signs only when a key is given or configured (``PROVREG_SIGNING_KEY``) and
returns None otherwise, so a registry without a key works as before. Signing is part of the
caller's transaction: a refused key (loose permissions, not registered) refuses the write it
would have signed, and nothing is changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from manifests.digests import is_hex64
from registry import audit
from registry.attest import statements
from registry.config import get_settings
from registry.db.lookup import resolve_prefix
from registry.db.models import Attestation, Manifest, Tokenizer, TrainingRun, Weights
from registry.db.types import utcnow
from registry.entities.attest import AttestationOut
from registry.errors import InvalidInput, NotFound
from registry.shards.store import hash_file

if TYPE_CHECKING:
    from registry.attest.keys import Signer

NO_KEY = (
    "this registry signs nothing until a signing key is configured: create one (key create) "
    "and set PROVREG_SIGNING_KEY to its private key file"
)


def _signer(session: Session, signer: Signer | None) -> Signer | None:
    if signer is not None:
        return signer
    if not get_settings().signing_key:  # the common case needs no cryptography imported
        return None
    from registry.attest.keys import configured_signer

    return configured_signer(session)


def _existing(session: Session, kind: str, subject: str, key: str) -> Attestation | None:
    return session.scalars(
        select(Attestation)
        .where(
            Attestation.subject_kind == kind,
            Attestation.subject == subject,
            Attestation.key_id == key,
        )
        .order_by(Attestation.created_at.desc())
        .limit(1)
    ).first()


def _store(
    session: Session, kind: str, subject: str, statement: dict[str, object], signer: Signer
) -> AttestationOut:
    existing = _existing(session, kind, subject, signer.key_id)
    if existing is not None:  # one attestation per subject and key: signing again is a no-op
        return _out(existing)
    from registry.attest import dsse  # securesystemslib and cryptography: only when signing

    envelope = dsse.sign(statements.encode(statement), dsse.IN_TOTO, signer)
    row = Attestation(
        digest=hashlib.sha256(envelope).hexdigest(),
        subject_kind=kind,
        subject=subject,
        predicate_type=str(statement["predicateType"]),
        key_id=signer.key_id,
        envelope=envelope,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "attestation.sign",
        "attestation",
        row.digest,
        {"subject_kind": kind, "subject": subject, "key": signer.key_id},
    )
    return _out(row)


def attest_manifest(
    session: Session, digest: str, *, signer: Signer | None = None
) -> AttestationOut | None:
    """Sign the manifest's statement (Merkle root, tree size, use, licences, policy result)."""
    signer = _signer(session, signer)
    if signer is None:
        return None
    row = session.get(Manifest, digest)
    if row is None:
        raise NotFound(f"no manifest {digest}")
    document = json.loads(row.document)
    statement = statements.manifest_statement(document, row.hash, get_settings().registry_id)
    return _store(session, "manifest", row.hash, statement, signer)


def attest_weights(
    session: Session, sha256: str, *, signer: Signer | None = None
) -> AttestationOut | None:
    """Sign SLSA provenance for recorded weights: their run, manifest and parent chain."""
    signer = _signer(session, signer)
    if signer is None:
        return None
    weights = session.get(Weights, sha256)
    if weights is None:
        raise NotFound(f"no weights with SHA-256 {sha256} are recorded")
    run = session.get_one(TrainingRun, weights.run_id)
    manifest = session.get_one(Manifest, run.manifest_hash)
    trained = session.get(Tokenizer, run.tokenizer)
    statement = statements.weights_statement(
        file_name=os.path.basename(weights.path) or weights.sha256,
        sha256=weights.sha256,
        registry=get_settings().registry_id,
        run_id=run.id,
        manifest=manifest.hash,
        merkle_root=manifest.merkle_root,
        tree_size=manifest.shard_count,
        config=json.loads(run.config),
        seed=run.seed,
        tokenizer=run.tokenizer,
        tokenizer_manifest=trained.manifest_hash if trained is not None else None,
        code_version=run.code_version,
        started=run.started_at,
        finished=run.finished_at or utcnow(),
        parent=_parent(session, run, signer),
    )
    return _store(session, "weights", weights.sha256, statement, signer)


def _parent(session: Session, run: TrainingRun, signer: Signer) -> dict[str, str] | None:
    """The parent run's newest weights and their attestation (signed now if they had none)."""
    if run.parent_run_id is None:
        return None
    parent_weights = session.scalars(
        select(Weights)
        .where(Weights.run_id == run.parent_run_id)
        .order_by(Weights.created_at.desc())
        .limit(1)
    ).first()
    if parent_weights is None:
        return None
    parent_attestation = attest_weights(session, parent_weights.sha256, signer=signer)
    if parent_attestation is None:  # pragma: no cover - a signer is given
        return None
    return {
        "run": run.parent_run_id,
        "weights": parent_weights.sha256,
        "attestation": parent_attestation.digest,
    }


def attest_disclosure(
    session: Session,
    *,
    sha256: str,
    fmt: str,
    media_type: str,
    subject_kind: str,
    subject: str,
    signer: Signer | None = None,
) -> AttestationOut | None:
    """A detached signature over a published disclosure's bytes (their SHA-256)."""
    signer = _signer(session, signer)
    if signer is None:
        return None
    statement = statements.disclosure_statement(
        sha256=sha256,
        fmt=fmt,
        media_type=media_type,
        subject_kind=subject_kind,
        subject=subject,
        registry=get_settings().registry_id,
    )
    return _store(session, "disclosure", sha256, statement, signer)


# --- reading ------------------------------------------------------------------------------------


def attestation_of(session: Session, kind: str, subject: str) -> AttestationOut:
    """The newest attestation of a subject.

    Raises:
        NotFound: none was signed (saying how to set up signing when no key is configured).
    """
    row = session.scalars(
        select(Attestation)
        .where(Attestation.subject_kind == kind, Attestation.subject == subject)
        .order_by(Attestation.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        hint = "" if get_settings().signing_key else f": {NO_KEY}"
        raise NotFound(f"no attestation of {kind} {subject} was signed{hint}", field="attest.none")
    return _out(row)


def get_attestation(session: Session, digest: str) -> AttestationOut:
    """An attestation by its digest.

    Raises:
        NotFound: no such attestation.
    """
    row = session.get(Attestation, digest)
    if row is None:
        raise NotFound(f"no attestation {digest}")
    return _out(row)


def run_attestation(session: Session, ref: str) -> AttestationOut:
    """The attestation of the newest weights a run wrote.

    Raises:
        NotFound: unknown run, no weights, or no attestation.
    """
    run_id = resolve_prefix(session, TrainingRun.id, ref, "run")
    weights = session.scalars(
        select(Weights).where(Weights.run_id == run_id).order_by(Weights.created_at.desc()).limit(1)
    ).first()
    if weights is None:
        raise NotFound(f"run {run_id} has recorded no weights")
    return attestation_of(session, "weights", weights.sha256)


def manifest_attestation(session: Session, ref: str) -> AttestationOut:
    digest = resolve_prefix(session, Manifest.hash, ref, "manifest")
    return attestation_of(session, "manifest", digest)


def resolve_attestation(session: Session, ref: str) -> AttestationOut:
    """A weights file's path, a weights SHA-256, a run or a manifest (id or unique prefix) ->
    its attestation (a run's: that of its newest weights).

    Raises:
        NotFound: none of those, or no attestation of it. InvalidInput: an ambiguous prefix.
    """
    if os.path.isfile(ref):
        digest, _ = hash_file(ref)
        if session.get(Weights, digest) is None:
            raise NotFound(f"the weights file {ref} (SHA-256 {digest}) is not recorded here")
        return attestation_of(session, "weights", digest)
    if is_hex64(ref) and session.get(Weights, ref) is not None:
        return attestation_of(session, "weights", ref)
    try:
        return run_attestation(session, ref)
    except (NotFound, InvalidInput) as exc:
        if isinstance(exc, NotFound) and exc.field == "attest.none":
            raise
        try:
            return manifest_attestation(session, ref)
        except (NotFound, InvalidInput) as inner:
            if isinstance(inner, NotFound) and inner.field == "attest.none":
                raise
            raise NotFound(
                f"{ref!r} names no weights file, weights SHA-256, run or manifest here"
            ) from exc


def _out(row: Attestation) -> AttestationOut:
    return AttestationOut(
        digest=row.digest,
        subject_kind=row.subject_kind,
        subject=row.subject,
        predicate_type=row.predicate_type,
        key_id=row.key_id,
        created_at=row.created_at,
        envelope=row.envelope,
    )
