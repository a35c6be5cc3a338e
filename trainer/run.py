"""``provreg train``: the built-in GPT trained through the library (``trainer.library``).

One code path: this module is a plain loop over the public API (``open_run`` ->
``run.dataset`` -> ``run.batches`` -> ``run.record`` / ``run.checkpoint`` ->
``run.save_weights`` -> ``run.complete``), so ``provreg train`` keeps exactly the guarantees a
team's own loop gets, and the order of writes is the library's:

1. every ``checkpoint_every`` steps: the checkpoint file is written (atomically) first, then
   ONE transaction adds the consumption of the steps since the previous checkpoint and moves
   the data position and step count to that checkpoint's; the older checkpoint is deleted
   after it;
2. at the end: the stamped weights file is written first, then ONE transaction adds the last
   consumption, records the weights' SHA-256 and completes the run.

So the registry never names a file that is not there, and the consumption it holds is exactly
that of the steps before its position. A resumed run starts from that position and checkpoint,
and counts every later token once. Only steps whose optimizer update completed are counted.
Under ``torchrun`` (``trainer.ddp``) the same loop trains a ``DistributedDataParallel`` GPT.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from registry.errors import InvalidInput
from registry.faults import crash_point
from registry.runs import DEFAULT_HEARTBEAT_S
from registry.shards.token_count import TOKENIZER as BYTES
from trainer.client import RegistryClient
from trainer.data import ShardUsage
from trainer.growth import check_growth, check_same_interface, grow, grown_config, growth_event
from trainer.library import Run, code_version, open_run
from trainer.model import GPT, GPTConfig, config_from, model_state_for_save
from trainer.train_loop import (
    lr_at,
    make_optimizer,
    optimizer_step,
    resolve_device,
    set_threads,
)
from trainer.weights import load_weights


class StopRequested(KeyboardInterrupt):
    """A clean stop asked for (SIGTERM under ``train --follow``): the current step was
    checkpointed; the run is left interrupted there, to resume."""


__all__ = [
    "RunResult",
    "StopRequested",
    "TrainSpec",
    "check_spec",
    "code_version",
    "device_for",
    "train_with_registry",
]


@dataclass(frozen=True)
class TrainSpec:
    """What to train: everything here goes into the run's config, except ``threads``."""

    manifest: str
    config: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    steps: int = 200
    batch_size: int = 16
    seed: int = 0
    checkpoint_every: int = 50
    async_checkpoint: bool = False  # write checkpoints while training goes on (Run.checkpoint)
    out: str = "model.safetensors"
    lr: float = 3e-3
    warmup: int | None = None  # default: steps // 10, at most 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    parent_weights: str | None = None  # continue training from these stamped weights
    tokenizer: str | None = None  # a registered tokenizer's id or prefix; None: provreg.bytes/1
    grow_layers: int = 0  # with parent_weights: append blocks (trainer.growth)
    grow_width: float = 1.0  # with parent_weights: widen the MLP by this factor
    ewc_lambda: float = 0.0  # > 0: pull toward the parent's weights (trainer.ewc)
    ewc_fisher: str | None = None  # the parent's Fisher file


@dataclass
class RunResult:
    """One invocation (a resumed run reports only its own steps)."""

    run_id: str
    status: str
    start_step: int
    steps_done: int
    losses: list[float]
    tokens: int
    usage: dict[str, ShardUsage]
    weights_path: str | None
    weights_sha256: str | None
    first_step_s: float | None  # from the call to the first step's report
    step_walls: list[float]  # perf_counter() at each step's report (includes checkpoints)
    device: str = "cpu"  # where it trained

    def add(self, step: int, loss: float, usage: dict[str, ShardUsage], *, t_call: float) -> None:
        """Count one step of this invocation; ``t_call`` is when the call began."""
        self.losses.append(loss)
        for shard, u in usage.items():
            old = self.usage.get(shard, ShardUsage(0, 0))
            self.usage[shard] = ShardUsage(old.tokens + u.tokens, old.records + u.records)
            self.tokens += u.tokens
        self.steps_done = step + 1
        now = time.perf_counter()
        if self.first_step_s is None:
            self.first_step_s = now - t_call
        self.step_walls.append(now)


def parse_override(item: str) -> tuple[str, Any]:
    """``n_layer=2`` -> ("n_layer", 2): values are JSON (numbers, true/false), else strings.

    Raises:
        InvalidInput: not KEY=VALUE.
    """
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(f"--set {item!r} is not KEY=VALUE (e.g. n_layer=2)")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def check_spec(spec: TrainSpec, *, vocab_size: int | None = None) -> GPTConfig:
    """Validate a spec before anything is written; return its model config (its vocabulary
    the tokenizer's, when ``vocab_size`` is given).

    Raises:
        InvalidInput: an unknown config or override, or a size or rate out of range.
    """
    overrides = dict(spec.overrides)
    if vocab_size is not None:
        overrides["vocab_size"] = vocab_size
    try:
        model_config = config_from(spec.config, **overrides)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"bad model config: {exc}") from exc
    for name in ("steps", "batch_size", "checkpoint_every"):
        value = getattr(spec, name)
        if type(value) is not int or value < 1:
            raise InvalidInput(f"{name} must be an int >= 1, got {value!r}")
    if type(spec.seed) is not int or spec.seed < 0:
        raise InvalidInput(f"seed must be an int >= 0, got {spec.seed!r}")
    if not spec.lr > 0 or spec.weight_decay < 0 or spec.grad_clip < 0 or not spec.heartbeat_s > 0:
        raise InvalidInput("need lr > 0, weight_decay >= 0, grad_clip >= 0 and heartbeat_s > 0")
    if not spec.ewc_lambda >= 0 or (spec.ewc_lambda > 0 and not spec.ewc_fisher):
        raise InvalidInput("EWC needs a strength >= 0 and, when > 0, the parent's Fisher file")
    if spec.warmup is not None and spec.warmup < 0:
        raise InvalidInput(f"warmup must be >= 0, got {spec.warmup}")
    out = Path(spec.out)
    if out.is_dir():
        raise InvalidInput(f"--out {spec.out} is a directory; name a .safetensors file")
    return model_config


def device_for(name: str) -> torch.device:
    """``trainer.train_loop.resolve_device`` for a user's ``--device``.

    Raises:
        InvalidInput: not a device, or one this machine lacks (nothing is written).
    """
    try:
        return resolve_device(name)
    except ValueError as exc:
        raise InvalidInput(f"device: {exc}", field="train.device") from exc


def _run_config(
    spec: TrainSpec, model_config: GPTConfig, growth: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = Path(spec.out).resolve()
    extra = {"growth": growth} if growth is not None else {}
    return extra | {
        "config_name": spec.config,
        "model": model_config.to_dict(),
        "train": {
            "steps": spec.steps,
            "batch_size": spec.batch_size,
            "lr": spec.lr,
            "warmup": spec.warmup if spec.warmup is not None else min(100, spec.steps // 10),
            "weight_decay": spec.weight_decay,
            "grad_clip": spec.grad_clip,
            "checkpoint_every": spec.checkpoint_every,
            **({"async_checkpoint": True} if spec.async_checkpoint else {}),
            "heartbeat_s": spec.heartbeat_s,
            "out": str(out),
            "checkpoint_dir": str(out.with_name(out.name + ".checkpoints")),
            "parent_weights": spec.parent_weights,
            **(
                {"ewc": {"lambda": spec.ewc_lambda, "fisher": spec.ewc_fisher}}
                if spec.ewc_lambda > 0
                else {}
            ),
        },
    }


def train_with_registry(
    client: RegistryClient,
    spec: TrainSpec | None = None,
    *,
    resume_run: str | None = None,
    threads: int | None = None,
    progress: bool = False,
    prefetch: bool = True,
    device: str = "auto",
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Open (or resume) a run, train it on its manifest's verified shards, stamp the weights.

    Give ``spec`` for a new run, or ``resume_run`` to continue an interrupted one with the
    config it was opened with. ``device`` and ``threads`` say where it runs, not what it is:
    a run may resume on another device (consumption stays exact; the numerics may differ).
    Under ``torchrun``, every rank calls it; the run is the job's. ``should_stop`` (asked
    after each step) asks for a clean stop: the step is checkpointed, then ``StopRequested``
    (a ``KeyboardInterrupt``) leaves the run interrupted at that checkpoint, to resume.

    Raises:
        InvalidInput: a bad spec (nothing is written).
        NotFound, PolicyViolation, Conflict: from the registry (no run is opened or resumed).
        TrainerError: a shard is missing, modified, revoked, unknown or not UTF-8, the loss
            diverged, or any other error stopped the run (``RunFailed``, naming the original):
            the run is marked failed with that message first. Ctrl-C (and SIGTERM, which the
            CLI turns into it) and an unreachable registry leave it interrupted, resumable.
    """
    t_call = time.perf_counter()
    if (spec is None) == (resume_run is None):
        raise InvalidInput("give either a training spec or a run to resume, not both")
    where = device_for(device)
    if spec is not None:
        vocab = None
        if spec.tokenizer not in (None, BYTES):
            vocab = client.tokenizer(spec.tokenizer).vocab_size  # type: ignore[arg-type]
        model_config = check_spec(spec, vocab_size=vocab)
        parent_run, growth = None, None
        if spec.grow_layers or spec.grow_width != 1.0:
            check_growth(spec.grow_layers, spec.grow_width)
            if spec.parent_weights is None:
                raise InvalidInput("growth grows trained weights: give the weights to continue")
        if spec.parent_weights is not None:
            growing = bool(spec.grow_layers) or spec.grow_width != 1.0
            parent_run = _parent_run(spec.parent_weights, model_config, growing=growing)
            if spec.grow_layers or spec.grow_width != 1.0:
                before = model_config
                model_config = grown_config(before, layers=spec.grow_layers, width=spec.grow_width)
                growth = growth_event(before, model_config, spec.grow_layers, spec.grow_width)
        config = _run_config(spec, model_config, growth)
        run = open_run(
            spec.manifest,
            client=client,
            config=config,
            seed=spec.seed,
            tokenizer=spec.tokenizer,
            parent_run=parent_run,
            checkpoint_dir=config["train"]["checkpoint_dir"],
        )
    else:
        run = open_run(resume=resume_run, client=client)
    with run:
        return _train(run, where, threads, progress, prefetch, t_call, should_stop)


def _parent_run(path: str, model_config: GPTConfig, *, growing: bool = False) -> str:
    _, stamp = load_weights(path)
    parent = GPTConfig.from_dict(stamp.config)
    if growing:  # growth keeps the vocabulary and context: say so, not just "another config"
        check_same_interface(parent, model_config)
    if parent != model_config:
        raise InvalidInput(f"{path} holds a {stamp.config} model, not the requested config")
    return stamp.run


def _train(
    run: Run,
    device: torch.device,
    threads: int | None,
    show: bool,
    prefetch: bool,
    t_call: float,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """The loop: each step is counted, shown, checkpointed when due, and only then the next one
    is taken; at the end the weights are stamped and the run completed (module docstring)."""
    hp = run.config["train"]
    model_config = GPTConfig.from_dict(run.config["model"])
    set_threads(threads)
    dataset = run.dataset(block_size=model_config.block_size, prefetch=prefetch)
    # Iterating starts loading (and verifying) the first shard now, while the model is built
    # and restored: time to first step is set-up or one shard, whichever is longer.
    batches = iter(dataset.loader(batch_size=hp["batch_size"]))
    model, optimizer, start = _model(run, model_config, device)
    trained: torch.nn.Module = model
    if run.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    steps, every = hp["steps"], hp["checkpoint_every"]
    penalty = None
    if hp.get("ewc"):
        from trainer.ewc import EWCPenalty

        penalty = EWCPenalty(model, hp["ewc"]["fisher"], hp["ewc"]["lambda"])
    result = RunResult(
        run.id, "running", start, start, [], 0, {}, None, None, None, [], str(device)
    )
    bar = _bar(show and run.is_main, steps, start, run.id)
    try:
        for step, batch in run.batches(batches, steps=steps):
            t0 = time.perf_counter()
            lr = lr_at(step, lr=hp["lr"], warmup=hp["warmup"], steps=steps)
            loss = optimizer_step(
                trained,
                optimizer,
                batch["input_ids"],
                step=step,
                lr=lr,
                grad_clip=hp["grad_clip"],
                penalty=penalty,
            )
            run.record(batch, step=step, loss=loss)  # trained on, not yet durable
            result.add(step, loss, batch["usage"], t_call=t_call)
            _show_step(bar, loss, batch, time.perf_counter() - t0)
            due = (step + 1) % every == 0
            stop = should_stop is not None and should_stop() and step + 1 < steps
            if (due or stop) and step + 1 < steps:  # the weights stand for the last
                # a stop waits for its checkpoint; otherwise as the run's config says
                run.checkpoint(model, optimizer, step=step,
                               wait=stop or not hp.get("async_checkpoint", False))  # fmt: skip
            if stop:
                raise StopRequested(f"stopped at step {step + 1}, checkpointed")
            crash_point("train.after_step")  # a kill here loses the steps since the checkpoint
    finally:
        dataset.close()  # stop reading ahead before the weights are written
        if bar is not None:
            bar.close()
    out = hp["out"]
    sha = run.save_weights(
        model, out, config=model.config.to_dict(), tensors=model_state_for_save(model)
    )
    done_run = run.complete()
    result.status, result.weights_path, result.weights_sha256 = done_run.status, out, sha
    return result


def _model(
    run: Run, model_config: GPTConfig, device: torch.device
) -> tuple[GPT, torch.optim.Optimizer, int]:
    """The model and optimizer to train, and the step to start from: the run's last
    checkpoint, else the parent run's weights, else a fresh model seeded by the run."""
    hp = run.config["train"]
    torch.manual_seed(run.seed)
    model = GPT(model_config).to(device)  # initialised on the CPU: the same on every device
    optimizer = make_optimizer(model, hp["lr"], hp["weight_decay"])
    start = run.restore(model, optimizer)
    if start == 0 and hp.get("parent_weights"):
        parent, _ = load_weights(hp["parent_weights"])
        growth = run.config.get("growth")
        if growth is not None:  # function-preserving: the grown model computes the parent's
            parent = grow(parent, layers=growth["layers"], width=growth["width"], seed=run.seed)
        model.load_state_dict(parent.state_dict())
    return model, optimizer, start


def _show_step(bar: Any, loss: float, batch: dict[str, Any], seconds: float) -> None:
    if bar is None:
        return
    tokens = batch["input_ids"].numel()
    rate = tokens / seconds if seconds > 0 else 0.0
    bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
    bar.update(1)


def _bar(show: bool, steps: int, start: int, run_id: str) -> Any:
    if not show:
        return None
    from tqdm import tqdm

    # In a log (no terminal), a line every 15 s instead of a redraw per step.
    interval = 0.1 if sys.stderr.isatty() else 15.0
    return tqdm(
        total=steps,
        initial=start,
        desc=f"run {run_id[:12]}",
        unit="step",
        file=sys.stderr,
        mininterval=interval,
        maxinterval=max(interval, 10.0),
    )
