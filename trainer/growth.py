"""Growing a trained GPT without changing what it computes (function-preserving growth).

``--grow-layers N`` appends N transformer blocks whose two output projections (attention's and
the MLP's ``c_proj``) are zero: each new block adds nothing to the residual stream, so the
grown model's logits are the old ones. ``--grow-width F`` widens every MLP from ``h`` to
``round(F * h)`` units: the old units keep their weights, the new units' input weights are
initialised as usual (normal, std 0.02) and their outgoing weights (``c_proj`` columns) are
zero, so they add nothing until trained. The vocabulary and the context length never change.

Optimizer state: a continued run always starts a fresh AdamW (the parent's weights are loaded,
not its optimizer), so the new parameters' moments start at zero like everyone else's.
Written by hand: no library grows a nanoGPT-style module in place (Net2Net-style tools target
other layouts).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from registry.errors import InvalidInput
from trainer.model import GPT, Block, GPTConfig, model_state_for_save

__all__ = ["check_growth", "grow", "grown_config"]


def check_growth(layers: int, width: float) -> None:
    """Raises: InvalidInput: a negative layer count or a width factor below 1."""
    if type(layers) is not int or layers < 0:
        raise InvalidInput(f"grow layers must be an int >= 0, got {layers!r}", field="growth")
    if not width >= 1.0:
        raise InvalidInput(f"grow width must be >= 1 (it widens), got {width!r}", field="growth")


def grown_config(before: GPTConfig, *, layers: int = 0, width: float = 1.0) -> GPTConfig:
    """The config after growth: more blocks, a wider MLP; vocabulary and context unchanged."""
    check_growth(layers, width)
    hidden = before.hidden
    new_hidden = round(width * hidden)
    return dataclasses.replace(
        before,
        n_layer=before.n_layer + layers,
        mlp_hidden=new_hidden if new_hidden != 4 * before.n_embd else before.mlp_hidden,
    )


def check_same_interface(parent: GPTConfig, requested: GPTConfig) -> None:
    """Raises: InvalidInput: growth would change the vocabulary or the context length."""
    for name in ("vocab_size", "block_size"):
        if getattr(parent, name) != getattr(requested, name):
            what = "vocabulary" if name == "vocab_size" else "context length"
            raise InvalidInput(
                f"growth cannot change the {what}: the parent has {name}="
                f"{getattr(parent, name)}, the request {getattr(requested, name)}",
                field="growth",
            )


@torch.no_grad()
def grow(model: GPT, *, layers: int = 0, width: float = 1.0, seed: int = 0) -> GPT:
    """A new GPT computing the same function as ``model``, grown (module docstring); new
    weights are drawn from ``seed`` (deterministic)."""
    after = grown_config(model.config, layers=layers, width=width)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        grown = GPT(after)
    old_state = model_state_for_save(model)
    new_state = grown.state_dict()
    for key, old in old_state.items():
        target = new_state[key]
        if target.shape == old.shape:
            target.copy_(old)
            continue
        # a widened MLP: copy the old units, draw the new inputs, zero the new outputs
        if key.endswith("mlp.c_fc.weight"):
            target.normal_(0.0, 0.02, generator=gen)
            target[: old.shape[0]].copy_(old)
        elif key.endswith("mlp.c_fc.bias"):
            target.zero_()
            target[: old.shape[0]].copy_(old)
        elif key.endswith("mlp.c_proj.weight"):
            target.zero_()
            target[:, : old.shape[1]].copy_(old)
        else:  # pragma: no cover - grown_config changes nothing else
            raise InvalidInput(f"cannot grow {key}: {tuple(old.shape)} -> {tuple(target.shape)}")
    grown.load_state_dict(new_state)
    grown.lm_head.weight = grown.transformer.wte.weight
    for block in list(grown.transformer.h)[model.config.n_layer :]:
        _silence(block)
    return grown


def _silence(block: nn.Module) -> None:
    """A new block adds nothing to the residual stream: its output projections are zero."""
    assert isinstance(block, Block)
    for proj in (block.attn.c_proj, block.mlp.c_proj):
        nn.init.zeros_(proj.weight)
        if proj.bias is not None:
            nn.init.zeros_(proj.bias)


def growth_event(before: GPTConfig, after: GPTConfig, layers: int, width: float) -> dict[str, Any]:
    """What the run records: the config before and after, and the growth asked for."""
    return {
        "layers": layers,
        "width": width,
        "before": before.to_dict(),
        "after": after.to_dict(),
        "preserving": "new blocks' output projections and new MLP units' outputs start at zero",
    }
