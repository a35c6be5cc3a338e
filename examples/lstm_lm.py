"""A small LSTM language model trained on a manifest, in a plain PyTorch loop, with provreg as
a library: only the manifest's verified shards reach the optimizer, consumption is exact, the
weights are stamped.

    python examples/lstm_lm.py --manifest web-v1 --steps 200 --out lstm.safetensors
    python examples/lstm_lm.py --resume RUN                 # after a crash: exact, no double count
    python examples/lstm_lm.py --manifest web-v1 --registry http://HOST:8000 --token "$TOKEN"
    torchrun --nproc-per-node 2 examples/lstm_lm.py --manifest web-v1   # DDP, gloo on CPU

Nothing here is provreg's model: any ``nn.Module`` and any loop work the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from trainer import Run, distributed, open_run


class LSTMLanguageModel(nn.Module):
    """Embedding -> LSTM -> a head tied to the embedding; next-token logits."""

    def __init__(self, vocab_size: int, dim: int = 128, layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.lstm = nn.LSTM(dim, dim, num_layers=layers, batch_first=True)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: saved once (provreg dedupes shared tensors)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(x))  # (B, T, dim)
        return self.head(h)  # (B, T, V)


def train(
    run: Run,
    *,
    steps: int,
    block_size: int = 64,
    batch_size: int = 16,
    lr: float = 3e-3,
    dim: int = 128,
    checkpoint_every: int = 50,
    workers: int = 0,
    out: str = "lstm.safetensors",
) -> dict[str, Any]:
    """The loop: read, step, record, checkpoint; then stamp the weights and complete."""
    torch.manual_seed(run.seed)
    model = LSTMLanguageModel(run.tokenizer.vocab_size, dim)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    run.restore(model, optimizer)  # a resumed run continues from its last checkpoint
    trained: nn.Module = model
    if run.world_size > 1:
        trained = nn.parallel.DistributedDataParallel(model)
    loader = run.dataset(block_size=block_size).loader(batch_size, num_workers=workers)
    losses = []
    for step, batch in run.batches(loader, steps=steps):
        ids = batch["input_ids"]  # (B, T+1)
        logits = trained(ids[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        run.record(batch, step=step, loss=loss.item())  # counted: the optimizer used it
        losses.append(loss.item())
        if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            run.checkpoint(
                model, optimizer, step=step, wait=False
            )  # written while training goes on
    sha = run.save_weights(model, out)  # stamped with run.config["model"] and the tokenizer
    done = run.complete()
    return {
        "run": done.id,
        "status": done.status,
        "steps": done.steps_done,
        "tokens": done.tokens,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "weights": out,
        "sha256": sha,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest")
    p.add_argument("--resume")
    p.add_argument("--registry", help="http://HOST:PORT or a database URL")
    p.add_argument("--token", default=os.environ.get("PROVREG_TOKEN"))
    p.add_argument("--tokenizer", help="a registered tokenizer (default provreg.bytes/1)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="lstm.safetensors")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    distributed.init_from_env()  # under torchrun: join the job (gloo on CPU)
    # config["model"] goes into the weights stamp: with the stamp's tokenizer (its vocabulary)
    # it rebuilds the model; the rest is the run's record of how it was trained.
    config = {
        "model": {"kind": "lstm", "dim": args.dim},
        # steps, batch_size and block_size declare the stream: the registry checks each report
        # against them (steps x batch_size rows of block_size + 1 tokens, exactly).
        "train": {
            "steps": args.steps,
            "batch_size": args.batch_size,
            "block_size": args.block_size,
            "lr": args.lr,
        },
    }
    with open_run(
        args.manifest,
        resume=args.resume,
        registry=args.registry,
        token=args.token,
        config=config,
        seed=args.seed,
        tokenizer=args.tokenizer,
        checkpoint_dir=f"{args.out}.checkpoints",
    ) as run:
        summary = train(
            run,
            steps=args.steps,
            block_size=args.block_size,
            batch_size=args.batch_size,
            lr=args.lr,
            dim=args.dim,
            checkpoint_every=args.checkpoint_every,
            workers=args.workers,
            out=args.out,
        )
    if run.is_main:
        print(json.dumps(summary))
    distributed.destroy()


if __name__ == "__main__":
    main()
