"""``provreg train --follow``: one model that keeps learning as a dataset grows.

Each new set of shards in the followed dataset becomes an increment (``registry.continual``):
a child manifest of the previous increment's (delta + a deterministic replay sample), then one
run on it whose ``parent_run`` is the previous increment's and which starts from that run's
stamped weights, so each stamp's ``provreg.manifest_chain`` lists every manifest from the
first. After each increment the model is evaluated on the held-out shards of every manifest of
its chain (the forgetting table) and the increment's byte drift is measured; both are stored.

Where the follower is lives in the registry: started again with the same dataset and weights,
it finishes an increment whose run did not complete (resuming it from its checkpoint) and goes
on. A stop request (SIGTERM, see ``cli.train``) checkpoints the current step and stops cleanly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import torch

from registry import continual, runs
from registry.db.engine import transaction
from registry.entities.continual import FollowerOut, IncrementOut
from registry.errors import InvalidInput
from trainer.client import LocalRegistry
from trainer.evaluation import EvalShardSource, eval_blocks, eval_loss
from trainer.library import load_tokenizer
from trainer.run import RunResult, StopRequested, TrainSpec, train_with_registry
from trainer.weights import load_weights


@dataclass(frozen=True)
class FollowSpec:
    """How to follow: the per-increment training spec, the replay, the eval hold-out."""

    dataset: str
    from_weights: str
    replay: Decimal = Decimal(0)
    eval_fraction: Decimal = Decimal(0)
    steps: int = 200  # per increment
    batch_size: int = 16
    seed: int = 0
    checkpoint_every: int = 50
    lr: float = 3e-3
    warmup: int | None = None
    out_dir: str = "continual"
    heartbeat_s: float = runs.DEFAULT_HEARTBEAT_S
    grow_layers: int = 0  # applied to the first increment this invocation trains
    grow_width: float = 1.0
    ewc: float = 0.0  # > 0: EWC toward each parent, Fisher from the parent's data (trainer.ewc)
    evaluate: bool = True  # the bench turns it off to time the bare overhead
    measure_drift: bool = True


@dataclass
class IncrementResult:
    increment: IncrementOut
    run: RunResult | None  # None: the run had completed before this invocation
    seconds_freeze: float = 0.0
    seconds_train: float = 0.0


@dataclass
class FollowResult:
    follower: FollowerOut
    increments: list[IncrementResult] = field(default_factory=list)
    stopped: bool = False  # a stop request ended it


class Follower:
    """The follower over a local registry (the database: increments are frozen in it)."""

    def __init__(self, client: LocalRegistry, spec: FollowSpec, *, threads: int | None = None,
                 device: str = "auto", progress: bool = False) -> None:  # fmt: skip
        self.client, self.spec = client, spec
        self.threads, self.device, self.progress = threads, device, progress
        self.stop_event = threading.Event()
        self._grown = False
        self.follower = self._start()

    # -- the registry, one transaction a call ------------------------------------------------

    def _tx(self, write: bool = True) -> Any:
        return transaction(self.client.engine, actor=self.client.actor, write=write)

    def _start(self) -> FollowerOut:
        """Check everything before anything is written: the replay, the dataset, the weights'
        stamp against the registry; then find or create the follower.

        Raises:
            InvalidInput: a replay outside [0, 1), bad growth, weights whose stamp fails.
            NotFound: the dataset or the weights file does not exist.
        """
        s = self.spec
        continual.check_replay(s.replay)
        if not s.ewc >= 0:
            raise InvalidInput(f"the EWC strength must be >= 0, got {s.ewc}", field="continual.ewc")
        if s.grow_layers or s.grow_width != 1.0:
            from trainer.growth import check_growth

            check_growth(s.grow_layers, s.grow_width)
        with self._tx(write=False) as session:
            report = runs.verify_weights(session, s.from_weights)
        if not report.ok or report.stamp is None:
            raise InvalidInput(
                f"the weights {s.from_weights} do not verify against this registry: "
                + "; ".join(report.problems or ["no stamp"]),
                field="continual.from_weights",
            )
        settings = {
            "steps": s.steps, "batch_size": s.batch_size, "lr": s.lr,
            "checkpoint_every": s.checkpoint_every, "out_dir": str(Path(s.out_dir).resolve()),
            "origin_path": str(Path(s.from_weights).resolve()),
        }  # fmt: skip
        with self._tx() as session:
            out, _ = continual.follow(
                session,
                dataset=s.dataset,
                origin_run=report.stamp["run"],
                origin_weights=report.sha256,
                replay=s.replay,
                eval_fraction=s.eval_fraction,
                seed=s.seed,
                settings=settings,
            )
        return out

    def increments(self) -> list[IncrementOut]:
        with self._tx(write=False) as session:
            return continual.increments(session, self.follower.id)

    # -- the loop -------------------------------------------------------------------------------

    def run(self, *, once: bool = False, every: float = 60.0,
            on_increment: Callable[[IncrementResult], None] | None = None) -> FollowResult:  # fmt: skip
        """Train every pending increment; with ``once``, stop when nothing is new, else look
        again every ``every`` seconds until a stop request."""
        result = FollowResult(self.follower)
        while not self.stop_event.is_set():
            try:
                done = self._step()
            except StopRequested:  # checkpointed; the run is interrupted, to resume
                break
            if done is None:
                if once:
                    break
                self.stop_event.wait(every)
                continue
            result.increments.append(done)
            if on_increment is not None:
                on_increment(done)
        result.stopped = self.stop_event.is_set()
        return result

    def _step(self) -> IncrementResult | None:
        """The next increment trained: an unfinished one first, else a new one (None: none)."""
        known = self.increments()
        if known and known[-1].status != "trained":
            return self._train(known[-1], known[:-1])
        previous = known[-1].run if known else self.follower.origin_run
        assert previous is not None
        t0 = time.perf_counter()
        with self._tx() as session:
            inc = continual.freeze_next(session, self.follower.id, previous_run=previous)
        if inc is None:
            return None
        frozen = time.perf_counter() - t0
        out = self._train(inc, known)
        out.seconds_freeze = frozen
        return out

    def _parent(self, before: list[IncrementOut]) -> tuple[str, str]:
        """The run and weights file the increment continues from."""
        if not before:
            return self.follower.origin_run, self.spec.from_weights
        run = self.client.get_run(before[-1].run or "")
        if not run.weights:
            raise InvalidInput(f"increment {before[-1].number}'s run {run.id} has no weights")
        return run.id, run.weights[-1].path

    def _train(self, inc: IncrementOut, before: list[IncrementOut]) -> IncrementResult:
        s = self.spec
        parent_run, parent_weights = self._parent(before)
        t0 = time.perf_counter()
        with self._tx(write=False) as session:
            mine = [
                r for r in runs.list_runs(session, manifest=inc.manifest)
                if r.parent_run == parent_run
            ]  # fmt: skip
        stop = self.stop_event.is_set
        trained: RunResult | None = None
        if mine and mine[0].status == "completed":
            run_id = mine[0].id
        elif mine:  # interrupted (a kill, a stop request): resume it from its checkpoint
            trained = train_with_registry(
                self.client, resume_run=mine[0].id, threads=self.threads,
                progress=self.progress, device=self.device, should_stop=stop,
            )  # fmt: skip
            run_id = trained.run_id
        else:
            _, stamp = load_weights(parent_weights)
            grow = not self._grown and (s.grow_layers or s.grow_width != 1.0)
            spec = TrainSpec(
                manifest=inc.manifest,
                config="tiny",
                overrides=dict(stamp.config),  # the parent's own architecture
                steps=s.steps,
                batch_size=s.batch_size,
                seed=s.seed + inc.number,
                checkpoint_every=s.checkpoint_every,
                out=str(Path(s.out_dir) / f"increment-{inc.number:04d}.safetensors"),
                lr=s.lr,
                warmup=s.warmup,
                heartbeat_s=s.heartbeat_s,
                parent_weights=parent_weights,
                tokenizer=stamp.tokenizer,
            )
            if grow:
                spec = replace(spec, grow_layers=s.grow_layers, grow_width=s.grow_width)
            if s.ewc > 0:
                fisher = self._fisher(parent_run, parent_weights)
                spec = replace(spec, ewc_lambda=s.ewc, ewc_fisher=str(fisher))
            trained = train_with_registry(
                self.client, spec, threads=self.threads, progress=self.progress,
                device=self.device, should_stop=stop,
            )  # fmt: skip
            self._grown = self._grown or bool(grow)
            run_id = trained.run_id
        seconds = time.perf_counter() - t0
        with self._tx() as session:
            continual.attach_run(session, self.follower.id, inc.number, run_id)
        done = self._measure(inc, run_id, parent_run)
        return IncrementResult(done, trained, seconds_train=seconds)

    def _fisher(self, parent_run: str, parent_weights: str) -> Path:
        """The parent's Fisher file (``trainer.ewc``), estimated on the parent run's training
        shards with the parent's weights if it is not there yet."""
        from trainer.ewc import fisher_path, save_fisher

        path = fisher_path(parent_weights)
        if path.is_file():
            return path
        run = self.client.get_run(parent_run)
        model, _ = load_weights(parent_weights)
        return save_fisher(
            parent_weights,
            model,
            self.client.shard_source(run.manifest),
            self.client.shard_ids(run.manifest),
            load_tokenizer(self.client, run.tokenizer),
        )

    def _measure(self, inc: IncrementOut, run_id: str, parent_run: str) -> IncrementOut:
        """Drift vs the ancestors, losses on every eval set of the chain; stored with the
        increment (which is then ``trained``)."""
        run = self.client.get_run(run_id)
        store = self.client.store
        drift = None
        with self._tx(write=False) as session:
            ancestors = continual.effective_shards(session, parent_run)
            chain = runs.manifest_chain(session, run_id)
            sets = {m: continual.eval_shards(session, m) for m in chain}
            if self.spec.measure_drift:
                drift = continual.increment_drift(session, store, inc.delta_shards, ancestors)
        losses = None
        if self.spec.evaluate and any(sets.values()):
            model, _ = load_weights(run.weights[-1].path)
            tok = load_tokenizer(self.client, run.tokenizer)
            losses = {}
            for manifest, ids in sets.items():
                if not ids:
                    continue
                source = EvalShardSource(self.client.engine, store, manifest)
                blocks = eval_blocks(source, ids, tok, block_size=model.config.block_size)
                value = eval_loss(model, blocks)
                if value is not None:
                    losses[manifest] = round(value, 6)
            del model
            torch.set_grad_enabled(True)
        with self._tx() as session:
            return continual.record_results(
                session,
                self.follower.id,
                inc.number,
                drift=drift,
                eval_losses=losses,
                growth=run.config.get("growth"),
            )
