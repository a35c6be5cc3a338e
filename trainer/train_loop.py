"""The registry-independent training loop.

It knows nothing of manifests or ledgers: `train_steps` yields each optimizer
step (loss, tokens, attribution and the stream cursor after the batch), and
the caller's loop records consumption from those reports, at least at every
checkpoint (invariant 5). A step is yielded only after the batch has been
applied by the optimizer, so what is reported is what was trained on.
`train` is the same loop with a callback, for callers that only watch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from trainer.data import Batch, Cursor, ShardUsage
from trainer.errors import TrainingDivergedError
from trainer.model import GPT


@dataclass(frozen=True)
class StepResult:
    """One optimizer step, as reported to `on_step`."""

    step: int
    loss: float
    lr: float
    tokens: int
    attribution: dict[str, ShardUsage]
    cursor: Cursor
    seconds: float


@dataclass
class TrainResult:
    """The whole call: per-step losses and totals (tokens, per-shard usage)."""

    steps: int = 0
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    usage: dict[str, ShardUsage] = field(default_factory=dict)
    cursor: Cursor | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def add(self, r: StepResult) -> None:
        self.steps += 1
        self.losses.append(r.loss)
        self.tokens += r.tokens
        self.seconds += r.seconds
        self.cursor = r.cursor
        for shard, u in r.attribution.items():
            old = self.usage.get(shard, ShardUsage(0, 0))
            self.usage[shard] = ShardUsage(old.tokens + u.tokens, old.records + u.records)


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (default: the CPUs this process may run on)."""
    n = n or len(os.sched_getaffinity(0))
    torch.set_num_threads(n)
    return n


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``: ``auto`` takes CUDA, then Apple's MPS, then the CPU.

    Raises:
        ValueError: not a device name, or a device this machine or this torch build lacks.
    """
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name!r} is not a device (try auto, cpu, cuda, cuda:1 or mps)") from exc
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {name!r}: torch {torch.__version__} sees no CUDA device here")
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name!r}: this machine has {count} CUDA device(s)")
    elif device.type == "mps" and not has_mps:
        raise ValueError(f"device {name!r}: MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r}: only cpu, cuda and mps are supported")
    return device


def lr_at(step: int, *, lr: float, warmup: int, steps: int, min_ratio: float = 0.1) -> float:
    """Linear warmup to `lr`, then cosine decay to `lr * min_ratio` at `steps`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= steps:
        return lr * min_ratio
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: GPT, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not norms, biases), as in GPT-2."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def train_steps(
    model: GPT,
    batches: Iterator[Batch],
    *,
    steps: int,
    lr: float,
    warmup: int,
    weight_decay: float,
    grad_clip: float,
    device: str = "cpu",
    start_step: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
) -> Iterator[StepResult]:
    """Take optimizer steps `start_step..steps-1` (fewer if `batches` runs out), yielding each
    one after its update, so the caller's loop body sees only what was trained on.

    `start_step` and a restored `optimizer` let a resumed run continue the LR
    schedule; `batches` must then start at the checkpoint's cursor.

    Raises:
        TrainingDivergedError: the loss is not finite (nothing is stepped or yielded).
    """
    model.to(device).train()
    opt = optimizer or make_optimizer(model, lr, weight_decay)
    for step in range(start_step, steps):
        t0 = time.perf_counter()  # a step's time includes waiting for its batch
        batch = next(batches, None)
        if batch is None:
            return
        r = _step(
            model, opt, batch, step, lr_at(step, lr=lr, warmup=warmup, steps=steps), grad_clip
        )
        yield dataclasses.replace(r, seconds=time.perf_counter() - t0)


def train(
    model: GPT,
    batches: Iterator[Batch],
    *,
    steps: int,
    lr: float,
    warmup: int,
    weight_decay: float,
    grad_clip: float,
    on_step: Callable[[StepResult], None],
    device: str = "cpu",
    start_step: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
) -> TrainResult:
    """``train_steps`` with each step added to the totals and reported to `on_step`.

    Raises:
        TrainingDivergedError: the loss is not finite (nothing is stepped or reported).
    """
    result = TrainResult()
    for r in train_steps(
        model,
        batches,
        steps=steps,
        lr=lr,
        warmup=warmup,
        weight_decay=weight_decay,
        grad_clip=grad_clip,
        device=device,
        start_step=start_step,
        optimizer=optimizer,
    ):
        result.add(r)
        on_step(r)
    return result


def optimizer_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    tokens: torch.Tensor,
    *,
    step: int,
    lr: float,
    grad_clip: float,
    penalty: Callable[[], torch.Tensor] | None = None,
) -> float:
    """One update of a next-token model on ``tokens`` (B, T+1); the loss before it (the data
    loss: a ``penalty``, such as EWC's, is added to what is minimised, not to what is reported).

    ``model(x, y)`` returns ``(logits, loss)`` (the GPT, or a ``DistributedDataParallel`` of it).

    Raises:
        TrainingDivergedError: the loss is not finite (nothing is stepped).
    """
    device = next(model.parameters()).device
    for group in opt.param_groups:
        group["lr"] = lr
    x, y = tokens[:, :-1].to(device), tokens[:, 1:].to(device)  # (B, T), (B, T)
    _, loss = model(x, y)
    if loss is None or not torch.isfinite(loss):
        raise TrainingDivergedError(f"loss is {loss} at step {step}; stopping before the update")
    opt.zero_grad(set_to_none=True)
    (loss + penalty() if penalty is not None else loss).backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    return float(loss.item())


def _step(
    model: GPT,
    opt: torch.optim.Optimizer,
    batch: Batch,
    step: int,
    lr: float,
    grad_clip: float,
) -> StepResult:
    loss = optimizer_step(model, opt, batch.tokens, step=step, lr=lr, grad_clip=grad_clip)
    return StepResult(
        step=step,
        loss=loss,
        lr=lr,
        tokens=batch.tokens.numel(),
        attribution=batch.attribution,
        cursor=batch.cursor,
        seconds=0.0,
    )
