"""``ManifestDataset``: a manifest's verified token blocks (or records) as a torch ``IterableDataset``.

What it reads. The shards of one manifest, through the verified reader (``trainer.reader``:
every byte hashed against its id before a record leaves it), in the data order of
``trainer.data`` (a pure function of the seed and the shard ids).

Who reads what. Every process of a distributed job (rank ``r`` of ``W``) and every
``DataLoader`` worker of it (``k`` of ``w``) is one *reader*: reader ``r * w + k`` of ``W * w``
reads the shard positions ``p`` of each epoch's order with ``p % (W * w) == r * w + k``. No
position is read by two readers; together they read exactly the positions one reader would.
Each reader packs its own records into blocks of ``T + 1`` tokens (``trainer.data.BatchStream``).

Items. ``{"input_ids": LongTensor (T+1,), "usage": {shard: ShardUsage}, ...}``, or with
``records=True`` ``{"text": str, "shard_id": str, "usage": ...}`` (usage counts the record's
tokens in the run's tokenizer). ``collate`` (the ``collate_fn`` of ``loader``) stacks them into a
batch whose ``usage`` is the sum of its items' and whose ``positions`` say, per reader, where its
stream stands after the batch.

Resuming. ``state_dict()`` is the position after the last batch the loop said it trained on
(``consumed(batch)``; ``Run.record`` calls it), not after the last one fetched: a batch a
``DataLoader`` fetched ahead but nobody trained on is read again after a resume, and counted
once. With workers, it also says which worker's batch comes next (a ``DataLoader`` takes
batches from its workers in turn), so a resumed loader yields exactly the batches that would
have followed. A state belongs to one world size and worker count; another is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from trainer.data import BatchStream, Cursor, ShardUsage, _slots, order_digest
from trainer.reader import ShardSource, verified_loader
from trainer.tokenizer import TokenEncoder

STATE_FORMAT = "provreg.data/1"


class DataStateError(ValueError):
    """A data state that does not belong to this data order, world size or worker count."""


@dataclass(frozen=True)
class DataPlan:
    """Everything a dataset needs to read: the manifest's shards, how, and who this process is."""

    shard_ids: tuple[str, ...]
    source: ShardSource
    seed: int
    tokenizer: TokenEncoder
    rank: int = 0
    world_size: int = 1

    @property
    def order(self) -> str:
        return order_digest(self.shard_ids, self.seed)


def state_from_cursor(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A recorded cursor as a data state: runs recorded before readers were split stored one
    ``Cursor`` (a single reader, no workers)."""
    if not data:
        return None
    if data.get("format") == STATE_FORMAT:
        return dict(data)
    cursor = Cursor.from_dict(dict(data))
    return {
        "format": STATE_FORMAT,
        "order": cursor.order,
        "world_size": 1,
        "workers": 1,
        "readers": {"0": cursor.to_dict()},
        "next_worker": {},
    }


def merge_states(states: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One state from every rank's (a distributed job records one)."""
    first = dict(states[0])
    readers: dict[str, Any] = {}
    nxt: dict[str, int] = {}
    for s in states:
        if (s["order"], s["world_size"], s["workers"]) != (
            first["order"],
            first["world_size"],
            first["workers"],
        ):
            raise DataStateError("the ranks' data states disagree on order, world size or workers")
        readers |= s["readers"]
        nxt |= s["next_worker"]
    return first | {
        "readers": dict(sorted(readers.items(), key=lambda kv: int(kv[0]))),
        "next_worker": nxt,
    }


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Items to one batch: tensors stacked (B, T+1), usage summed, each reader's last position."""
    usage: dict[str, list[int]] = {}
    positions: dict[int, Cursor] = {}
    for item in items:
        for shard, u in item["usage"].items():
            acc = usage.setdefault(shard, [0, 0])
            acc[0] += u.tokens
            acc[1] += u.records
        positions[item["reader"]] = item["cursor"]
    first = items[0]
    batch: dict[str, Any] = {
        "usage": {k: ShardUsage(t, r) for k, (t, r) in usage.items()},
        "positions": positions,
        "rank": first["rank"],
        "workers": first["workers"],
    }
    if "input_ids" in first:
        batch["input_ids"] = torch.stack([i["input_ids"] for i in items])  # (B, T+1)
    else:
        batch["text"] = [i["text"] for i in items]
        batch["shard_id"] = [i["shard_id"] for i in items]
    return batch


def batch_tokens(batch: Mapping[str, Any]) -> int:
    """Tokens a batch holds, by its usage."""
    return sum(u.tokens for u in batch["usage"].values())


class ManifestDataset(IterableDataset[dict[str, Any]]):
    """A manifest's verified token blocks (``block_size=T``) or records (``records=True``).

    ``ManifestDataset(run, block_size=T)`` is ``run.dataset(block_size=T)``; the dataset starts
    where the run's last checkpoint left off. See the module docstring for order, splitting,
    items and resuming.

    Raises (while iterating):
        trainer.errors.ShardIntegrityError, ShardRevokedError, ShardMissingError,
        ShardUnknownError, ShardFormatError: a shard failed verification.
        DataStateError: a state from another world size or worker count.
    """

    def __init__(
        self,
        plan: Any,
        *,
        block_size: int | None = None,
        records: bool = False,
        max_epochs: int | None = None,
        prefetch: bool = True,
    ) -> None:
        super().__init__()
        run = None
        if hasattr(plan, "data_plan"):  # a Run: it also knows where its data stood
            run, plan = plan, plan.data_plan()
        if records == (block_size is not None):
            raise ValueError("give block_size=T for token blocks, or records=True for texts")
        if block_size is not None and (type(block_size) is not int or block_size < 1):
            raise ValueError(f"block_size must be an int >= 1, got {block_size!r}")
        self.plan: DataPlan = plan
        self.block_size = block_size
        self.records = records
        self.max_epochs = max_epochs
        self.prefetch = prefetch
        self._loaded: dict[str, Any] | None = None
        self._consumed: dict[int, Cursor] = {}
        self._next_worker: int | None = None
        self._workers = 1
        self._streams: list[BatchStream] = []  # open in this process (no DataLoader workers)
        if run is not None:
            run._adopt(self)

    # -- state ------------------------------------------------------------------------------

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        """Start (the next iteration) where ``state`` says; None starts at the beginning.

        Raises:
            DataStateError: the state belongs to another data order or world size.
        """
        state = state_from_cursor(state)
        if state is not None:
            if state.get("order") != self.plan.order:
                raise DataStateError("the data state belongs to another data order (shards, seed)")
            if state.get("world_size") != self.plan.world_size:
                raise DataStateError(
                    f"the data state was saved by {state.get('world_size')} processes, "
                    f"this job has {self.plan.world_size}: the shards are split by rank, so "
                    "another world size would read other positions"
                )
        self._loaded, self._consumed, self._next_worker = state, {}, None

    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands after the batches the loop consumed (module docstring)."""
        loaded = self._loaded or {}
        readers = dict(loaded.get("readers", {}))
        readers |= {str(r): c.to_dict() for r, c in self._consumed.items()}
        nxt = dict(loaded.get("next_worker", {}))
        if self._next_worker is not None:
            nxt[str(self.plan.rank)] = self._next_worker
        return {
            "format": STATE_FORMAT,
            "order": self.plan.order,
            "world_size": self.plan.world_size,
            "workers": self._workers if self._consumed else loaded.get("workers", 1),
            "readers": dict(sorted(readers.items(), key=lambda kv: int(kv[0]))),
            "next_worker": nxt,
        }

    def consumed(self, batch: Mapping[str, Any]) -> None:
        """The loop trained on ``batch``: the state moves past it."""
        self._workers = int(batch["workers"])
        last = -1
        for reader, cursor in batch["positions"].items():
            self._consumed[int(reader)] = cursor
            last = int(reader)
        local = last - self.plan.rank * self._workers
        self._next_worker = (local + 1) % self._workers

    # -- reading ----------------------------------------------------------------------------

    def loader(self, batch_size: int, *, num_workers: int = 0, **kwargs: Any) -> DataLoader[Any]:
        """A ``DataLoader`` over this dataset with ``collate``: batches carry their usage.

        For token blocks of an endless stream (no ``max_epochs``), each reader packs whole
        batches at once (``_Batches``): the same tokens, usage and positions as ``batch_size``
        items collated, at a fifth of the cost a batch (``python -m bench.trainer``). A
        ``DataLoader`` worker yields whole batches either way, so the order is the same.
        """
        if type(batch_size) is not int or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if self.records or self.max_epochs is not None or "drop_last" in kwargs:
            # a finite stream ends on a partial batch, which only the item path yields
            return DataLoader(
                self, batch_size=batch_size, num_workers=num_workers, collate_fn=collate, **kwargs
            )
        return DataLoader(_Batches(self, batch_size), batch_size=None, num_workers=num_workers,
                          collate_fn=_as_is, **kwargs)  # fmt: skip

    def _reader(self) -> tuple[int, int, int, Cursor | None]:
        """(reader, readers, workers, start) of the process or worker iterating now."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        if info is not None:
            after_fork = getattr(self.plan.source, "after_fork", None)
            if after_fork is not None:
                after_fork()
        loaded = self._loaded
        rotation = 0
        if loaded is not None and loaded.get("readers"):
            if loaded.get("workers", 1) != workers:
                raise DataStateError(
                    f"the data state was saved with {loaded.get('workers')} reader(s) per "
                    f"process (DataLoader workers), this loader has {workers}"
                )
            rotation = int(loaded.get("next_worker", {}).get(str(self.plan.rank), 0))
        readers = self.plan.world_size * workers
        if readers > len(self.plan.shard_ids):
            raise DataStateError(
                f"{readers} readers ({self.plan.world_size} processes x {workers} workers) but "
                f"the manifest has {len(self.plan.shard_ids)} shards: each reader needs one"
            )
        reader = self.plan.rank * workers + (worker + rotation) % workers
        raw = (loaded or {}).get("readers", {}).get(str(reader))
        return reader, readers, workers, Cursor.from_dict(raw) if raw else None

    def close(self) -> None:
        """Stop the shard prefetching of every iteration open in this process."""
        for stream in self._streams:
            stream.close()
        self._streams.clear()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Starts reading (the first shard loads in the background) before the first item is
        asked for, so a loop can build its model meanwhile."""
        if not self.records:
            stream, meta = self._stream(1)
            return self._blocks(stream, meta)
        reader, readers, workers, start = self._reader()
        self._workers = workers
        meta = {"reader": reader, "rank": self.plan.rank, "workers": workers}
        return self._records(reader, readers, start, meta)

    def _blocks(self, stream: BatchStream, meta: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with stream:
            for b in stream:
                yield {"input_ids": b.tokens[0], "usage": b.attribution, "cursor": b.cursor, **meta}

    def _stream(self, rows: int) -> tuple[BatchStream, dict[str, Any]]:
        """The stream of blocks (``rows`` a batch) for the reader iterating now, and its meta."""
        assert self.block_size is not None
        reader, readers, workers, start = self._reader()
        self._workers = workers
        stream = BatchStream(
            self.plan.shard_ids,
            verified_loader(self.plan.source),
            batch_size=rows,
            block_size=self.block_size,
            seed=self.plan.seed,
            start=start,
            prefetch=self.prefetch,
            max_epochs=self.max_epochs,
            tokenizer=self.plan.tokenizer,
            part=(reader, readers),
        )
        self._streams.append(stream)
        return stream, {"reader": reader, "rank": self.plan.rank, "workers": workers}

    def iter_batches(self, rows: int) -> Iterator[dict[str, Any]]:
        """Whole batches of ``rows`` blocks, as ``collate`` would make them of ``rows`` items;
        reading starts now, as with ``iter``."""
        stream, meta = self._stream(rows)
        return self._whole_batches(stream, meta)

    @staticmethod
    def _whole_batches(stream: BatchStream, meta: dict[str, Any]) -> Iterator[dict[str, Any]]:
        reader = meta.pop("reader")
        with stream:
            for b in stream:
                yield {
                    "usage": b.attribution,
                    "positions": {reader: b.cursor},
                    **meta,
                    "input_ids": b.tokens,  # (B, T+1)
                }

    def _records(
        self, reader: int, readers: int, start: Cursor | None, meta: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        plan = self.plan
        order, n = plan.order, len(plan.shard_ids)
        start = start or Cursor(order=order)
        if start.order != order:
            raise DataStateError("cursor belongs to another data order (different shards or seed)")
        load = verified_loader(plan.source)
        tok = plan.tokenizer
        first = True
        for slot in _slots(
            sorted(plan.shard_ids), plan.seed, start, self.max_epochs, (reader, readers)
        ):
            texts = load(slot.shard_id)
            begin = start.record if first and slot.pos == start.shard_pos else 0
            first = False
            for i in range(begin, len(texts)):
                text = texts[i]
                if i + 1 < len(texts):
                    after = Cursor(order, slot.epoch, slot.pos, i + 1)
                elif slot.pos + 1 < n:
                    after = Cursor(order, slot.epoch, slot.pos + 1)
                else:
                    after = Cursor(order, slot.epoch + 1)
                usage = {slot.shard_id: ShardUsage(len(tok.encode_array(text)), 1)}
                yield {
                    "text": text,
                    "shard_id": slot.shard_id,
                    "usage": usage,
                    "cursor": after,
                    **meta,
                }


def _as_is(batch: dict[str, Any]) -> dict[str, Any]:
    """A whole batch needs no conversion (``default_convert`` would walk every field)."""
    return batch


class _Batches(IterableDataset[dict[str, Any]]):
    """A dataset's whole batches, for a ``DataLoader`` with ``batch_size=None``."""

    def __init__(self, dataset: ManifestDataset, rows: int) -> None:
        super().__init__()
        self.dataset, self.rows = dataset, rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.dataset.iter_batches(self.rows)
