"""Real canonical shard files in the store layout, registered as Shard rows directly (no ingest)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from registry.db.models import DatasetShard, Shard, Source
from registry.shards.datasets import ensure_dataset
from registry.shards.store import ShardStore


def write_shard(store: Path, texts: Sequence[str]) -> tuple[str, int, int, int]:
    """Write canonical Parquet (``id`` = sha256 of the text, ``text``) at its store path.

    Returns (shard id, bytes, records, tokens); tokens = UTF-8 bytes + 1 per record.
    """
    ids = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / f".tmp-{os.getpid()}.parquet"
    pq.write_table(table, tmp)
    data = tmp.read_bytes()
    shard_id = hashlib.sha256(data).hexdigest()
    target = Path(ShardStore(str(store)).path_for(shard_id))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(target)
    tokens = sum(len(t.encode("utf-8")) + 1 for t in texts)
    return shard_id, len(data), len(texts), tokens


def register(
    session: Session,
    src: Source,
    dataset: str,
    store: Path,
    shards: Sequence[Sequence[str]],
    *,
    version: str = "1",
) -> list[str]:
    """Write each text list as a shard and register it in ``dataset@version``."""
    ds, _ = ensure_dataset(session, f"{dataset}@{version}")
    ids = []
    for texts in shards:
        sid, nbytes, records, tokens = write_shard(store, texts)
        session.add(
            Shard(
                id=sid,
                source_id=src.id,
                bytes=nbytes,
                records=records,
                tokens=tokens,
                format="parquet",
                store_uri=ShardStore(str(store)).path_for(sid),
            )
        )
        session.flush()
        session.add(DatasetShard(dataset_id=ds.id, shard_id=sid))
        ids.append(sid)
    session.flush()
    return ids
