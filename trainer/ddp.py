"""``provreg train`` under torchrun: one process per rank, ``DistributedDataParallel``.

    torchrun --nproc-per-node 2 -m trainer.ddp --manifest M --steps 200 --threads 1
    torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        -m trainer.ddp --manifest M ...          # on each machine
    provreg train --nproc-per-node 2 --manifest M ...   # starts torchrun for you

The options are ``provreg train``'s. Every rank joins the process group torchrun describes
(gloo on CPU, nccl on CUDA), then runs the same loop as one process (``trainer.run``) through
the library: rank 0 opens or resumes the run and writes the checkpoints and the weights; every
rank reads and verifies its own shard positions (``trainer.dataset``). Each machine needs the
registry (its database or ``--registry URL``), the shards (the store, or the API) and the
checkpoint directory (a shared file system: every rank loads the checkpoint on resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from registry.errors import ProvregError
from trainer import distributed
from trainer.errors import TrainerError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.ddp", description=__doc__.splitlines()[0])
    p.add_argument("--manifest")
    p.add_argument("--resume")
    p.add_argument("--config", default="tiny")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16, help="sequences per step, per rank")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--async-checkpoint", action="store_true", help="write while training goes on")
    p.add_argument("--out", default="model.safetensors")
    p.add_argument("--threads", type=int, default=None, help="per rank (default: cores / ranks)")
    p.add_argument("--device", default="auto")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--set", dest="set_", action="append", default=[])
    p.add_argument("--from-weights", default=None)
    p.add_argument("--tokenizer", default=None)
    p.add_argument("--heartbeat-s", type=float, default=None)
    p.add_argument("--registry", default=None)
    p.add_argument("--token", default=os.environ.get("PROVREG_TOKEN"))
    p.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    import torch

    from trainer.library import connect
    from trainer.run import TrainSpec, device_for, parse_override, train_with_registry

    try:
        device = device_for(args.device)
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        if not distributed.init_from_env(device):
            print(
                "provreg: trainer.ddp runs under torchrun (WORLD_SIZE is not set)", file=sys.stderr
            )
            return 2
        rank, _ = distributed.rank_and_world()
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        threads = args.threads or max(1, len(os.sched_getaffinity(0)) // local)
        spec = None
        if args.manifest is not None:
            extra: dict[str, Any] = {}
            if args.heartbeat_s is not None:
                extra["heartbeat_s"] = args.heartbeat_s
            spec = TrainSpec(
                manifest=args.manifest,
                config=args.config,
                overrides=dict(parse_override(s) for s in args.set_),
                steps=args.steps,
                batch_size=args.batch_size,
                seed=args.seed,
                checkpoint_every=args.checkpoint_every,
                async_checkpoint=args.async_checkpoint,
                out=args.out,
                lr=args.lr,
                warmup=args.warmup,
                parent_weights=args.from_weights,
                tokenizer=args.tokenizer,
                **extra,
            )
        client = connect(args.registry, token=args.token)
        result = train_with_registry(
            client,
            spec,
            resume_run=args.resume,
            threads=threads,
            progress=rank == 0 and not args.json,
            device=str(device),
        )
    except TrainerError as exc:
        run_id = getattr(exc, "provreg_run", "?")
        print(f"provreg: run {run_id} failed: {exc}", file=sys.stderr)
        distributed.destroy(wait=False)
        return 1
    except ProvregError as exc:
        if distributed.rank_and_world()[0] == 0:
            print(f"provreg: {exc.detail}", file=sys.stderr)
        distributed.destroy(wait=False)
        return 1
    distributed.destroy()
    if rank == 0:
        summary = {
            "run": result.run_id,
            "status": result.status,
            "steps": result.steps_done,
            "tokens_rank0": result.tokens,
            "world_size": int(os.environ.get("WORLD_SIZE", "1")),
            "device": result.device,
            "loss_first": result.losses[0] if result.losses else None,
            "loss_last": result.losses[-1] if result.losses else None,
            "weights": result.weights_path,
            "sha256": result.weights_sha256,
            # rank 0's step report times, from the first step (for benchmarks)
            "step_walls": [w - result.step_walls[0] for w in result.step_walls],
        }
        if args.json:
            print(json.dumps(summary))
        else:
            print(
                f"run {result.run_id} {result.status}: steps {result.start_step}..{result.steps_done}"
                f" on {summary['world_size']} processes ({result.device}); weights "
                f"{result.weights_path} sha256 {result.weights_sha256}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
