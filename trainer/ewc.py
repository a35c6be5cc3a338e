"""Elastic Weight Consolidation (Kirkpatrick et al., 2017): a pull back toward the previous
increment's weights, strongest where its data was most sensitive.

The diagonal empirical Fisher information of the previous increment's model on that
increment's training data (the mean squared gradient of the next-token loss over up to
``MAX_BLOCKS`` blocks, read through the verified reader) is saved beside its weights as
``<weights>.fisher.safetensors`` with the anchor weights. The next run adds
``lambda / 2 * sum(F * (theta - theta_anchor) ** 2)`` to its loss. After growth, parameters
whose shape changed (and new ones) have no prior and are not pulled.
Written by hand: the penalty is a few lines over named parameters; no maintained library
ships it for plain PyTorch modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from trainer.evaluation import eval_blocks
from trainer.model import GPT
from trainer.reader import ShardSource
from trainer.tokenizer import TokenEncoder

SUFFIX = ".fisher.safetensors"
MAX_BLOCKS = 32


def fisher_path(weights: str | Path) -> Path:
    return Path(f"{weights}{SUFFIX}")


def estimate_fisher(model: GPT, blocks: torch.Tensor, *, batch_size: int = 4) -> dict[str, torch.Tensor]:  # fmt: skip
    """The diagonal empirical Fisher of ``model`` on ``blocks`` (n, T+1), by parameter name."""
    was_training = model.training
    model.eval()
    params = dict(model.named_parameters())
    fisher = {name: torch.zeros_like(p) for name, p in params.items()}
    batches = 0
    for i in range(0, blocks.size(0), batch_size):
        chunk = blocks[i : i + batch_size]
        model.zero_grad(set_to_none=True)
        _, loss = model(chunk[:, :-1], chunk[:, 1:])
        assert loss is not None
        loss.backward()
        for name, p in params.items():
            if p.grad is not None:
                fisher[name] += p.grad.detach() ** 2
        batches += 1
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {k: v / max(batches, 1) for k, v in fisher.items()}


def save_fisher(
    weights: str | Path,
    model: GPT,
    source: ShardSource,
    shard_ids: Sequence[str],
    tokenizer: TokenEncoder,
) -> Path:
    """Estimate the Fisher of ``model`` on ``shard_ids`` and save it beside ``weights``."""
    blocks = eval_blocks(
        source, shard_ids, tokenizer, block_size=model.config.block_size, max_blocks=MAX_BLOCKS
    )
    fisher = estimate_fisher(model, blocks)
    tensors = {f"fisher.{k}": v.contiguous() for k, v in fisher.items()}
    tensors |= {f"anchor.{k}": p.detach().contiguous() for k, p in model.named_parameters()}
    path = fisher_path(weights)
    save_file(tensors, str(path))
    return path


class EWCPenalty:
    """``lambda / 2 * sum(F * (theta - anchor) ** 2)`` over the parameters the file covers."""

    def __init__(self, model: torch.nn.Module, path: str | Path, lam: float) -> None:
        saved = load_file(str(path))
        device = next(model.parameters()).device
        self.lam = lam
        self.terms: list[tuple[torch.nn.Parameter, torch.Tensor, torch.Tensor]] = []
        for name, p in model.named_parameters():
            f, a = saved.get(f"fisher.{name}"), saved.get(f"anchor.{name}")
            if f is not None and a is not None and f.shape == p.shape:
                self.terms.append((p, f.to(device), a.to(device)))

    def __call__(self) -> torch.Tensor:
        total = sum(((f * (p - a) ** 2).sum() for p, f, a in self.terms), torch.zeros(()))
        return self.lam / 2 * total
