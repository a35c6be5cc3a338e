"""How an increment's data differs from its ancestors': Jensen-Shannon divergence.

The byte unigram distribution (UTF-8 bytes of the records' text, 256 bins, the unit that
``provreg.bytes/1`` counts in) of the increment's new shards against that of every shard its
ancestors trained on. JSD is computed with numpy (scipy is not a dependency here), base 2, so
it lies in [0, 1]: 0 for the same distribution, 1 for disjoint ones.

The domain-mix drift is the JSD of the text bytes per registrable domain, summed from the
per-shard domain rows (``shard_domains``, written at ingest of v2 shards with URLs): no shard
is opened for it. It is None when either side has no such rows (v1 shards, or records with no
URL).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import ShardDomain
from registry.errors import IntegrityFailure
from registry.shards.resolve import read_shard_bytes

METRIC = "jensen-shannon/bytes"


def byte_histogram(store: str, shard_ids: Iterable[str]) -> np.ndarray:
    """Counts of each byte value over the shards' texts (each file checked against its id).

    Raises:
        IntegrityFailure: a shard file is missing or its bytes are not its id.
    """
    counts = np.zeros(256, dtype=np.int64)
    for shard_id in shard_ids:
        try:
            data = read_shard_bytes(store, shard_id)
        except FileNotFoundError as exc:
            raise IntegrityFailure(f"shard {shard_id}'s file is missing: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != shard_id:
            raise IntegrityFailure(f"shard {shard_id}'s file does not match its id")
        texts = pq.read_table(io.BytesIO(data), columns=["text"]).column("text")
        for chunk in texts.chunks:
            raw = chunk.buffers()[2]
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[
                chunk.offset : chunk.offset + len(chunk) + 1
            ]
            if raw is None or len(offsets) < 2:
                continue
            values = np.frombuffer(raw, dtype=np.uint8)[offsets[0] : offsets[-1]]
            counts += np.bincount(values, minlength=256)
    return counts


def jensen_shannon(p_counts: np.ndarray, q_counts: np.ndarray) -> float | None:
    """JSD (base 2) of two count vectors; None when either is empty."""
    p_total, q_total = float(p_counts.sum()), float(q_counts.sum())
    if p_total == 0 or q_total == 0:
        return None
    p, q = p_counts / p_total, q_counts / q_total
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    return max(0.0, min(1.0, (kl(p, m) + kl(q, m)) / 2))


def domain_bytes(session: Session, shard_ids: Iterable[str]) -> dict[str, int]:
    """Text bytes per registrable domain over the shards (from ``shard_domains``)."""
    sums: dict[str, int] = {}
    for chunk in chunked(sorted(set(shard_ids))):
        rows = session.execute(
            select(ShardDomain.domain, func.sum(ShardDomain.bytes))
            .where(ShardDomain.shard_id.in_(chunk))
            .group_by(ShardDomain.domain)
        )
        for domain, total in rows:
            sums[domain] = sums.get(domain, 0) + int(total or 0)
    return sums


def domain_mix_drift(session: Session, delta: list[str], ancestors: list[str]) -> float | None:
    """JSD (base 2) of the domain mix of the new shards against the ancestors'; None when
    either side holds no record with a URL."""
    new, old = domain_bytes(session, delta), domain_bytes(session, ancestors)
    domains = sorted(new.keys() | old.keys())
    p = np.array([new.get(d, 0) for d in domains], dtype=np.float64)
    q = np.array([old.get(d, 0) for d in domains], dtype=np.float64)
    return jensen_shannon(p, q)


def increment_drift(
    session: Session, store: str, delta: list[str], ancestors: list[str]
) -> dict[str, Any]:
    """What is stored with the increment's run: the byte JSD and the domain-mix JSD."""
    new = byte_histogram(store, delta)
    old = byte_histogram(store, ancestors)
    return {
        "metric": METRIC,
        "implementation": "numpy",
        "bytes_jsd": jensen_shannon(new, old),
        "domain_mix_jsd": domain_mix_drift(session, delta, ancestors),
        "delta_bytes": int(new.sum()),
        "ancestor_bytes": int(old.sum()),
    }
