"""The weights a run wrote: recording their digest, reading a file's stamp, and verifying it.

Verification goes both ways: the file's SHA-256 must be one the registry recorded for the run
its stamp names, and that run must have trained on the stamp's manifest (Merkle root, config,
tokenizer, manifest chain). ``verify_weights_offline`` is what the file alone can show.

A weights file is read here without torch: its stamp through ``safetensors`` (the header's
metadata), its tensors by their raw bits (see ``_tensor_problems``), so the registry and
``provreg weights verify`` do not need the trainer's dependencies.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any

from safetensors import SafetensorError, safe_open
from sqlalchemy import select
from sqlalchemy.orm import Session

from manifests.digests import is_hex64
from manifests.errors import StampError
from manifests.stamp import PREFIX, WeightsStamp
from registry import audit
from registry.attest.records import attest_weights
from registry.db.models import Tokenizer, TrainingRun, Weights
from registry.entities.runs import WeightsOut, WeightsReport
from registry.errors import Conflict, InvalidInput, NotFound
from registry.manifests import get_manifest, manifest_row
from registry.runs._rows import manifest_chain, run_out, running_row, weights_out
from registry.shards.store import hash_file

# --- the registry's records -------------------------------------------------------------------


def record_weights(session: Session, ref: str, *, sha256: str, path: str, size: int) -> WeightsOut:
    """Record the SHA-256 of a weights file this run stamped.

    Raises:
        InvalidInput: a malformed digest or a negative size.
        Conflict: the run is not running, or the digest is already recorded.
    """
    row = running_row(session, ref)
    if not is_hex64(sha256) or size < 0:
        raise InvalidInput("weights need a lowercase hex SHA-256 and a size >= 0")
    if session.get(Weights, sha256) is not None:
        raise Conflict(f"weights {sha256} are already recorded")
    w = Weights(
        sha256=sha256, run_id=row.id, manifest_hash=row.manifest_hash, path=path, bytes=size
    )
    session.add(w)
    session.flush()
    audit.record(
        session, "weights.record", "weights", sha256, {"run": row.id, "path": path, "bytes": size}
    )
    attest_weights(session, sha256)  # SLSA provenance, signed when a key is configured
    return weights_out(w)


def get_weights(session: Session, sha256: str) -> WeightsOut:
    """The registry's record of a weights file, by its SHA-256.

    Raises:
        InvalidInput: not a lowercase hex SHA-256. NotFound: not recorded here.
    """
    if not is_hex64(sha256):
        raise InvalidInput(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
    w = session.get(Weights, sha256)
    if w is None:
        raise NotFound(f"no weights with SHA-256 {sha256} are recorded")
    return weights_out(w)


# --- reading a file ---------------------------------------------------------------------------


def header_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string entries of a safetensors file's header (no tensor is read).

    Raises:
        FileNotFoundError: no file at ``path``.
        StampError: not a readable safetensors file.
    """
    try:
        with safe_open(os.fspath(path), framework="numpy") as f:
            return dict(f.metadata() or {})
    except SafetensorError as exc:
        raise StampError(f"{os.fspath(path)} is not a readable safetensors file: {exc}") from exc


def read_stamp(path: str | os.PathLike[str]) -> WeightsStamp:
    """The stamp in a weights file's header.

    Raises:
        FileNotFoundError: no file at ``path``.
        StampError: not a safetensors file, no stamp, or a malformed stamp.
    """
    return WeightsStamp.from_metadata(header_metadata(path))


def read_weights_header(path: str) -> tuple[str, dict[str, str] | None, list[str]]:
    """The file part of verification: its SHA-256 and its header metadata (the stamp entries).

    Returns (digest, metadata or None, problems): an unreadable header is a problem, not an
    error, so a report can still name the file's digest.

    Raises:
        NotFound: no file at ``path``.
    """
    if not os.path.isfile(path):
        raise NotFound(f"no weights file at {path}")
    digest, _ = hash_file(path)
    try:
        return digest, header_metadata(path), []
    except StampError as exc:
        return digest, None, [str(exc)]


def stamp_entries(metadata: Mapping[str, str]) -> dict[str, str]:
    """The stamp's own entries of a header (``provreg.*``): what a client sends to be checked."""
    return {k: v for k, v in metadata.items() if k.startswith(PREFIX)}


def _parse_stamp(
    metadata: Mapping[str, str] | None,
) -> tuple[WeightsStamp | None, dict[str, Any] | None, list[str]]:
    """The stamp, the stamp as JSON (without the ``provreg.`` prefix), and problems."""
    try:
        stamp = WeightsStamp.from_metadata(metadata)
    except StampError as exc:
        return None, None, [str(exc)]
    data = {k.removeprefix(PREFIX): v for k, v in stamp.to_metadata().items()}
    return stamp, data, []


# Per float dtype of the safetensors format: the unsigned view of one element and the bits that
# are all set exactly when it is NaN or infinite (its exponent; for F8_E4M3 exponent and
# mantissa, its only NaN). numpy has no bfloat16 or float8, so every float is checked this way.
_NON_FINITE = {
    "F64": ("<u8", 0x7FF0_0000_0000_0000),
    "F32": ("<u4", 0x7F80_0000),
    "F16": ("<u2", 0x7C00),
    "BF16": ("<u2", 0x7F80),
    "F8_E5M2": ("u1", 0x7C),
    "F8_E4M3": ("u1", 0x7F),
}
_SCAN = 1 << 24  # bytes read at a time: a multiple of every element size


def _tensor_problems(path: str) -> list[str]:
    """The first tensor (by name) holding NaN or infinity, from the documented layout: an
    8-byte little-endian header length, the JSON header, then the tensors' bytes."""
    import numpy as np  # only for this scan: `provreg --help` need not load it

    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
            start = 8 + size
            for name in sorted(k for k in header if k != "__metadata__"):
                kind = _NON_FINITE.get(header[name]["dtype"])
                if kind is None:  # integers and booleans are always finite
                    continue
                view, mask = np.dtype(kind[0]), kind[1]
                begin, end = header[name]["data_offsets"]
                f.seek(start + begin)
                left = end - begin
                while left > 0:
                    data = f.read(min(left, _SCAN))
                    if len(data) == 0 or len(data) % view.itemsize:
                        raise ValueError(f"tensor {name} ends before its data does")
                    left -= len(data)
                    bits = np.frombuffer(data, dtype=view) & view.type(mask)
                    if bool((bits == mask).any()):
                        return [f"tensor {name} holds NaN or infinite values"]
    except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:
        return [f"tensors are not readable: {exc}"]
    return []


# --- verification -----------------------------------------------------------------------------


def verify_weights_offline(path: str) -> WeightsReport:
    """What the file alone can show: a well-formed stamp, readable tensors, the file's digest.

    Raises:
        NotFound: no file at ``path``.
    """
    digest, metadata, problems = read_weights_header(path)
    stamp, data, stamp_problems = (
        _parse_stamp(metadata) if metadata is not None else (None, None, [])
    )
    problems += stamp_problems
    if stamp is not None:
        problems += _tensor_problems(path)
    return WeightsReport(
        path=path, sha256=digest, ok=not problems, problems=problems, offline=True, stamp=data
    )


def verify_weights(session: Session, path: str) -> WeightsReport:
    """Read a weights file's digest and stamp, and check them against the registry
    (``check_weights``).

    Raises:
        NotFound: no file at ``path``.
    """
    digest, metadata, problems = read_weights_header(path)
    if metadata is None:
        return WeightsReport(
            path=path, sha256=digest, ok=False, problems=problems, offline=False, stamp=None
        )
    return check_weights(session, digest, metadata, path=path)


def check_weights(
    session: Session, sha256: str, metadata: Mapping[str, str] | None, *, path: str = ""
) -> WeightsReport:
    """The registry part of verification, for a file's SHA-256 and header stamp entries
    (``provreg.*``) read wherever the file is: in both directions.

    The digest must be one the registry recorded, for the run the stamp names; that run must
    have trained on the stamp's manifest, with its Merkle root, config, tokenizer and manifest
    chain. A malformed stamp is a problem in the report, not an error.

    Raises:
        InvalidInput: ``sha256`` is not a lowercase hex SHA-256.
    """
    if not is_hex64(sha256):
        raise InvalidInput(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
    digest = sha256
    stamp, data, problems = _parse_stamp(metadata)
    if stamp is None:
        return WeightsReport(
            path=path, sha256=digest, ok=False, problems=problems, offline=False, stamp=None
        )
    recorded = session.get(Weights, digest)
    run = session.get(TrainingRun, stamp.run)
    if run is None:
        problems.append(f"the stamp names run {stamp.run}, which this registry does not know")
    if recorded is None:
        theirs = (
            session.scalars(select(Weights.sha256).where(Weights.run_id == run.id)).all()
            if run
            else []
        )
        if theirs:
            problems.append(
                f"the file's SHA-256 {digest} is not the one recorded for run {stamp.run} "
                f"({', '.join(theirs)}): the file was changed after it was stamped"
            )
        else:
            problems.append(f"the file's SHA-256 {digest} is not recorded in this registry")
    elif recorded.run_id != stamp.run:
        problems.append(
            f"the registry recorded this file for run {recorded.run_id}, the stamp says {stamp.run}"
        )
    manifest_out = None
    if run is not None:
        problems += _stamp_vs_run(session, stamp, run)
        manifest_out = get_manifest(session, run.manifest_hash)
    return WeightsReport(
        path=path,
        sha256=digest,
        ok=not problems,
        problems=problems,
        offline=False,
        stamp=data,
        run=run_out(session, run) if run is not None else None,
        manifest=manifest_out,
    )


def _stamp_vs_run(session: Session, stamp: WeightsStamp, run: TrainingRun) -> list[str]:
    problems = []
    if stamp.manifest != run.manifest_hash:
        problems.append(
            f"the stamp names manifest {stamp.manifest}, but run {run.id} trained on "
            f"manifest {run.manifest_hash}"
        )
    manifest = manifest_row(session, run.manifest_hash)
    if stamp.merkle_root != manifest.merkle_root:
        problems.append(
            f"the stamp's Merkle root {stamp.merkle_root} is not manifest "
            f"{manifest.hash}'s ({manifest.merkle_root})"
        )
    chain = manifest_chain(session, run.id)
    if list(stamp.manifest_chain) != chain:
        problems.append(f"the stamp's manifest chain {list(stamp.manifest_chain)} is not {chain}")
    config = json.loads(run.config)
    if stamp.config != config.get("model"):
        problems.append(f"the stamp's model config differs from run {run.id}'s")
    if stamp.tokenizer != run.tokenizer:
        problems.append(f"the stamp's tokenizer {stamp.tokenizer!r} is not {run.tokenizer!r}")
    trained = session.get(Tokenizer, run.tokenizer)
    recorded_on = trained.manifest_hash if trained is not None else None
    if stamp.tokenizer_manifest != recorded_on:
        problems.append(
            f"the stamp says tokenizer {stamp.tokenizer} was trained on manifest "
            f"{stamp.tokenizer_manifest}, the registry says {recorded_on}"
        )
    return problems
