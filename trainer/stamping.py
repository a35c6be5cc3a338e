"""Writing stamped safetensors files: tensors plus a ``WeightsStamp`` in the header, atomically.

The stamp's encoding is ``manifests.stamp`` (pure); reading a stamp back needs no torch and is
``registry.runs.read_stamp``. The file's SHA-256 is computed here from the bytes on disk, so
the digest the registry records is exactly what a verifier hashes.

Tied weights: safetensors refuses tensors that share storage, so callers pass a state without
duplicates (see ``trainer.model.model_state_for_save``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from manifests.stamp import WeightsStamp


def write_stamped_weights(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], stamp: WeightsStamp
) -> str:
    """Write ``tensors`` as safetensors stamped with ``stamp``; return the file's SHA-256.

    The file is written to a temporary name in the same directory, synced, hashed and renamed
    over ``path``, so a reader never sees a half-written or unstamped file.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=stamp.to_metadata())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return digest


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (the entry, not only the file's bytes)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
