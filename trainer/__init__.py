"""provreg as a training library, and the trainer behind ``provreg train``.

The public API (``from trainer import ...``), for any PyTorch model and loop
(``docs/library.md``, ``examples/lstm_lm.py``):

* ``open_run(manifest, registry=..., config=..., seed=..., tokenizer=...)`` -> ``Run``: opens
  or resumes a run on the registry (a database, or ``provreg serve`` over HTTP);
* ``Run``: ``run.dataset(block_size=T)`` (a ``ManifestDataset``: verified token blocks, or
  ``records=True`` texts), ``run.batches(loader)``, ``run.record(batch, step=...)``,
  ``run.checkpoint(model, optimizer, step=...)``, ``run.restore(...)``,
  ``run.save_weights(model, path)``, ``run.complete()`` / ``run.fail(error)``; ``rank`` and
  ``world_size`` under torchrun;
* ``ManifestDataset``, ``collate``: the dataset and its ``DataLoader`` collate function;
* ``trainer.hf.manifest_dataset``: the same records as a Hugging Face ``datasets`` dataset;
* ``distributed``: joining a torchrun job (``distributed.init_from_env()``).

Behind it: ``library`` (the run handle), ``dataset`` (readers, items, state), ``data`` (the
data order and block packing), ``reader`` (the verified reader), ``client`` and
``http_client`` (the registry), ``bpe`` (trained tokenizers), ``run`` and ``ddp`` (``provreg
train``, one process or torchrun), ``model`` (the built-in GPT).
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use (PEP 562): ``trainer.http_client`` and the CLI must not pay for torch.
_HOME = {
    "ManifestDataset": "trainer.dataset",
    "collate": "trainer.dataset",
    "PeerFailedError": "trainer.library",
    "Run": "trainer.library",
    "connect": "trainer.library",
    "open_run": "trainer.library",
    "ShardFormatError": "trainer.errors",
    "ShardIntegrityError": "trainer.errors",
    "ShardMissingError": "trainer.errors",
    "ShardRevokedError": "trainer.errors",
    "ShardUnknownError": "trainer.errors",
    "TrainerError": "trainer.errors",
}


def __getattr__(name: str) -> Any:
    if name == "distributed":
        return importlib.import_module("trainer.distributed")
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")


__all__ = [
    "ManifestDataset",
    "PeerFailedError",
    "Run",
    "ShardFormatError",
    "ShardIntegrityError",
    "ShardMissingError",
    "ShardRevokedError",
    "ShardUnknownError",
    "TrainerError",
    "collate",
    "connect",
    "distributed",
    "open_run",
]
