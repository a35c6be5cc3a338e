"""Checkpoints: model and optimizer tensors in safetensors, everything else as JSON in its header.

No pickles: a checkpoint is one safetensors file whose ``provreg.checkpoint`` header entry holds
the step, the data cursor and the optimizer's scalar state. It is written to a temporary name,
synced and renamed, so a checkpoint path the registry records always names a whole file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from registry.faults import crash_point
from trainer.stamping import fsync_dir, load_module_state, module_state

FORMAT = "provreg.checkpoint/1"
_KEY = "provreg.checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file that is not one of ours, or does not fit the model."""


def checkpoint_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, *, copy: bool = False
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the JSON header parts of a checkpoint of ``model`` and ``optimizer``.

    ``copy``: clone the tensors, so the state can be written while training goes on (the
    asynchronous checkpoint); a checkpoint written at once needs no copy.
    Any ``nn.Module``: tensors that share storage (tied weights) are written once.
    """
    take = (lambda t: t.detach().clone()) if copy else (lambda t: t.detach().contiguous())
    tensors = {f"model.{k}": take(v) for k, v in module_state(model).items()}
    state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = take(value)
            else:
                scalars.setdefault(str(idx), {})[name] = value
    groups = json.loads(json.dumps(state["param_groups"]))  # a copy, as JSON will hold it
    return tensors, {"param_groups": groups, "optim_scalars": scalars}


def write_checkpoint(
    path: str | os.PathLike[str],
    state: tuple[dict[str, torch.Tensor], dict[str, Any]],
    meta: dict[str, Any],
) -> None:
    """Write a ``checkpoint_state`` and ``meta`` (JSON) to ``path`` atomically (tmp, fsync,
    rename)."""
    tensors, parts = state
    header = {"format": FORMAT, "meta": meta, **parts}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={_KEY: json.dumps(header, separators=(",", ":"))})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        crash_point("train.during_checkpoint")  # the fault suite: die with the file half-done
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
) -> None:
    """Write model, optimizer and ``meta`` (JSON) to ``path`` atomically (tmp, fsync, rename)."""
    write_checkpoint(path, checkpoint_state(model, optimizer), meta)


def load_checkpoint(
    path: str | os.PathLike[str], model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore model and optimizer from ``path``; return the ``meta`` it was saved with.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: not a provreg checkpoint, or it does not fit this model.
    """
    model_tensors: dict[str, torch.Tensor] = {}
    optim_tensors: dict[str, dict[str, torch.Tensor]] = {}
    with safe_open(os.fspath(path), framework="pt") as f:
        raw = (f.metadata() or {}).get(_KEY)
        if raw is None:
            raise CheckpointError(f"{os.fspath(path)} is not a provreg checkpoint")
        for key in f.keys():  # noqa: SIM118 - safe_open is not iterable
            kind, _, rest = key.partition(".")
            if kind == "model":
                model_tensors[rest] = f.get_tensor(key)
            else:
                idx, _, name = rest.partition(".")
                optim_tensors.setdefault(idx, {})[name] = f.get_tensor(key)
    header = json.loads(raw)
    if header.get("format") != FORMAT:
        raise CheckpointError(f"unsupported checkpoint format {header.get('format')!r}")
    try:
        load_module_state(model, model_tensors)
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint does not fit the model: {exc}") from exc
    state: dict[Any, dict[str, Any]] = {}
    for idx in set(optim_tensors) | set(header["optim_scalars"]):
        state[int(idx)] = {**optim_tensors.get(idx, {}), **header["optim_scalars"].get(idx, {})}
    groups = header["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    meta: dict[str, Any] = header["meta"]
    return meta
