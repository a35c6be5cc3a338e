"""Tokens/s of a named GPT config on this machine (synthetic bytes, no data pipeline).

Usage: PYTHONPATH=. python bench/trainer_throughput.py [config] [batch] [steps] [threads]
"""

from __future__ import annotations

import sys
import time

import torch

from trainer.model import GPT, config_from
from trainer.train_loop import make_optimizer, set_threads


def main(name: str = "tiny", batch: int = 16, steps: int = 30, threads: int = 0) -> None:
    n = set_threads(threads or None)
    torch.manual_seed(0)
    model = GPT(config_from(name))
    opt = make_optimizer(model, 1e-3, 0.1)
    T = model.config.block_size
    data = torch.randint(0, 256, (steps + 3, batch, T + 1))
    for i in range(steps + 3):
        if i == 3:  # warm-up steps excluded
            t0 = time.perf_counter()
        _, loss = model(data[i, :, :-1], data[i, :, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print(f"{name}: batch {batch} x ctx {T}, {n} threads: {steps * batch * T / dt:,.0f} tokens/s")


if __name__ == "__main__":
    main(*(f(a) for f, a in zip((str, int, int, int), sys.argv[1:], strict=False)))
