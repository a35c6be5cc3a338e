"""The run handle: manifest-pinned data, exact consumption and stamped weights for any loop.

``open_run`` opens (or resumes) a run on the registry and returns a ``Run``; the loop reads
``run.dataset(...)``, trains, and tells the run what it did::

    run = open_run("web-v1", config={"model": "lstm"}, seed=0)
    loader = run.dataset(block_size=128).loader(batch_size=16)
    for step, batch in run.batches(loader, steps=1000):
        loss = train_step(model, optimizer, batch["input_ids"])
        run.record(batch, step=step, loss=loss)          # the optimizer consumed it
        if (step + 1) % 100 == 0:
            run.checkpoint(model, optimizer, step=step)  # durable: file, then one transaction
    run.save_weights(model, "model.safetensors")         # stamped safetensors
    run.complete()

Counting. Only what ``record`` was told is counted, and it becomes durable at ``checkpoint``
(the checkpoint file first, then ONE transaction with the consumption since the previous one
and the data position) and at ``complete`` (the stamped weights file first, then one
transaction with the last consumption, the weights' digest and ``completed``). A batch fetched
but never trained on is never counted, and a resumed run starts at the recorded position.

Failing. Used as a context manager, a ``TrainerError`` (a shard that fails verification, is
revoked or unknown) fails the run with the steps it did take; any other exception (Ctrl-C, a
lost database) marks it interrupted, so ``open_run(resume=RUN)`` continues it.

Distributed. Under ``torchrun`` (``torch.distributed`` initialised) the handle knows its
``rank`` and ``world_size``: rank 0 opens or resumes the run and broadcasts it; each rank reads
its own shard positions (``trainer.dataset``) and verifies what it reads; ``batches`` agrees
with every rank before each step, so a rank that fails verification fails the run on all;
``checkpoint`` and ``complete`` gather every rank's usage to rank 0, which writes the file and
makes one durable record. A run resumes only with the world size it was recorded with (the
shard positions are split by rank: another world size would read other positions), and the
refusal changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

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
from registry.runs import heartbeat_interval, loss_summary
from registry.shards.token_count import TOKENIZER as BYTES
from trainer import distributed
from trainer.checkpoint import checkpoint_state, load_checkpoint, write_checkpoint
from trainer.client import RegistryClient
from trainer.data import ShardUsage, lower_thread_priority
from trainer.dataset import DataPlan, ManifestDataset, state_from_cursor
from trainer.errors import RunFailed, TrainerError
from trainer.stamping import module_state, write_stamped_weights
from trainer.tokenizer import ByteTokenizer, TokenEncoder


class PeerFailedError(TrainerError):
    """Another rank of the job stopped (it failed verification); this rank stops with it."""


def connect(
    registry_url: str | None = None, *, token: str | None = None, store: str | None = None
) -> RegistryClient:
    """The registry to talk to: an ``http(s)://`` API (with a trainer token), a database URL,
    or, by default, ``PROVREG_DATABASE_URL``; shards come from ``store`` (``PROVREG_STORE``)."""
    from registry.config import get_settings

    settings = get_settings()
    store = store or settings.store
    if registry_url is not None and registry_url.startswith(("http://", "https://")):
        from trainer.http_client import HttpRegistry

        return HttpRegistry(registry_url, token or os.environ.get("PROVREG_TOKEN", ""), store=store)
    from registry.db.engine import make_engine
    from registry.db.migrate import ensure_at_head
    from trainer.client import LocalRegistry

    engine = make_engine(registry_url or settings.database_url)
    ensure_at_head(engine)
    return LocalRegistry(engine, store=store, actor=settings.actor)


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


def load_tokenizer(client: RegistryClient, identity: str) -> TokenEncoder:
    """The tokenizer a run names: bytes, or a registered file checked against its SHA-256."""
    if identity == BYTES:
        return ByteTokenizer()
    from trainer.bpe import BPETokenizer

    return BPETokenizer(client.tokenizer_file(identity), identity=identity)


def _tokenizer_id(client: RegistryClient, ref: str | None) -> str:
    if ref is None or ref == BYTES:
        return BYTES
    return client.tokenizer(ref).id


_Box = tuple[type[ProvregError], str, str | None]


def _error_box(exc: ProvregError) -> _Box:
    """A registry error, to be raised again on the other ranks (the same class and words)."""
    return type(exc), exc.detail, exc.field


def _raise_box(box: _Box) -> None:
    cls, detail, field_ = box
    exc = cls.__new__(cls)
    ProvregError.__init__(exc, detail, field=field_)
    if not hasattr(exc, "violations"):
        exc.violations = []  # type: ignore[attr-defined]
    raise exc


@dataclass
class _Pending:
    """What the optimizer consumed since the last durable record."""

    usage: dict[str, list[int]] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    steps_done: int | None = None

    def add(self, usage: Mapping[str, ShardUsage], step: int, loss: float | None) -> None:
        self.add_usage(usage)
        if loss is not None:
            self.losses.append(float(loss))
        self.steps_done = step + 1

    def add_usage(self, usage: Mapping[str, ShardUsage] | Mapping[str, tuple[int, int]]) -> None:
        for shard, u in usage.items():
            acc = self.usage.setdefault(shard, [0, 0])
            acc[0] += int(u[0])
            acc[1] += int(u[1])

    def reset(self) -> None:
        self.usage, self.losses = {}, []


@dataclass
class _Inflight:
    """An asynchronous checkpoint that rank 0's writer thread is writing and recording, with
    what the handle held before it (restored if it fails)."""

    future: Future[RunOut]
    progress: Progress
    previous_path: str | None
    previous_steps: int


def _sum_usage(parts: Iterable[Mapping[str, list[int]]]) -> dict[str, tuple[int, int]]:
    total: dict[str, list[int]] = {}
    for part in parts:
        for shard, (t, r) in part.items():
            acc = total.setdefault(shard, [0, 0])
            acc[0] += t
            acc[1] += r
    return {k: (t, r) for k, (t, r) in sorted(total.items())}


class _Heartbeat:
    """Touches the run's heartbeat from a background thread (rank 0 only), so ``run show``
    tells a live run from a killed one whatever a step costs."""

    def __init__(self, client: RegistryClient, run_id: str, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(client, run_id, interval), name="heartbeat", daemon=True
        )
        self._thread.start()

    def _beat(self, client: RegistryClient, run_id: str, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                client.heartbeat(run_id)
            except ProvregError as exc:
                print(f"provreg: warning: {exc.detail}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Run:
    """A training run bound to the registry (see the module docstring). Make one with
    ``open_run``."""

    def __init__(
        self,
        client: RegistryClient,
        out: RunOut,
        *,
        tokenizer: TokenEncoder,
        checkpoint_dir: str | os.PathLike[str],
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.info = out
        self.tokenizer = tokenizer
        self.rank, self.world_size = distributed.rank_and_world()
        self.start_step = out.steps_done  # where this invocation starts
        self._owns_client = owns_client
        self._pending = _Pending()
        self._dataset: ManifestDataset | None = None
        self._state = state_from_cursor(out.cursor) if out.steps_done else None
        self._last_checkpoint = out.checkpoint_path
        self._summary = out.loss_summary
        self._recorded_steps = out.steps_done
        self._weights: tuple[str, str, int] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: _Inflight | None = None
        self._ended = False
        self._shard_ids: tuple[str, ...] | None = None
        train = out.config.get("train")
        named = train.get("checkpoint_dir") if isinstance(train, dict) else None
        if out.checkpoint_path:
            self.checkpoint_dir = Path(out.checkpoint_path).parent
        else:  # the run's config may name where (provreg train's does), else the argument
            self.checkpoint_dir = Path(named or checkpoint_dir) / out.id
        self._heartbeat = (
            _Heartbeat(client, out.id, heartbeat_interval(out.config)) if self.rank == 0 else None
        )

    # -- what it is ---------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def manifest(self) -> str:
        return self.info.manifest

    @property
    def seed(self) -> int:
        return self.info.seed

    @property
    def config(self) -> dict[str, Any]:
        return self.info.config

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and talks to the registry for the job."""
        return self.rank == 0

    def shard_ids(self) -> tuple[str, ...]:
        if self._shard_ids is None:
            self._shard_ids = tuple(sorted(self.client.shard_ids(self.manifest)))
        return self._shard_ids

    def data_plan(self) -> DataPlan:
        """What this rank's datasets read: the manifest's shards through the verified reader."""
        return DataPlan(
            shard_ids=self.shard_ids(),
            source=self.client.shard_source(self.manifest),
            seed=self.seed,
            tokenizer=self.tokenizer,
            rank=self.rank,
            world_size=self.world_size,
        )

    # -- data -----------------------------------------------------------------------------------

    def dataset(
        self,
        block_size: int | None = None,
        *,
        records: bool = False,
        max_epochs: int | None = None,
        prefetch: bool = True,
    ) -> ManifestDataset:
        """The manifest's token blocks of ``block_size + 1`` tokens (or, ``records=True``, its
        records' texts), starting where the run's last checkpoint left off (``ManifestDataset``)."""
        return ManifestDataset(
            self, block_size=block_size, records=records, max_epochs=max_epochs, prefetch=prefetch
        )

    def _adopt(self, dataset: ManifestDataset) -> None:
        """``ManifestDataset(run, ...)``: the run's training data; it resumes where the run is."""
        dataset.load_state_dict(self._state)
        self._dataset = dataset

    def batches(
        self, loader: Iterable[Any], *, steps: int | None = None
    ) -> Iterator[tuple[int, Any]]:
        """``(step, batch)`` from ``loader``, numbered from the run's recorded steps, up to
        ``steps`` in all. Under ``torchrun`` every rank agrees before each step: when one rank's
        data fails verification (or ends), every rank stops, and the run is failed once with
        that rank's error and the steps the job did take."""
        step = self.start_step
        it = iter(loader)
        while steps is None or step < steps:
            failure: BaseException | None = None
            batch = None
            try:
                batch = next(it)
                flag = 0
            except StopIteration:
                flag = 1
            except TrainerError as exc:
                failure, flag = exc, 2
            if self.world_size > 1:
                flag = distributed.any_rank(flag)
            if flag == 2:
                self._fail_all(failure)
            if flag == 1:
                return
            yield step, batch
            step += 1

    def _fail_all(self, failure: BaseException | None) -> None:
        """Fail the run once, with the first failing rank's error and every rank's steps."""
        if self.world_size == 1:
            assert failure is not None
            raise failure
        errors = distributed.all_gather(str(failure) if failure is not None else None)
        culprit = next(i for i, e in enumerate(errors) if e is not None)
        message = errors[culprit] if culprit == 0 else f"rank {culprit}: {errors[culprit]}"
        with contextlib.suppress(Exception):  # a checkpoint that failed is counted below
            self._settle()
        progress = self._gathered_progress(checkpoint=self._last_checkpoint)
        if self.is_main:
            self.client.fail_run(self.id, message, progress)
        self._finish()
        if failure is not None:
            raise failure
        raise PeerFailedError(f"run {self.id} failed on {message}")

    # -- counting -------------------------------------------------------------------------------

    def record(self, batch: Mapping[str, Any], *, step: int, loss: float | None = None) -> None:
        """The optimizer step ``step`` (0-based) trained on ``batch``: count it (durable at the
        next ``checkpoint`` or ``complete``)."""
        if (
            type(step) is not int
            or step < self._recorded_steps
            or (self._pending.steps_done is not None and step < self._pending.steps_done)
        ):
            raise InvalidInput(f"step {step!r} is behind the run's {self._recorded_steps} steps")
        self._pending.add(batch["usage"], step, loss)
        if self._dataset is not None and "positions" in batch:
            self._dataset.consumed(batch)

    def _data_state(self) -> dict[str, Any] | None:
        if self._dataset is not None:
            return self._dataset.state_dict()
        return self._state

    def _gathered_progress(self, *, checkpoint: str | None) -> Progress | None:
        """Every rank's pending usage and data position, summed on rank 0 (None elsewhere, and
        when no step is pending)."""
        mine = (self._pending.usage, self._data_state(), self._pending.steps_done)
        parts = distributed.all_gather(mine)
        steps = parts[0][2]  # the ranks step together: rank 0's count is every rank's
        if steps is None:
            return None
        states = [p[1] for p in parts if p[1] is not None]
        if len(states) > 1:
            from trainer.dataset import merge_states

            cursor: dict[str, Any] = merge_states(states)
        else:
            cursor = states[0] if states else {}
        return Progress(
            steps_done=int(steps),
            cursor=cursor,
            consumption_delta=_sum_usage(p[0] for p in parts),
            checkpoint_path=checkpoint,
            loss_summary=loss_summary(self._pending.losses, self._summary),
        )

    def checkpoint(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        step: int,
        wait: bool = True,
    ) -> None:
        """Make everything recorded up to step ``step`` durable: rank 0 writes the checkpoint
        file (model, optimizer, data position), then ONE transaction records the consumption
        since the previous checkpoint with the position; the older file is deleted after.

        ``wait=False`` checkpoints asynchronously, as ``torch.distributed.checkpoint.async_save``
        does: the model and optimizer state are copied now, and the file and the transaction
        are written by a writer thread while training goes on (at the lowest CPU priority, as
        the shard prefetcher: beside a step it took CPU from the step's threads, 1.7% of every
        step of the LSTM bench on 2 cores; the lowest priority takes only idle CPU, and the next
        ``checkpoint`` waiting for it leaves the CPU idle). They are durable once the next
        ``checkpoint``, ``complete``, ``fail`` or ``wait`` returns; an error there fails the run
        as it would have here, and its steps are counted with the failure. A process killed
        before then resumes from the previous checkpoint (the steps since are trained again and
        counted once: the registry never held them).
        """
        done = step + 1
        if self._pending.steps_done != done:
            raise InvalidInput(
                f"checkpoint at step {step}, but the last recorded step is "
                f"{(self._pending.steps_done or self._recorded_steps) - 1}"
            )
        error, failure = self._settle()  # the asynchronous checkpoint before this one
        path = self.checkpoint_dir / f"step-{done:08d}.safetensors"
        progress = self._gathered_progress(checkpoint=str(path))
        if failure is None and self.is_main and progress is not None:
            previous = self._last_checkpoint
            if wait:
                try:
                    self.info = self._write(path, checkpoint_state(model, optimizer), progress,
                                            previous)  # fmt: skip
                except ProvregError as exc:
                    error, failure = _error_box(exc), exc
            else:
                if self._writer is None:
                    self._writer = ThreadPoolExecutor(
                        1,
                        thread_name_prefix="provreg-checkpoint",
                        initializer=lower_thread_priority,
                    )
                state = checkpoint_state(model, optimizer, copy=True)
                future = self._writer.submit(self._write, path, state, progress, previous)
                self._inflight = _Inflight(future, progress, previous, self._recorded_steps)
        if self.world_size > 1:
            error = distributed.broadcast(error)
        if failure is not None:
            raise failure
        if error is not None:
            _raise_box(error)
        self._last_checkpoint, self._recorded_steps = str(path), done
        if progress is not None:
            self._summary, self._state = progress.loss_summary, progress.cursor
        self._pending.reset()

    def _write(
        self,
        path: Path,
        state: tuple[dict[str, torch.Tensor], dict[str, Any]],
        progress: Progress,
        previous: str | None,
    ) -> RunOut:
        """The checkpoint file, then the transaction that names it; then the older file goes."""
        write_checkpoint(
            path, state, {"steps_done": progress.steps_done, "cursor": progress.cursor}
        )
        out = self.client.record_progress(self.id, progress)
        if previous and previous != str(path):
            Path(previous).unlink(missing_ok=True)
        return out

    def _settle(self) -> tuple[_Box | None, ProvregError | None]:
        """Wait for the asynchronous checkpoint in flight, if any (rank 0). If it failed, its
        steps go back to the pending ones (the registry never recorded them), the handle names
        the checkpoint before it again, and the registry's error is returned."""
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return None, None
        try:
            self.info = inflight.future.result()
        except BaseException as exc:
            self._pending.add_usage(inflight.progress.consumption_delta)
            self._last_checkpoint = inflight.previous_path
            self._recorded_steps = inflight.previous_steps
            if isinstance(exc, ProvregError):
                return _error_box(exc), exc
            raise
        return None, None

    def wait(self) -> None:
        """Block until an asynchronous checkpoint is durable (raises its error, if it failed)."""
        _, failure = self._settle()
        if failure is not None:
            raise failure

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
        """Load the run's last checkpoint into ``model`` (and ``optimizer``); the number of
        steps it holds (0 for a new run: nothing is loaded). Every rank reads the file.

        Raises:
            IntegrityFailure: the recorded checkpoint is missing or disagrees with the registry.
        """
        run = self.info
        if run.steps_done == 0:
            return 0
        if not run.checkpoint_path or run.cursor is None:
            raise IntegrityFailure(
                f"run {run.id} recorded {run.steps_done} steps but no checkpoint"
            )
        opt = optimizer if optimizer is not None else torch.optim.SGD(model.parameters(), lr=0.0)
        try:
            meta = load_checkpoint(run.checkpoint_path, model, opt)
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

    # -- weights and the end ----------------------------------------------------------------

    def stamp(self, config: dict[str, Any]) -> WeightsStamp:
        """The provenance stamp of this run's weights; ``config`` rebuilds the model."""
        manifest = self.client.manifest(self.manifest)
        tokenizer_manifest = None
        if self.tokenizer.identity != BYTES:
            tokenizer_manifest = self.client.tokenizer(self.tokenizer.identity).manifest
        return WeightsStamp(
            manifest=self.manifest,
            manifest_chain=tuple(self.client.manifest_chain(self.id)),
            run=self.id,
            registry=self.client.url,
            merkle_root=manifest.merkle_root,
            config=config,
            tokenizer=self.tokenizer.identity,
            tokenizer_manifest=tokenizer_manifest,
        )

    def save_weights(
        self,
        model: nn.Module,
        path: str | os.PathLike[str],
        *,
        config: dict[str, Any] | None = None,
        tensors: dict[str, torch.Tensor] | None = None,
    ) -> str | None:
        """Write ``model``'s weights as safetensors stamped with this run (rank 0; other ranks
        write nothing and get None); the file's SHA-256, recorded by ``complete``.

        ``config`` (default: the run's ``config["model"]``, else ``{}``) is what rebuilds the
        model; it goes into the stamp.
        """
        if not self.is_main:
            return None
        if config is None:
            model_config = self.config.get("model")
            config = model_config if isinstance(model_config, dict) else {}
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        state = tensors if tensors is not None else module_state(model)
        sha = write_stamped_weights(target, state, self.stamp(config))
        self._weights = (sha, str(target), target.stat().st_size)
        return sha

    def complete(self) -> RunOut:
        """The last consumption, the weights' digest and ``completed``, in one transaction
        (after ``save_weights``). Collective under ``torchrun``."""
        if self.is_main and self._weights is None:
            raise InvalidInput("save the weights (run.save_weights) before completing the run")
        error, failure = self._settle()
        progress = self._gathered_progress(checkpoint=self._last_checkpoint)
        out = self.info
        if failure is None and self.is_main and self._weights is not None:
            if progress is None:  # nothing since the last checkpoint: the same report again
                progress = Progress(
                    steps_done=self._recorded_steps,
                    cursor=self._state or {},
                    consumption_delta={},
                    checkpoint_path=self._last_checkpoint,
                    loss_summary=self._summary,
                )
            sha, path, size = self._weights
            try:
                out = self.client.complete_run(self.id, progress, sha256=sha, path=path, size=size)
            except ProvregError as exc:
                error = _error_box(exc)
            else:
                if self._last_checkpoint:  # the weights supersede it; a done run never resumes
                    Path(self._last_checkpoint).unlink(missing_ok=True)
                # and the half-written checkpoint files a killed process of this run left (the
                # directory is the run's own)
                for leftover in self.checkpoint_dir.glob(".step-*.safetensors.*.tmp"):
                    leftover.unlink(missing_ok=True)
        if self.world_size > 1:
            error, out = distributed.broadcast((error, out))
        if failure is not None:
            raise failure
        if error is not None:
            _raise_box(error)
        self.info = out
        self._finish()
        return out

    def fail(self, error: str | BaseException) -> RunOut:
        """Mark the run failed with ``error``, counting the steps recorded since the last
        checkpoint (this rank's: call it from every rank, or use ``batches``)."""
        with contextlib.suppress(Exception):  # a checkpoint that failed is counted below
            self._settle()
        progress = None
        if self.world_size == 1:
            progress = self._gathered_progress(checkpoint=self._last_checkpoint)
        out = self.info
        if self.is_main:
            out = self.client.fail_run(self.id, str(error), progress)
        self._finish()
        return out

    def interrupt(self) -> None:
        """The process stops without finishing (Ctrl-C, a lost database): resumable."""
        with contextlib.suppress(Exception):  # recorded or not, the run resumes from the registry
            self._settle()
        if self.is_main:
            with contextlib.suppress(ProvregError):
                self.client.mark_interrupted(self.id)
        self._finish()

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        with contextlib.suppress(Exception):  # close() after an asynchronous checkpoint
            self._settle()
        if self._writer is not None:
            self._writer.shutdown()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._owns_client:
            close = getattr(self.client, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        """Stop the heartbeat (the run stays as recorded)."""
        self._finish()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        """A shard error fails the run with the steps taken; Ctrl-C, SIGTERM (raised as
        Ctrl-C) and a registry out of reach leave it interrupted, to resume; a conflict means
        the run is no longer this process's, so it is not marked; anything else (a full disk,
        a bug) fails it with the reason, as ``RunFailed``: never left looking interrupted."""
        if self._ended:
            return
        if exc is None:
            self._finish()
        elif isinstance(exc, TrainerError):
            exc.provreg_run = self.id  # type: ignore[attr-defined]
            try:
                self.fail(exc)
            finally:
                self._finish()
        elif isinstance(exc, KeyboardInterrupt | SystemExit | DatabaseUnavailable):
            self.interrupt()
        elif isinstance(exc, Conflict):
            self._finish()
        elif isinstance(exc, Exception):
            failure = RunFailed(f"{type(exc).__name__}: {exc}")
            failure.provreg_run = self.id  # type: ignore[attr-defined]
            try:
                with contextlib.suppress(ProvregError):
                    self.fail(failure)
            finally:
                self._finish()
            raise failure from exc
        else:
            self.interrupt()


def open_run(
    manifest: str | None = None,
    *,
    registry: str | None = None,
    token: str | None = None,
    store: str | None = None,
    client: RegistryClient | None = None,
    config: dict[str, Any] | None = None,
    seed: int = 0,
    tokenizer: str | None = None,
    resume: str | None = None,
    parent_run: str | None = None,
    checkpoint_dir: str | os.PathLike[str] = "checkpoints",
    heartbeat_s: float | None = None,
    code_version: str | None = None,
) -> Run:
    """Open a run on ``manifest`` (hash, prefix or name), or ``resume`` an interrupted one.

    ``registry`` is an ``http(s)://`` API (with ``token``) or a database URL (default
    ``PROVREG_DATABASE_URL``); ``client`` passes a ``RegistryClient`` instead. ``tokenizer`` is
    a registered tokenizer's id or prefix (default ``provreg.bytes/1``); ``config`` is recorded
    with the run (``config["model"]`` goes into the weights stamp). Under ``torchrun``, call it
    on every rank: rank 0 opens the run, the others join it.

    Raises:
        InvalidInput: neither or both of ``manifest`` and ``resume``; a resume with another
            world size than the run recorded (nothing is changed).
        NotFound, PolicyViolation, Conflict: from the registry (no run is opened or resumed).
    """
    if (manifest is None) == (resume is None):
        raise InvalidInput("give a manifest to start a run, or a run to resume, not both")
    owns = client is None
    the_client = client if client is not None else connect(registry, token=token, store=store)
    rank, world = distributed.rank_and_world()
    box: tuple[str, Any]
    failure: Exception | None = None
    tok: TokenEncoder | None = None
    if rank == 0:
        try:
            out, tok = _open_or_resume(
                the_client,
                manifest=manifest,
                resume=resume,
                config=config,
                seed=seed,
                tokenizer=tokenizer,
                parent_run=parent_run,
                heartbeat_s=heartbeat_s,
                code_version_=code_version,
                world_size=world,
            )
            box = ("ok", out.id)
        except ProvregError as exc:
            box, failure = ("error", _error_box(exc)), exc
        except TrainerError as exc:  # the tokenizer file failed verification
            box, failure = ("error", (IntegrityFailure, str(exc), "train.tokenizer")), exc
    else:
        box = ("?", None)
    box = distributed.broadcast(box)
    if failure is not None:
        raise failure  # the registry's own error, with everything it carries
    if box[0] == "error":
        _raise_box(box[1])
    if rank != 0:
        out = the_client.get_run(box[1])
        tok = load_tokenizer(the_client, out.tokenizer)
    assert tok is not None
    return Run(
        the_client,
        out,
        tokenizer=tok,
        checkpoint_dir=checkpoint_dir,
        owns_client=owns,
    )


def _open_or_resume(
    client: RegistryClient,
    *,
    manifest: str | None,
    resume: str | None,
    config: dict[str, Any] | None,
    seed: int,
    tokenizer: str | None,
    parent_run: str | None,
    heartbeat_s: float | None,
    code_version_: str | None,
    world_size: int,
) -> tuple[RunOut, TokenEncoder]:
    """The run, and its tokenizer loaded (and verified) before anything is written."""
    if resume is not None:
        current = client.get_run(resume)
        state = state_from_cursor(current.cursor) if current.steps_done else None
        recorded = state["world_size"] if state else None
        if recorded is not None and recorded != world_size:
            raise InvalidInput(
                f"run {current.id} was trained by {recorded} process(es) and this job has "
                f"{world_size}: resume it with the same world size (the shards are split by "
                "rank, so another one would read other positions)",
                field="train.world_size",
            )
        tok = load_tokenizer(client, current.tokenizer)
        return client.resume_run(current.id), tok
    assert manifest is not None
    run_config = dict(config or {})
    if heartbeat_s is not None:
        run_config["train"] = {**run_config.get("train", {}), "heartbeat_s": heartbeat_s}
    if world_size > 1:
        run_config["world_size"] = world_size
    tok = load_tokenizer(client, _tokenizer_id(client, tokenizer))
    out = client.open_run(
        manifest_ref=manifest,
        config=run_config,
        seed=seed,
        tokenizer=tok.identity,
        code_version=code_version_ or code_version(),
        parent_run_id=parent_run,
    )
    return out, tok
