"""Held-out loss: a model's mean next-token loss on a manifest's eval shards.

The eval shards are read through the verified reader (status, SHA-256, counts) from a source
that resolves only the manifest's eval set; they are never handed to a training loader. The
loss is over the first ``max_blocks`` blocks of ``block_size + 1`` tokens of the shards'
records (shard id order, file order, each record closed by EOT), so it is the same set every
time it is measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sqlalchemy import Engine

from registry import continual
from registry.db.engine import transaction
from registry.errors import NotFound
from registry.shards.resolve import read_shard_bytes
from trainer.errors import ShardUnknownError
from trainer.model import GPT
from trainer.reader import ShardRef, ShardSource, read_verified
from trainer.tokenizer import TokenEncoder

MAX_BLOCKS = 32


class EvalShardSource:
    """A manifest's held-out shards: status from the database, bytes from the store."""

    def __init__(self, engine: Engine, store: str, manifest_hash: str) -> None:
        self._engine, self._store, self._manifest = engine, store, manifest_hash

    def resolve(self, shard_id: str) -> ShardRef:
        try:
            with transaction(self._engine, actor="trainer", write=False) as session:
                s = continual.eval_shard(session, self._manifest, shard_id)
        except NotFound as exc:
            raise ShardUnknownError(exc.detail) from exc
        status = s.status if s.reason is None else f"{s.status} ({s.reason})"
        return ShardRef(shard_id=s.shard_id, status=status, records=s.records, tokens=s.tokens)

    def open_bytes(self, shard_id: str) -> bytes:
        return read_shard_bytes(self._store, shard_id)


def eval_blocks(
    source: ShardSource,
    shard_ids: Sequence[str],
    tokenizer: TokenEncoder,
    *,
    block_size: int,
    max_blocks: int = MAX_BLOCKS,
) -> torch.Tensor:
    """(n, block_size + 1) token blocks of the eval shards (module docstring)."""
    need = max_blocks * (block_size + 1)
    parts: list[np.ndarray] = []
    have = 0
    for shard_id in sorted(shard_ids):
        for text in read_verified(source, shard_id).texts:
            arr = tokenizer.encode_array(text)
            parts.append(arr)
            have += arr.size
            if have >= need:
                break
        if have >= need:
            break
    if not parts:
        return torch.empty((0, block_size + 1), dtype=torch.long)
    flat = np.concatenate(parts)[:need]
    n = flat.size // (block_size + 1)
    return torch.from_numpy(flat[: n * (block_size + 1)].reshape(n, block_size + 1).copy())


@torch.no_grad()
def eval_loss(model: GPT, blocks: torch.Tensor, *, batch_size: int = 8) -> float | None:
    """Mean cross-entropy over ``blocks``; None when there are none."""
    if blocks.numel() == 0:
        return None
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, blocks.size(0), batch_size):
        chunk = blocks[i : i + batch_size].to(device)
        _, loss = model(chunk[:, :-1], chunk[:, 1:])
        assert loss is not None
        total += float(loss) * chunk.size(0)
        count += chunk.size(0)
    model.train(was_training)
    return total / count
