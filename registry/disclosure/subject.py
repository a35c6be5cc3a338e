"""What a disclosure is about: a manifest, a training run or a weights file, and its manifests.

For a run or weights file the training content is every manifest in the run's chain (continued
training: the run, its parent run, ...), oldest first. ``as_of`` is the subject's own declared
time (the manifest's ``created_at``, the run's ``finished_at``, the weights' ``created_at``),
never "now", so a disclosure is a function of the registry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from manifests.document import format_timestamp
from manifests.errors import StampError
from registry.db.models import Manifest, TrainingRun, Weights
from registry.errors import IntegrityFailure, InvalidInput, NotFound
from registry.manifests import manifest_row
from registry.runs import read_stamp
from registry.shards.store import hash_file


@dataclass(frozen=True)
class Subject:
    kind: str  # manifest | run | weights
    id: str
    manifest: Manifest
    chain: tuple[Manifest, ...]  # training content, oldest first
    runs: tuple[TrainingRun, ...]
    weights: tuple[Weights, ...]
    as_of: str  # RFC 3339 UTC


def resolve_subject(session: Session, ref: str) -> Subject:
    """A weights file path, a run id, or a manifest (hash, prefix, name), tried in that order.

    Raises:
        NotFound: nothing of the kind; InvalidInput: an unreadable stamp or a bad prefix.
        IntegrityFailure: a weights file whose stamp disagrees with the registry.
    """
    ref = ref.strip()
    if not ref:
        raise InvalidInput("the subject is empty: give a manifest, a run id or a weights file")
    if os.sep in ref or ref.endswith(".safetensors") or Path(ref).is_file():
        path = Path(ref)
        if not path.is_file():
            raise NotFound(f"no weights file at {ref}")
        return _weights_subject(session, path)
    run = session.get(TrainingRun, ref)
    if run is not None:
        return _run_subject(session, "run", run.id, run)
    manifest = manifest_row(session, ref)
    return Subject(
        kind="manifest",
        id=manifest.hash,
        manifest=manifest,
        chain=(manifest,),
        runs=(),
        weights=(),
        as_of=declared_created_at(manifest),
    )


def declared_created_at(m: Manifest) -> str:
    """The manifest's declared creation time: its document's (hashed) ``created_at``."""
    return str(json.loads(m.document)["created_at"])


def _run_chain(session: Session, run: TrainingRun) -> list[TrainingRun]:
    """The run and its ancestors (``parent_run_id``), oldest first; a cycle ends the walk."""
    chain = [run]
    seen = {run.id}
    while chain[-1].parent_run_id:
        parent = session.get(TrainingRun, chain[-1].parent_run_id)
        if parent is None or parent.id in seen:
            break
        chain.append(parent)
        seen.add(parent.id)
    return chain[::-1]


def _run_subject(session: Session, kind: str, ident: str, run: TrainingRun) -> Subject:
    runs = _run_chain(session, run)
    hashes = list(dict.fromkeys(r.manifest_hash for r in runs))
    chain = tuple(m for h in hashes if (m := session.get(Manifest, h)) is not None)
    weights = tuple(
        session.scalars(
            select(Weights)
            .where(Weights.run_id.in_([r.id for r in runs]))
            .order_by(Weights.created_at, Weights.sha256)
        )
    )
    as_of = format_timestamp(run.finished_at or run.started_at)
    manifest = session.get(Manifest, run.manifest_hash)
    if manifest is None:  # pragma: no cover - a foreign key
        raise NotFound(f"run {run.id} names unknown manifest {run.manifest_hash}")
    return Subject(
        kind=kind,
        id=ident,
        manifest=manifest,
        chain=chain,
        runs=tuple(runs),
        weights=weights,
        as_of=as_of,
    )


def _weights_subject(session: Session, path: Path) -> Subject:
    """A stamped weights file: trusted only when the registry recorded the same file and stamp."""
    try:
        stamp = read_stamp(path)
    except StampError as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    digest, _ = hash_file(path)
    row = session.get(Weights, digest)
    if row is None:
        raise NotFound(
            f"weights file {path} (sha256 {digest}) is not registered: the registry did not "
            f"stamp it, so its stamp (run {stamp.run}, manifest {stamp.manifest}) is unverified"
        )
    if row.run_id != stamp.run or row.manifest_hash != stamp.manifest:
        raise IntegrityFailure(
            f"weights file {path}: its stamp names run {stamp.run} and manifest "
            f"{stamp.manifest}, the registry recorded run {row.run_id} and manifest "
            f"{row.manifest_hash}"
        )
    run = session.get(TrainingRun, row.run_id)
    if run is None:  # pragma: no cover - a foreign key
        raise NotFound(f"weights {digest} name unknown run {row.run_id}")
    subject = _run_subject(session, "weights", digest, run)
    return replace(subject, as_of=format_timestamp(row.created_at))
