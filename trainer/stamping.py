"""Writing stamped safetensors files: tensors plus a ``WeightsStamp`` in the header, atomically.

The stamp's encoding is ``manifests.stamp`` (pure); reading a stamp back needs no torch and is
``registry.runs.read_stamp``. The file's SHA-256 is computed here from the bytes on disk, so
the digest the registry records is exactly what a verifier hashes.

Tied weights: safetensors refuses tensors that share storage, so ``module_state`` keeps the
first name of each shared tensor and ``load_module_state`` loads a module back from it (any
``nn.Module``; the GPT has its own pair in ``trainer.model``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from manifests.stamp import WeightsStamp
from trainer.model import GPT, load_model_state, model_state_for_save


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


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` (or anything with ``.module``)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model


def _aliases(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Each name whose tensor shares storage with an earlier one -> that earlier name."""
    first: dict[tuple[Any, ...], str] = {}
    out: dict[str, str] = {}
    for name, t in state.items():
        if t.device.type == "meta" or t.numel() == 0:
            continue
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        if key in first:
            out[name] = first[key]
        else:
            first[key] = name
    return out


def module_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state for safetensors: detached, contiguous, each shared tensor once."""
    model = _unwrap(model)
    if isinstance(model, GPT):
        return model_state_for_save(model)
    state = model.state_dict()
    for alias in _aliases(state):
        del state[alias]
    return {k: v.detach().contiguous() for k, v in state.items()}


def load_module_state(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Load what ``module_state`` wrote into a module of the same architecture.

    Raises:
        ValueError: keys are missing (other than tied aliases) or unexpected.
    """
    model = _unwrap(model)
    if isinstance(model, GPT):
        load_model_state(model, tensors)
        return
    tied = _aliases(model.state_dict())
    result = model.load_state_dict(tensors, strict=False)
    missing = [k for k in result.missing_keys if k not in tied]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"tensors do not match the model: missing {missing}, "
            f"unexpected {list(result.unexpected_keys)}"
        )
