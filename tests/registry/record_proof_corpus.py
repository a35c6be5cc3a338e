"""A manifest of six real shards with 1, 2, 5, 7, 8 and 13 records (v1 and v2 shards mixed),
and an RFC 6962 implementation written here from the RFC, independent of ``manifests``: what
the record-proof tests check the registry's proofs with."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from registry import manifests
from registry.entities.manifests import ManifestIn
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from tests.registry import factories as f

COUNTS = (1, 2, 5, 7, 8, 13)


@dataclass(frozen=True)
class Corpus:
    manifest: str
    document: dict[str, object]
    shards: list[str]  # sorted: the manifest's leaf order
    records: dict[str, list[str]]  # shard id -> record ids in file order
    urls: dict[str, list[str | None]]


def build(session: Session, store: ShardStore, tmp: Path, name: str = "proofs") -> Corpus:
    """Ingest the six shards (even parts with URLs, v2; odd parts without, v1), freeze them."""
    f.source(session, "forum", licence="MIT")
    tmp.mkdir(parents=True, exist_ok=True)
    datasets = []
    for part, count in enumerate(COUNTS):
        path = tmp / f"part{part}.jsonl"
        rows = [
            {"text": f"post {part}.{i}: " + "words " * (i + 1), "u": f"https://forum.example/{part}/{i}"}
            for i in range(count)
        ]  # fmt: skip
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
        fields = RecordFields(url="u") if part % 2 == 0 else None
        ingest_paths(session, store, [path], source="forum", dataset=f"part{part}", fields=fields)
        datasets.append(f"part{part}")
    out = manifests.create_manifest(
        session, ManifestIn(name=name, intended_use="research", datasets=datasets), store=store
    )
    shard_ids = manifests.shard_ids(session, out.hash)
    records, urls = {}, {}
    for shard_id in shard_ids:
        table = pq.read_table(store.path_for(shard_id))
        records[shard_id] = table.column("id").to_pylist()
        urls[shard_id] = (
            table.column("url").to_pylist() if "url" in table.column_names else [None] * len(table)
        )
    return Corpus(out.hash, out.document, shard_ids, records, urls)


# --- RFC 6962 §2.1, from the RFC, recursively ------------------------------------------------


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = split(len(leaves))
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """The root an audit path (sibling first) leads to, or None when its shape is wrong."""
    if size == 1:
        return h(b"\x00" + leaf) if not path else None
    if not path or not 0 <= index < size:
        return None
    k = split(size)
    if index < k:
        left = root_from_path(leaf, index, k, path[:-1])
        return None if left is None else h(b"\x01" + left + path[-1])
    right = root_from_path(leaf, index - k, size - k, path[:-1])
    return None if right is None else h(b"\x01" + path[-1] + right)


def independent_verify(proof: dict[str, object], document: dict[str, object]) -> bool:
    """Check a record proof with hashlib only: both paths, and the document's root."""
    record_root = root_from_path(
        str(proof["record"]).encode("utf-8"),
        int(proof["record_index"]),  # type: ignore[call-overload]
        int(proof["record_count"]),  # type: ignore[call-overload]
        [bytes.fromhex(p) for p in proof["record_path"]],  # type: ignore[attr-defined]
    )
    if record_root is None or record_root.hex() != proof["record_root"]:
        return False
    leaf = bytes.fromhex(str(proof["shard"])) + record_root
    root = root_from_path(
        leaf,
        int(proof["leaf_index"]),  # type: ignore[call-overload]
        int(proof["leaf_count"]),  # type: ignore[call-overload]
        [bytes.fromhex(p) for p in proof["manifest_path"]],  # type: ignore[attr-defined]
    )
    merkle = document["merkle"]
    return (
        root is not None
        and document["schema"] == "provreg.manifest/2"
        and root.hex() == merkle["root"] == proof["manifest_root"]  # type: ignore[index]
        and proof["leaf_count"] == merkle["leaves"]  # type: ignore[index]
    )
