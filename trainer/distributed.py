"""The few collectives a distributed run needs, over ``torch.distributed`` (gloo on CPU, nccl on GPUs).

Outside a process group (no ``torchrun``) every function is the identity of one process, so the
library's code reads the same for one process and for many.

Objects travel with ``torch.distributed``'s object collectives (pickled in memory between the
ranks of one job, never written anywhere); what crosses is small: run ids, per-shard usage,
data positions, error messages.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist


def active() -> bool:
    """Whether this process is one rank of an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside a process group."""
    if not active():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def init_from_env(device: torch.device | None = None, timeout_s: float = 600.0) -> bool:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` etc.);
    gloo, or nccl when training on CUDA. False when not started by ``torchrun``."""
    if active():
        return True
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return False
    backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return True


def broadcast(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: int) -> int:
    """The largest ``flag`` of all ranks (0 = all well): one small all-reduce per call."""
    if not active():
        return flag
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([flag], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def destroy(*, wait: bool = True) -> None:
    """Leave the job cleanly: wait for every rank, free what still holds the group's work (a
    ``DistributedDataParallel`` reducer), then destroy it while the interpreter is whole.
    A group left to interpreter shutdown can abort the process (gloo's worker threads).
    ``wait=False`` skips the barrier (after an error, when a rank may already be gone)."""
    if not active():
        return
    import gc

    try:
        if wait:
            dist.barrier()
    finally:
        gc.collect()
        dist.destroy_process_group()
