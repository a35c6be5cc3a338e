"""The baseline of ``bench.trainer``'s DDP figure: the same DDP job as ``trainer.ddp`` (the same
GPT, optimizer, schedule and batch shape, gloo), fed from an in-memory tensor: no registry, no
verification, no per-step agreement. Run under torchrun; rank 0 prints its step times as JSON.

Usage: torchrun --standalone --nproc-per-node 2 -m bench.ddp_memory CONFIG BATCH STEPS
"""

from __future__ import annotations

import json
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from trainer.model import GPT, config_from
from trainer.train_loop import lr_at, make_optimizer, optimizer_step


def main(config: str, batch: int, steps: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = GPT(config_from(config))
    opt = make_optimizer(model, 3e-3, 0.1)
    ddp = DistributedDataParallel(model)
    T = model.config.block_size
    data = torch.randint(
        0, 256, (steps, batch, T + 1), generator=torch.Generator().manual_seed(rank)
    )
    walls = []
    for step in range(steps):
        lr = lr_at(step, lr=3e-3, warmup=min(100, steps // 10), steps=steps)
        optimizer_step(ddp, opt, data[step], step=step, lr=lr, grad_clip=1.0)
        walls.append(time.perf_counter())
    if rank == 0:
        print(json.dumps({"step_walls": [w - walls[0] for w in walls]}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
