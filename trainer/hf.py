"""A Hugging Face ``datasets`` adapter: a manifest's records as a ``datasets.IterableDataset``.

The records come only through the verified reader (``trainer.dataset.ManifestDataset`` with
``records=True``: every shard resolved against the manifest, its bytes hashed against its id
before a record leaves it), in the run's data order, so a ``datasets``-based pipeline
(``.map``, ``.filter``, tokenisation, ``.with_format("torch")``) is pinned to the manifest too.
A changed byte raises ``trainer.errors.ShardIntegrityError`` from the iteration.

Built with ``datasets.IterableDataset.from_generator`` (streaming): nothing is cached or
written to the ``datasets`` cache, so no record can be read from anywhere but the manifest's
verified shards. ``datasets`` fingerprints the generator by pickling it; ours pickles as a key to
the live reader in this process (a database connection is nothing to pickle), so the dataset
is used in the process that made it and in forked ``DataLoader`` workers.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator
from typing import Any

from trainer.dataset import DataPlan, ManifestDataset
from trainer.tokenizer import ByteTokenizer

FEATURES = {"text": "string", "shard_id": "string", "tokens": "int64"}

_LIVE: weakref.WeakValueDictionary[str, _Records] = weakref.WeakValueDictionary()


class _Records:
    """The generator ``datasets`` calls: the verified records of one plan."""

    def __init__(self, plan: DataPlan, max_epochs: int | None) -> None:
        self.plan, self.max_epochs = plan, max_epochs
        self.key = f"{plan.order}:{uuid.uuid4().hex}"
        _LIVE[self.key] = self

    def __call__(self) -> Iterator[dict[str, Any]]:
        for item in ManifestDataset(self.plan, records=True, max_epochs=self.max_epochs):
            (usage,) = item["usage"].values()
            yield {"text": item["text"], "shard_id": item["shard_id"], "tokens": usage.tokens}

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _live, (self.key,)


def _live(key: str) -> _Records:
    return _LIVE[key]


def manifest_dataset(
    manifest: str | None = None,
    *,
    run: Any = None,
    registry: str | None = None,
    token: str | None = None,
    store: str | None = None,
    client: Any = None,
    seed: int = 0,
    max_epochs: int | None = 1,
) -> Any:
    """The manifest's records (``text``, ``shard_id``, ``tokens`` in the tokenizer) as a
    ``datasets.IterableDataset``: of ``run`` (its data order, tokenizer, rank and world size),
    or of ``manifest`` read with ``client`` (default: ``trainer.library.connect``) in the order
    of ``seed``. One epoch by default.

    Raises:
        NotFound: an unknown manifest (at once). Shard errors: while iterating.
    """
    from datasets import Features, IterableDataset, Value

    if run is not None:
        plan = run.data_plan()
    else:
        if manifest is None:
            raise ValueError("give a manifest or a run")
        if client is None:
            from trainer.library import connect

            client = connect(registry, token=token, store=store)
        info = client.manifest(manifest)
        plan = DataPlan(
            shard_ids=tuple(sorted(client.shard_ids(info.hash))),
            source=client.shard_source(info.hash),
            seed=seed,
            tokenizer=ByteTokenizer(),
        )

    features = Features({k: Value(v) for k, v in FEATURES.items()})
    records = _Records(plan, max_epochs)
    dataset = IterableDataset.from_generator(records, features=features)
    dataset._provreg_records = records  # keeps the reader alive as long as the dataset
    return dataset
