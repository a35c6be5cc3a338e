"""The record key index's keys: 64-bit prefixes of SHA-256, for exact URL and record-id lookups.

Why a hashed index table rather than per-shard Bloom filters: a Bloom filter answers "maybe"
for every shard it is asked about, so one URL among 1M shards costs 1M filter probes (and the
filters' bytes read); a B-tree on (kind, key) costs one descent and names the shards, and it
carries each shard's record and token counts for the key, so impact opens no shard file. Its
price is one row per distinct key per shard (16 bytes of key and counts), written in bulk at
ingest with the other per-shard rows. Written by hand: no library indexes hashed keys in SQL.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

URL = "url"
RECORD = "record"


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def url_key(url: str) -> int:
    """The first 8 bytes of SHA-256(url as UTF-8), as a signed 64-bit integer."""
    return _signed(int.from_bytes(hashlib.sha256(url.encode("utf-8")).digest()[:8], "big"))


def record_key(record_id: str) -> int:
    """A record id is a hex SHA-256 already: its first 16 hex digits, signed."""
    return _signed(int(record_id[:16], 16))


def add_keys(into: dict[tuple[str, int], list[int]], table: pa.Table, tokens: list[int]) -> None:
    """Add a v2 row group's URL and record-id keys: key -> [records, tokens]."""
    urls = table.column("url").to_pylist()
    ids = table.column("id").to_pylist()
    for url, rid, tok in zip(urls, ids, tokens, strict=True):
        keys = [(RECORD, record_key(rid))]
        if url is not None:
            keys.append((URL, url_key(url)))
        for k in keys:
            have = into.get(k)
            if have is None:
                into[k] = [1, tok]
            else:
                have[0] += 1
                have[1] += tok
