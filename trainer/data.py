"""Deterministic, attributed, resumable batching (invariant 5).

Data order. The order is a pure function of (seed, sorted shard ids, epoch):
each epoch visits every shard once, in `shard_order(ids, seed, epoch)` (a
permutation drawn from `np.random.default_rng([seed, epoch])`); inside a shard
records keep file order. Mixing across shards therefore comes from the shard
order alone, which keeps the cursor tiny and needs one shard in memory (plus
the next, loaded and verified in the background while the second half of the
current one trains); manifests are expected to hold many shards.

Stream. Each record becomes its tokens plus EOT; records are concatenated into
one stream that runs on across epochs. A batch is the next B*(T+1) tokens,
cut into B rows of T+1 (x = row[:-1], y = row[1:]). Rows do not overlap, so
every stream token is in exactly one batch.

Attribution. Each batch says, per shard, how many of its tokens it holds and
how many records *completed* in it (the record's EOT is in the batch), so
summing attributions over batches counts every token and record once.

Resumption. `Batch.cursor` is the stream position after the batch. A stream
started at that cursor yields exactly the batches that would have followed,
whatever B and T, so a resumed run never counts a token twice.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple, Self

import numpy as np
import torch

from trainer.tokenizer import ByteTokenizer, TokenEncoder

ORDER_SCHEME = "provreg.order/1"

Loader = Callable[[str], Sequence[str]]


class ShardUsage(NamedTuple):
    """Tokens and completed records of one shard in a batch (or a sum of batches)."""

    tokens: int
    records: int


@dataclass(frozen=True)
class Cursor:
    """A position in the data stream; JSON-able via `to_dict`/`from_dict`.

    `order` names the data order (seed and shard ids) the position belongs to,
    so a cursor cannot silently resume a different manifest or seed.
    """

    order: str
    epoch: int = 0
    shard_pos: int = 0  # index into shard_order(..., epoch)
    record: int = 0  # record index within that shard, in file order
    token: int = 0  # tokens of that record already consumed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cursor:
        """Inverse of `to_dict`.

        Raises:
            ValueError: unknown or missing keys, or positions that are not ints >= 0.
        """
        names = {f.name for f in fields(cls)}
        if set(data) - names or "order" not in data:
            raise ValueError(f"cursor keys must be {sorted(names)}, got {sorted(data)}")
        positions = [v for k, v in data.items() if k != "order"]
        if not isinstance(data["order"], str) or any(
            type(v) is not int or v < 0 for v in positions
        ):
            raise ValueError(f"cursor positions must be ints >= 0 and order a string: {data}")
        return cls(**data)


@dataclass(frozen=True)
class Batch:
    """(B, T+1) int64 tokens, their per-shard attribution, and the cursor after them."""

    tokens: torch.Tensor
    attribution: dict[str, ShardUsage]
    cursor: Cursor

    @property
    def x(self) -> torch.Tensor:
        return self.tokens[:, :-1]  # (B, T)

    @property
    def y(self) -> torch.Tensor:
        return self.tokens[:, 1:]  # (B, T)


def order_digest(shard_ids: Sequence[str], seed: int) -> str:
    """SHA-256 naming the data order: the scheme, the seed and the sorted shard ids."""
    doc = {"scheme": ORDER_SCHEME, "seed": seed, "shards": sorted(shard_ids)}
    return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()


def shard_order(shard_ids: Sequence[str], seed: int, epoch: int) -> list[str]:
    """The shards of one epoch, in visiting order: a pure function of its arguments."""
    ids = sorted(shard_ids)
    perm = np.random.default_rng([seed, epoch]).permutation(len(ids))
    return [ids[i] for i in perm]


class Slot(NamedTuple):
    """One position of an epoch's shard order, and the shard there."""

    epoch: int
    pos: int
    shard_id: str


def _slots(
    ids: Sequence[str],
    seed: int,
    start: Cursor,
    max_epochs: int | None,
    part: tuple[int, int] = (0, 1),
) -> Iterator[Slot]:
    """The shard positions reader ``part[0]`` of ``part[1]`` visits from ``start``: every
    position ``p`` of each epoch's order with ``p % readers == reader``, so readers never share
    a position and together visit exactly the positions one reader would."""
    reader, readers = part
    epoch = start.epoch
    pos = start.shard_pos
    while max_epochs is None or epoch < max_epochs:
        order = shard_order(ids, seed, epoch)
        for p in range(pos, len(order)):
            if p % readers == reader:
                yield Slot(epoch, p, order[p])
        epoch, pos = epoch + 1, 0


class _Loaded(NamedTuple):
    slot: Slot
    texts: Sequence[str]


class _Failed(NamedTuple):
    error: BaseException


_DONE = object()


def lower_thread_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux: nice is per thread).

    Measured on 2 cores: a shard load running beside a training step made the step 5x slower
    (the step's intra-op threads wait on each other at every barrier while one of them is
    descheduled), far more than the load itself costs. Loading ahead at the lowest priority
    takes only CPU that training leaves idle; when the trainer does wait for a shard, the CPU
    is idle and the load runs at full speed, so it is never slower than loading in line.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Prefetcher:
    """Loads shards in a background thread, each one when the consumer asks for it.

    The first shard loads at once, at normal priority: the first step waits for it. Every
    later one loads when the consumer calls `want_next` (BatchStream does at the middle of the
    current shard) and at the lowest priority (`lower_thread_priority`), so verification
    overlaps training without taking CPU from a step, and at most one shard waits in memory.

    Verification (reading, hashing, Parquet parsing) releases the GIL. An exception raised
    by `load` is re-raised, as the same object, by the `__next__` call that would have
    returned that shard, so no record of a shard that failed verification is handed out.
    """

    def __init__(self, load: Loader, slots: Iterator[Slot]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=1)
        self._wanted = threading.Semaphore(1)  # the first shard is wanted from the start
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, args=(load, slots), name="shard-prefetch", daemon=True
        )
        self._thread.start()

    def want_next(self) -> None:
        """Let the thread load the shard after the last one asked for."""
        self._wanted.release()

    def _run(self, load: Loader, slots: Iterator[Slot]) -> None:
        try:
            for n, slot in enumerate(slots):
                if not self._until_stopped(lambda t: self._wanted.acquire(timeout=t)):
                    return
                if n == 1:
                    lower_thread_priority()
                if not self._put(_Loaded(slot, load(slot.shard_id))):
                    return
        except BaseException as exc:
            self._put(_Failed(exc))
            return
        self._put(_DONE)

    def _put(self, item: object) -> bool:
        return self._until_stopped(functools.partial(self._offer, item))

    def _offer(self, item: object, timeout: float) -> bool:
        try:
            self._queue.put(item, timeout=timeout)
        except queue.Full:
            return False
        return True

    def _until_stopped(self, attempt: Callable[[float], bool]) -> bool:
        """Retry ``attempt(timeout)`` until it succeeds (True) or the stream closes (False)."""
        while not self._stop.is_set():
            if attempt(0.05):
                return True
        return False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> _Loaded:
        if self._closed:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _Loaded):
            return item
        self.close()
        if isinstance(item, _Failed):
            raise item.error
        raise StopIteration

    def close(self) -> None:
        """Stop the thread and drop what it loaded; safe to call twice."""
        self._closed = True
        self._stop.set()
        self._thread.join()


def _sync_loads(load: Loader, slots: Iterator[Slot]) -> Iterator[_Loaded]:
    for slot in slots:
        yield _Loaded(slot, load(slot.shard_id))


class BatchStream:
    """Iterator of `Batch`es over a manifest's shards; see the module docstring.

    Ends only when `max_epochs` epochs are exhausted (a trailing partial batch
    is dropped, and not attributed). Use as a context manager, or call
    `close()`, to stop the prefetch thread early.

    Raises:
        ValueError: empty or duplicate shard ids, a bad seed or size, or a
            `start` cursor from another data order.
        Whatever `load` raises (e.g. trainer.errors.ShardIntegrityError).
    """

    def __init__(
        self,
        shard_ids: Sequence[str],
        load: Loader,
        *,
        batch_size: int,
        block_size: int,
        seed: int,
        start: Cursor | None = None,
        prefetch: bool = True,
        max_epochs: int | None = None,
        tokenizer: TokenEncoder | None = None,
        part: tuple[int, int] = (0, 1),
    ) -> None:
        ids = sorted(shard_ids)
        if not ids or len(set(ids)) != len(ids):
            raise ValueError("shard_ids must be non-empty and free of duplicates")
        if seed < 0 or batch_size < 1 or block_size < 1:
            raise ValueError("need seed >= 0, batch_size >= 1 and block_size >= 1")
        if not 0 <= part[0] < part[1]:
            raise ValueError(f"reader {part[0]} of {part[1]} does not exist")
        order = order_digest(ids, seed)
        start = start or Cursor(order=order)
        if start.order != order:
            raise ValueError("cursor belongs to another data order (different shards or seed)")
        self._tok = tokenizer or ByteTokenizer()
        self._rows, self._row_len = batch_size, block_size + 1
        self._order = order
        slots = _slots(ids, seed, start, max_epochs, part)
        self._shards: Iterator[_Loaded] = (
            Prefetcher(load, slots) if prefetch else _sync_loads(load, slots)
        )
        self._asked_next = False  # whether the shard after the current one was asked for
        self._n_shards = len(ids)
        self._closed = False
        self._current: _Loaded | None = None
        self._record = start.record
        self._doc: np.ndarray | None = None
        self._doc_pos = start.token

    def __iter__(self) -> Self:
        return self

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the stream: stop the prefetch thread; later `next` calls stop iteration."""
        self._closed = True
        if isinstance(self._shards, Prefetcher):
            self._shards.close()

    def __next__(self) -> Batch:
        if self._closed:
            raise StopIteration
        need = self._rows * self._row_len
        buf = np.empty(need, dtype=np.int64)
        usage: dict[str, list[int]] = {}
        filled = 0
        while filled < need:
            shard_id, doc = self._next_doc()
            n = min(need - filled, doc.size - self._doc_pos)
            buf[filled : filled + n] = doc[self._doc_pos : self._doc_pos + n]
            filled += n
            self._doc_pos += n
            counts = usage.setdefault(shard_id, [0, 0])
            counts[0] += n
            if self._doc_pos == doc.size:
                counts[1] += 1
                self._record, self._doc, self._doc_pos = self._record + 1, None, 0
        tokens = torch.from_numpy(buf).view(self._rows, self._row_len)  # (B, T+1)
        attribution = {k: ShardUsage(t, r) for k, (t, r) in usage.items()}
        return Batch(tokens, attribution, self._cursor())

    def _next_doc(self) -> tuple[str, np.ndarray]:
        """The current record's tokens, moving to the next record/shard/epoch as needed."""
        while self._current is None or self._record >= len(self._current.texts):
            resuming = self._current is None  # the first shard starts at the start cursor
            if not resuming:
                self._ask_next()
            self._current = next(self._shards)  # StopIteration ends the stream
            self._asked_next = False
            if not resuming:
                self._record, self._doc_pos = 0, 0
        if self._doc is None:
            if self._record >= len(self._current.texts) // 2:
                self._ask_next()  # the second half of this shard trains while the next loads
            self._doc = self._tok.encode_array(self._current.texts[self._record])
            if self._doc_pos >= self._doc.size:
                raise ValueError(f"cursor token offset {self._doc_pos} is past the record's end")
        return self._current.slot.shard_id, self._doc

    def _ask_next(self) -> None:
        if not self._asked_next and isinstance(self._shards, Prefetcher):
            self._shards.want_next()
        self._asked_next = True

    def _cursor(self) -> Cursor:
        """The position of the next token; a finished shard points at the next shard,
        so resuming never re-opens a shard it no longer needs."""
        if self._current is None:
            raise RuntimeError("no shard loaded")  # unreachable: a batch holds >= 1 token
        slot = self._current.slot
        if self._record < len(self._current.texts):
            return Cursor(self._order, slot.epoch, slot.pos, self._record, self._doc_pos)
        if slot.pos + 1 < self._n_shards:  # the next position; the reader skips others' ones
            return Cursor(self._order, slot.epoch, slot.pos + 1)
        return Cursor(self._order, slot.epoch + 1)
