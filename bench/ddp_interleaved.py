"""``bench.trainer``'s interleaved DDP figure: in ONE torchrun job, the same DDP GPT fed through
provreg (the library: ``open_run``, ``run.batches``, ``record``, asynchronous ``checkpoint``)
and fed from an in-memory tensor take turns, ``--block`` steps each (A B A B ...), every block
timed on rank 0. Whole separate jobs drift more from run to run on this machine than provreg
costs; blocks taken in turn see the same machine from second to second.

Twice: against the in-memory job checkpointing as a plain DDP job does (rank 0 ``torch.save``
of model and optimizer, synced to disk, at the same steps: the like-for-like job), then against
the in-memory job with no checkpoint (the strict bound). provreg reads shards in line
(``prefetch=False``): its reading is charged to its own blocks, never done ahead in the other's.
Rank 0 prints one JSON line: per variant, the block seconds of each side; the runs' ids.

Usage: torchrun --standalone --nproc-per-node 2 -m bench.ddp_interleaved MANIFEST CONFIG BATCH
    BLOCK BLOCKS WORKDIR
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from bench.interleave import plain_checkpoint, take_turns
from trainer import distributed
from trainer.library import connect, open_run
from trainer.model import GPT, config_from
from trainer.train_loop import lr_at, make_optimizer, optimizer_step

LR = 3e-3


def _memory_steps(
    config: str, batch: int, n: int, checkpoint_at: Callable[[int], bool], path: Path
) -> Iterator[None]:
    """The plain DDP job: random tokens in memory (a GPT step costs the same whatever the
    token values); at ``checkpoint_at`` steps rank 0 saves as a plain PyTorch job does."""
    rank = distributed.rank_and_world()[0]
    torch.manual_seed(0)
    model = GPT(config_from(config))
    opt = make_optimizer(model, LR, 0.1)
    ddp = DistributedDataParallel(model)
    T = model.config.block_size
    data = torch.randint(0, 256, (n, batch, T + 1), generator=torch.Generator().manual_seed(rank))
    for step in range(n):
        lr = lr_at(step, lr=LR, warmup=min(100, n // 10), steps=n)
        optimizer_step(ddp, opt, data[step], step=step, lr=lr, grad_clip=1.0)
        if checkpoint_at(step) and rank == 0:
            plain_checkpoint(path, model, opt, step)
        yield


def _provreg_steps(
    manifest: str, config: str, batch: int, n: int, checkpoint_at: Callable[[int], bool],
    workdir: Path, run_ids: list[str],
) -> Iterator[None]:  # fmt: skip
    """The same job through the library, as ``trainer.run`` trains under torchrun."""
    client = connect()
    run = open_run(manifest, client=client, config={"bench": "ddp-interleaved"},
                   checkpoint_dir=workdir / "ddp-interleaved-ckpt")  # fmt: skip
    run_ids.append(run.id)
    with run:
        torch.manual_seed(0)
        model = GPT(config_from(config))
        opt = make_optimizer(model, LR, 0.1)
        ddp = DistributedDataParallel(model)
        T = model.config.block_size
        loader = run.dataset(block_size=T, prefetch=False).loader(batch)
        for step, b in run.batches(loader, steps=n):
            lr = lr_at(step, lr=LR, warmup=min(100, n // 10), steps=n)
            loss = optimizer_step(ddp, opt, b["input_ids"], step=step, lr=lr, grad_clip=1.0)
            run.record(b, step=step, loss=loss)
            if checkpoint_at(step):
                run.checkpoint(model, opt, step=step, wait=False)
            yield
        run.save_weights(model, workdir / "ddp-interleaved.safetensors")
        run.complete()


def main(manifest: str, config: str, batch: int, block: int, blocks: int, workdir: Path) -> None:
    torch.set_num_threads(1)
    if not distributed.init_from_env():
        raise SystemExit("run under torchrun")
    n = block * blocks

    def every(i: int) -> bool:  # at the first step of every fourth block
        return i % (4 * block) == 0 and i > 0

    out: dict[str, dict[str, list[float]]] = {}
    run_ids: list[str] = []
    for label, plain_checkpoints in (("like-for-like", every), ("strict", lambda i: False)):
        mem_it = _memory_steps(config, batch, n, plain_checkpoints, workdir / "plain-ddp.pt")
        lib_it = _provreg_steps(manifest, config, batch, n, every, workdir, run_ids)
        mem_s, lib_s = take_turns(mem_it, lib_it, blocks, block)  # the run completes after
        out[label] = {"memory": mem_s, "provreg": lib_s}
    if distributed.rank_and_world()[0] == 0:
        print(json.dumps({"blocks": out, "runs": run_ids, "steps": n}))
    distributed.destroy()


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), Path(a[5]))
