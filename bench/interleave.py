"""Two step iterators taking turns, block by block (A B B A A B ...), every block timed.

Why: on this shared machine a run's speed drifts more between whole runs than the costs the
benchmarks look for; blocks taken in turn see the same machine from second to second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import torch


def take_turns(
    a: Iterator[None], b: Iterator[None], blocks: int, block: int
) -> tuple[list[float], list[float]]:
    """Seconds of each of ``blocks`` blocks of ``block`` steps of ``a`` and of ``b``, the first
    side alternating; then both are run to their end (a run completes, saves its weights)."""
    a_s: list[float] = []
    b_s: list[float] = []
    for k in range(blocks):
        sides = ((a, a_s), (b, b_s))
        for it, times in sides if k % 2 == 0 else sides[::-1]:
            t = time.perf_counter()
            for _ in range(block):
                next(it)
            times.append(time.perf_counter() - t)
    for it in (a, b):
        for _ in it:
            pass
    return a_s, b_s


def plain_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int
) -> None:
    """A checkpoint as a plain PyTorch loop saves one: ``torch.save`` of both state dicts, synced
    to disk as provreg's are (the baselines' like-for-like side)."""
    with open(path, "wb") as f:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}, f)
        f.flush()
        os.fsync(f.fileno())
