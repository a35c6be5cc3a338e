"""A small GPT decoder in plain PyTorch (after nanoGPT), sized by named configs.

The config is a plain dataclass that round-trips through JSON, because it is
written into every weights stamp and must rebuild the same model later.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from trainer.tokenizer import VOCAB_SIZE

_VOCAB_MULTIPLE = 64


@dataclass(frozen=True)
class GPTConfig:
    """Architecture of a GPT; `vocab_size` is the tokenizer's, padded internally."""

    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    vocab_size: int = VOCAB_SIZE
    dropout: float = 0.0
    bias: bool = False
    mlp_hidden: int | None = None  # MLP width; None: 4 * n_embd (widened by growth)

    def __post_init__(self) -> None:
        for name in ("block_size", "n_layer", "n_head", "n_embd", "vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})"
            )
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if type(self.bias) is not bool:
            raise ValueError(f"GPTConfig.bias must be a bool, got {self.bias!r}")
        hidden = self.mlp_hidden
        if hidden is not None and (type(hidden) is not int or hidden < 1):
            raise ValueError(f"GPTConfig.mlp_hidden must be a positive int, got {hidden!r}")

    @property
    def hidden(self) -> int:
        """The MLP's width: ``mlp_hidden``, else nanoGPT's 4 * n_embd."""
        return self.mlp_hidden if self.mlp_hidden is not None else 4 * self.n_embd

    @property
    def padded_vocab_size(self) -> int:
        """Embedding rows: vocab rounded up to a multiple of 64 (faster matmuls)."""
        return -(-self.vocab_size // _VOCAB_MULTIPLE) * _VOCAB_MULTIPLE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; `GPTConfig.from_dict(c.to_dict()) == c`. ``mlp_hidden`` is
        left out while it is the default, so stamps of ungrown models read as before."""
        out = dataclasses.asdict(self)
        if out["mlp_hidden"] is None:
            del out["mlp_hidden"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPTConfig:
        """Inverse of `to_dict`.

        Raises:
            ValueError: an unknown key, or a field value that fails validation.
        """
        _check_fields(data)
        return cls(**data)


def _check_fields(data: dict[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(GPTConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown GPTConfig field(s): {', '.join(unknown)}")


CONFIGS: dict[str, GPTConfig] = {
    # ~0.8M parameters: learns visibly in a minute on a 2-core CPU.
    "tiny": GPTConfig(block_size=128, n_layer=4, n_head=4, n_embd=128),
    # ~11M parameters.
    "small": GPTConfig(block_size=256, n_layer=6, n_head=6, n_embd=384),
    # ~40M parameters.
    "medium": GPTConfig(block_size=512, n_layer=8, n_head=10, n_embd=640),
    # ~86M parameters (GPT-2 small's body; the byte vocabulary saves its 38M embedding).
    "base": GPTConfig(block_size=1024, n_layer=12, n_head=12, n_embd=768),
}


def config_from(name: str, **overrides: Any) -> GPTConfig:
    """The named config with `overrides` applied.

    Raises:
        ValueError: unknown config name, unknown override field, or an invalid value.
    """
    if name not in CONFIGS:
        raise ValueError(f"unknown model config {name!r}; known: {', '.join(sorted(CONFIGS))}")
    _check_fields(overrides)
    return dataclasses.replace(CONFIGS[name], **overrides)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()  # batch, time, channels (n_embd)
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.hidden, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(config.hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Body(nn.Module):
    """Embeddings, blocks and final norm; a typed module (not a ModuleDict) for mypy,
    keeping nanoGPT's parameter names (`transformer.wte.weight`, ...)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(config.padded_vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = _Body(config)
        self.lm_head = nn.Linear(config.n_embd, config.padded_vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying
        self.apply(self._init_weights)
        # GPT-2: scale residual projections by 1/sqrt(2 * n_layer).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameter count (tied weights once); optionally without position embeddings."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits over the real vocabulary (B, T, vocab_size) and the mean loss if targets.

        Raises:
            ValueError: the sequence is longer than block_size.
        """
        T = idx.size(1)
        if self.config.block_size < T:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}")
        pos = torch.arange(T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C)
        x = self.transformer.drop(tok_emb + pos_emb)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)  # (B, T, C)
        x = self.transformer.ln_f(x)  # (B, T, C)
        if targets is None:
            x = x[:, [-1], :]  # (B, 1, C): inference needs only the last position
        logits = self.lm_head(x)  # (B, T, Vp)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits[..., : self.config.vocab_size], loss  # drop the padding columns


_TIED_KEY = "lm_head.weight"


def model_state_for_save(model: GPT) -> dict[str, torch.Tensor]:
    """State dict safe for safetensors: the tied `lm_head.weight` is dropped.

    safetensors refuses tensors that share storage; `lm_head.weight` is the same
    tensor as `transformer.wte.weight`, so `load_model_state` re-ties it.
    """
    state = model.state_dict()
    state.pop(_TIED_KEY, None)
    return {k: v.detach().contiguous() for k, v in state.items()}


def load_model_state(model: GPT, tensors: dict[str, torch.Tensor]) -> None:
    """Load tensors written by `model_state_for_save`, keeping the weight tie.

    Raises:
        ValueError: keys are missing or unexpected (other than the tied head).
    """
    result = model.load_state_dict(tensors, strict=False)
    missing = [k for k in result.missing_keys if k != _TIED_KEY]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"weights do not match the model: missing {missing}, "
            f"unexpected {list(result.unexpected_keys)}"
        )
    model.lm_head.weight = model.transformer.wte.weight
