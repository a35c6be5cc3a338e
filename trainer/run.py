"""A training run bound to the registry: manifest in, consumption and stamped weights out.

The order of writes is what keeps the registry honest when a process dies at any point:

1. every ``checkpoint_every`` steps: the checkpoint file is written (atomically) first, then
   ONE transaction adds the consumption of the steps since the previous checkpoint and moves
   the cursor and step count to that checkpoint's; the older checkpoint is deleted after it;
2. at the end: the stamped weights file is written first, then ONE transaction adds the last
   consumption, records the weights' SHA-256 and completes the run.

So the registry never names a file that is not there, and the consumption it holds is exactly
that of the steps before its cursor. A resumed run starts from that cursor and checkpoint, and
counts every later token once. Only steps whose optimizer update completed are counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import registry
from manifests.stamp import WeightsStamp
from registry.entities.runs import Progress, RunOut
from registry.errors import (
    Conflict,
    DatabaseUnavailable,
    IntegrityFailure,
    InvalidInput,
    ProvregError,
)
from registry.faults import crash_point
from registry.runs import DEFAULT_HEARTBEAT_S, loss_summary
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.client import RegistryClient
from trainer.data import BatchStream, Cursor, ShardUsage
from trainer.errors import RunFailed, TrainerError
from trainer.model import GPT, GPTConfig, config_from
from trainer.reader import verified_loader
from trainer.tokenizer import IDENTITY, ByteTokenizer
from trainer.train_loop import (
    StepResult,
    make_optimizer,
    resolve_device,
    set_threads,
    train_steps,
)
from trainer.weights import load_weights, save_weights


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
    out: str = "model.safetensors"
    lr: float = 3e-3
    warmup: int | None = None  # default: steps // 10, at most 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    parent_weights: str | None = None  # continue training from these stamped weights


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

    def add(self, r: StepResult, *, t_call: float) -> None:
        """Count one step of this invocation; ``t_call`` is when the call began."""
        self.losses.append(r.loss)
        self.tokens += r.tokens
        for shard, u in r.attribution.items():
            old = self.usage.get(shard, ShardUsage(0, 0))
            self.usage[shard] = ShardUsage(old.tokens + u.tokens, old.records + u.records)
        self.steps_done = r.step + 1
        now = time.perf_counter()
        if self.first_step_s is None:
            self.first_step_s = now - t_call
        self.step_walls.append(now)


def check_spec(spec: TrainSpec) -> GPTConfig:
    """Validate a spec before anything is written; return its model config.

    Raises:
        InvalidInput: an unknown config or override, or a size or rate out of range.
    """
    try:
        model_config = config_from(spec.config, **spec.overrides)
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


@functools.cache
def code_version() -> str:
    """This package's version and, in a git checkout, its commit (asked of git once a process)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"provreg {registry.__version__}"
    return f"provreg {registry.__version__}+g{sha}"


def _run_config(spec: TrainSpec, model_config: GPTConfig) -> dict[str, Any]:
    out = Path(spec.out).resolve()
    return {
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
            "heartbeat_s": spec.heartbeat_s,
            "out": str(out),
            "checkpoint_dir": str(out.with_name(out.name + ".checkpoints")),
            "parent_weights": spec.parent_weights,
        },
    }


class _Heartbeat:
    """Touches the run's heartbeat from a background thread, so ``run show`` can tell a live
    run from a killed one whatever a step costs."""

    def __init__(self, client: RegistryClient, run_id: str, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(client, run_id, interval), name="heartbeat", daemon=True
        )

    def _beat(self, client: RegistryClient, run_id: str, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                client.heartbeat(run_id)
            except ProvregError as exc:
                print(f"provreg: warning: {exc.detail}", file=sys.stderr)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class _Pending:
    """What has been trained on since the last recorded checkpoint."""

    usage: dict[str, list[int]] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    cursor: Cursor | None = None
    steps_done: int = 0

    def add(self, r: StepResult) -> None:
        for shard, u in r.attribution.items():
            acc = self.usage.setdefault(shard, [0, 0])
            acc[0] += u.tokens
            acc[1] += u.records
        self.losses.append(r.loss)
        self.cursor, self.steps_done = r.cursor, r.step + 1

    def reset(self) -> None:
        self.usage, self.losses, self.cursor = {}, [], None

    def progress(self, checkpoint: str | None, summary: dict[str, Any] | None) -> Progress:
        if self.cursor is None:  # pragma: no cover - callers check steps first
            raise RuntimeError("nothing to record")
        return Progress(
            steps_done=self.steps_done,
            cursor=self.cursor.to_dict(),
            consumption_delta={k: (t, r) for k, (t, r) in self.usage.items()},
            checkpoint_path=checkpoint,
            loss_summary=summary,
        )


def train_with_registry(
    client: RegistryClient,
    spec: TrainSpec | None = None,
    *,
    resume_run: str | None = None,
    threads: int | None = None,
    progress: bool = False,
    prefetch: bool = True,
    device: str = "auto",
) -> RunResult:
    """Open (or resume) a run, train it on its manifest's verified shards, stamp the weights.

    Give ``spec`` for a new run, or ``resume_run`` to continue an interrupted one with the
    config it was opened with. ``device`` and ``threads`` say where it runs, not what it is:
    a run may resume on another device (consumption stays exact; the numerics may differ).

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
        model_config = check_spec(spec)
        parent_run = None
        if spec.parent_weights is not None:
            parent_run = _parent_run(spec.parent_weights, model_config)
        run = client.open_run(
            manifest_ref=spec.manifest,
            config=_run_config(spec, model_config),
            seed=spec.seed,
            tokenizer=IDENTITY,
            code_version=code_version(),
            parent_run_id=parent_run,
        )
    else:
        run = client.resume_run(resume_run)  # type: ignore[arg-type]
    try:
        return _train(client, run, where, threads, progress, prefetch, t_call)
    except TrainerError as exc:
        exc.provreg_run = run.id  # type: ignore[attr-defined]
        client.fail_run(run.id, str(exc), getattr(exc, "provreg_pending", None))
        raise
    except (KeyboardInterrupt, SystemExit, DatabaseUnavailable):
        # Ctrl-C, SIGTERM, or the registry out of reach: resumable, not failed
        with contextlib.suppress(ProvregError):
            client.mark_interrupted(run.id)
        raise
    except Conflict:
        raise  # the run is no longer this process's (taken over, or finished): not ours to mark
    except Exception as exc:  # anything else stops the run for good: failed, with the reason
        failure = RunFailed(f"{type(exc).__name__}: {exc}")
        failure.provreg_run = run.id  # type: ignore[attr-defined]
        with contextlib.suppress(ProvregError):
            client.fail_run(run.id, str(failure))
        raise failure from exc


def _parent_run(path: str, model_config: GPTConfig) -> str:
    _, stamp = load_weights(path)
    if GPTConfig.from_dict(stamp.config) != model_config:
        raise InvalidInput(f"{path} holds a {stamp.config} model, not the requested config")
    return stamp.run


def _train(
    client: RegistryClient,
    run: RunOut,
    device: torch.device,
    threads: int | None,
    show: bool,
    prefetch: bool,
    t_call: float,
) -> RunResult:
    cfg = run.config
    hp = cfg["train"]
    model_config = GPTConfig.from_dict(cfg["model"])
    set_threads(threads)
    # The stream starts loading (and verifying) the first shard now, while the model is built
    # and restored: time to first step is set-up or one shard, whichever is longer.
    with BatchStream(
        client.shard_ids(run.manifest),
        verified_loader(client.shard_source(run.manifest)),
        batch_size=hp["batch_size"],
        block_size=model_config.block_size,
        seed=run.seed,
        start=Cursor.from_dict(run.cursor) if run.steps_done and run.cursor else None,
        prefetch=prefetch,
        tokenizer=ByteTokenizer(),
    ) as batches:
        return _train_on(client, run, model_config, batches, device, show, t_call)


def _train_on(
    client: RegistryClient,
    run: RunOut,
    model_config: GPTConfig,
    batches: BatchStream,
    device: torch.device,
    show: bool,
    t_call: float,
) -> RunResult:
    """The loop: each step is counted, shown, checkpointed when due, and only then the next one
    is taken; at the end the weights are stamped and the run completed (module docstring)."""
    hp = run.config["train"]
    model, optimizer, start = _model(run, model_config, device)
    checkpoints = _Checkpoints(
        Path(hp["checkpoint_dir"]) / run.id,
        every=hp["checkpoint_every"],
        steps=hp["steps"],
        last=run.checkpoint_path,
        summary=run.loss_summary,
    )
    pending = _Pending()
    result = RunResult(
        run.id, "running", start, start, [], 0, {}, None, None, None, [], str(device)
    )
    bar = _bar(show, hp["steps"], start, run.id)
    try:
        with _Heartbeat(client, run.id, float(hp["heartbeat_s"])):
            for r in train_steps(
                model,
                batches,
                steps=hp["steps"],
                lr=hp["lr"],
                warmup=hp["warmup"],
                weight_decay=hp["weight_decay"],
                grad_clip=hp["grad_clip"],
                device=str(device),
                start_step=start,
                optimizer=optimizer,
            ):
                pending.add(r)  # trained on, not yet in the registry
                result.add(r, t_call=t_call)
                _show_step(bar, r)
                if checkpoints.due(r):
                    checkpoints.save_and_record(client, run.id, model, optimizer, r, pending)
                crash_point("train.after_step")  # a kill here loses the steps since the checkpoint
        batches.close()  # stop reading ahead before the weights are written
    except ProvregError:
        raise  # the registry's answer (a Conflict, out of reach): train_with_registry decides
    except Exception as exc:
        failure = (
            exc if isinstance(exc, TrainerError) else RunFailed(f"{type(exc).__name__}: {exc}")
        )
        if pending.cursor is not None:  # the optimizer did take those steps: consumed
            failure.provreg_pending = pending.progress(None, checkpoints.summary_with(pending))  # type: ignore[attr-defined]
        if failure is exc:
            raise
        raise failure from exc
    finally:
        if bar is not None:
            bar.close()
    out = hp["out"]
    sha = _stamp_weights(client, run, model, out)
    final = pending.progress(checkpoints.last, checkpoints.summary_with(pending))
    done_run = client.complete_run(run.id, final, sha256=sha, path=out, size=os.path.getsize(out))
    checkpoints.drop_last()  # the weights supersede it; a done run never resumes
    return dataclasses.replace(result, status=done_run.status, weights_path=out, weights_sha256=sha)


def _model(
    run: RunOut, model_config: GPTConfig, device: torch.device
) -> tuple[GPT, torch.optim.Optimizer, int]:
    """The model and optimizer to train, and the step to start from: the run's last
    checkpoint, else the parent run's weights, else a fresh model seeded by the run."""
    hp = run.config["train"]
    torch.manual_seed(run.seed)
    model = GPT(model_config).to(device)  # initialised on the CPU: the same on every device
    optimizer = make_optimizer(model, hp["lr"], hp["weight_decay"])
    start = _restore(run, model, optimizer)
    if start == 0 and hp.get("parent_weights"):
        parent, _ = load_weights(hp["parent_weights"])
        model.load_state_dict(parent.state_dict())
    return model, optimizer, start


@dataclass
class _Checkpoints:
    """Where the run's checkpoints go, and what the registry holds of them: the last one
    recorded and the loss summary up to it."""

    directory: Path
    every: int
    steps: int
    last: str | None
    summary: dict[str, Any] | None

    def due(self, r: StepResult) -> bool:
        """Every ``every`` steps, except the last step: the weights stand for that one."""
        done = r.step + 1
        return done % self.every == 0 and done < self.steps

    def summary_with(self, pending: _Pending) -> dict[str, Any]:
        return loss_summary(pending.losses, self.summary)

    def save_and_record(
        self,
        client: RegistryClient,
        run_id: str,
        model: GPT,
        optimizer: torch.optim.Optimizer,
        r: StepResult,
        pending: _Pending,
    ) -> None:
        """Write the checkpoint file, then record it with the consumption since the previous
        one in one transaction, then delete the previous file: the registry never names a
        checkpoint that is not on disk."""
        done = r.step + 1
        path = self.directory / f"step-{done:08d}.safetensors"
        save_checkpoint(path, model, optimizer, {"steps_done": done, "cursor": r.cursor.to_dict()})
        self.summary = self.summary_with(pending)
        client.record_progress(run_id, pending.progress(str(path), self.summary))
        if self.last and self.last != str(path):
            Path(self.last).unlink(missing_ok=True)
        self.last = str(path)
        pending.reset()

    def drop_last(self) -> None:
        """The run is done: its last checkpoint goes, and so do the temporary files of any
        checkpoint write a killed process of this run left (the directory is the run's own)."""
        if self.last:
            Path(self.last).unlink(missing_ok=True)
        for leftover in self.directory.glob(".step-*.safetensors.*.tmp"):
            leftover.unlink(missing_ok=True)


def _show_step(bar: Any, r: StepResult) -> None:
    if bar is None:
        return
    rate = r.tokens / r.seconds if r.seconds > 0 else 0.0
    bar.set_postfix(loss=f"{r.loss:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
    bar.update(1)


def _stamp_weights(client: RegistryClient, run: RunOut, model: GPT, out: str) -> str:
    """Write the trained weights to ``out``, stamped with where they came from; their SHA-256."""
    manifest = client.manifest(run.manifest)
    stamp = WeightsStamp(
        manifest=run.manifest,
        manifest_chain=tuple(client.manifest_chain(run.id)),
        run=run.id,
        registry=client.url,
        merkle_root=manifest.merkle_root,
        config=model.config.to_dict(),
        tokenizer=IDENTITY,
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return save_weights(out, model, stamp)


def _restore(run: RunOut, model: GPT, optimizer: torch.optim.Optimizer) -> int:
    """The step to start from: the run's last recorded checkpoint (loaded into ``model`` and
    ``optimizer``, and agreeing with the run's cursor), or 0.

    Raises:
        IntegrityFailure: the recorded checkpoint is missing or disagrees with the registry.
    """
    if run.steps_done == 0:
        return 0
    if not run.checkpoint_path or run.cursor is None:
        raise IntegrityFailure(f"run {run.id} recorded {run.steps_done} steps but no checkpoint")
    try:
        meta = load_checkpoint(run.checkpoint_path, model, optimizer)
    except FileNotFoundError as exc:
        raise IntegrityFailure(
            f"run {run.id}'s checkpoint {run.checkpoint_path} is missing; it cannot resume"
        ) from exc
    if meta.get("steps_done") != run.steps_done or meta.get("cursor") != run.cursor:
        raise IntegrityFailure(
            f"checkpoint {run.checkpoint_path} is at step {meta.get('steps_done')}, "
            f"the registry says run {run.id} is at step {run.steps_done}"
        )
    return run.steps_done


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
