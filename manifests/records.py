"""Record trees and two-level record proofs (``provreg.manifest/2``), checked offline.

A shard's **record root** is the RFC 6962 root (``manifests.merkle``) over its records in file
order, duplicates kept. A record's leaf data is the UTF-8 of its id text (the 64 lowercase hex
characters in the shard's ``id`` column), so the leaf hash is ``SHA-256(0x00 || id_utf8)``;
an empty shard has root ``SHA-256(b"")``.

A ``/2`` manifest leaf is the shard id's 32 bytes followed by its record root's 32 bytes, so a
record proof has two audit paths: record -> record root, then (shard id, record root) ->
manifest root. ``verify_record_proof`` checks both from the proof and the manifest document
alone; ``docs/manifest-format.md`` writes the steps out for any language.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from manifests.digests import is_hex64
from manifests.errors import DocumentError, ProofError
from manifests.merkle import (
    ALGORITHM,
    audit_path,
    leaf_hash,
    root_of,
    shard_leaf,
    tree_levels,
    verify_leaf_inclusion,
)

PROOF_FORMAT: Final = "provreg.record-proof/1"
RECORD_LEAF: Final = "utf8-record-id"
"""What a record leaf is: the UTF-8 of the record id (named in every proof)."""


def record_leaf_hashes(record_ids: Sequence[str]) -> list[bytes]:
    """Leaf hashes of records, in file order: ``SHA-256(0x00 || id.encode("utf-8"))``."""
    sha = hashlib.sha256
    return [sha(b"\x00" + r.encode("utf-8")).digest() for r in record_ids]


def record_root(record_ids: Sequence[str]) -> str:
    """The hex record root over a shard's record ids in file order."""
    return root_of(record_leaf_hashes(record_ids)).hex()


def record_root_of_leaves(leaf_hashes: list[bytes]) -> str:
    """The hex record root from leaf hashes already computed (the writer's pass)."""
    return root_of(leaf_hashes).hex()


class RecordRootBuilder:
    """The record root of records streamed in batches, in O(log n) memory.

    Each level keeps at most one node that has no partner yet; whole pairs are hashed a batch
    at a time (list comprehensions, no per-record Python branching). What is left at the end
    is the perfect subtrees of the binary decomposition of n, largest (leftmost) highest, and
    RFC 6962's root is them folded right to left: MTH(D[n]) = H(P1, H(P2, ... )). So the
    result equals ``record_root`` over all the ids, however the batches were cut.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []

    def add_ascii_ids(self, ascii_ids: bytes | memoryview) -> None:
        """Add records given as their concatenated 64-character ids (ASCII, no separators)."""
        sha = hashlib.sha256
        self.add_leaf_hashes(
            [sha(b"\x00" + ascii_ids[i : i + 64]).digest() for i in range(0, len(ascii_ids), 64)]
        )

    def add_leaf_hashes(self, leaves: list[bytes]) -> None:
        """Add records by their leaf hashes (``record_leaf_hashes``), in file order."""
        sha = hashlib.sha256
        carry, depth = leaves, 0
        while carry:
            if depth == len(self._levels):
                self._levels.append([])
            level = self._levels[depth]
            level.extend(carry)
            even = len(level) & ~1
            pairs = iter(level[:even])
            carry = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=True)]
            del level[:even]
            depth += 1

    def root(self) -> str:
        """The hex record root of everything added (SHA-256 of b"" for nothing)."""
        folded: bytes | None = None
        for level in self._levels:  # lowest level: the smallest, rightmost subtree
            if level:
                folded = level[0] if folded is None else _node(level[0], folded)
        return (folded if folded is not None else hashlib.sha256(b"").digest()).hex()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True)
class RecordProof:
    """Record -> shard record root -> manifest root. ``from_dict(p.to_dict()) == p``.

    ``url`` is informative only (the leaf commits to the record id, which commits to the text);
    ``manifest`` is the manifest's hash, checked against the document when verifying.

    Raises:
        ProofError: on construction, when a field has the wrong type or shape.
    """

    manifest: str
    record: str
    shard: str
    record_index: int
    record_count: int
    record_path: tuple[str, ...]
    record_root: str
    leaf_index: int
    leaf_count: int
    manifest_path: tuple[str, ...]
    manifest_root: str
    url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.record, str) or not self.record:
            raise ProofError("record must be a non-empty string")
        if self.url is not None and not isinstance(self.url, str):
            raise ProofError("url must be a string or null")
        for name in ("manifest", "shard", "record_root", "manifest_root"):
            if not is_hex64(getattr(self, name)):
                raise ProofError(f"{name} must be 64 lowercase hex characters")
        for index, count in (("record_index", "record_count"), ("leaf_index", "leaf_count")):
            i, n = getattr(self, index), getattr(self, count)
            if type(i) is not int or type(n) is not int or not 0 <= i < n:
                raise ProofError(f"{index} must be an integer in [0, {count}), got {i!r} of {n!r}")
        for name in ("record_path", "manifest_path"):
            path = getattr(self, name)
            if not isinstance(path, tuple) or not all(is_hex64(p) for p in path):
                raise ProofError(f"{name} must be a list of 64-character lowercase hex strings")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form that ``record prove`` prints and the public route serves."""
        return {
            "format": PROOF_FORMAT,
            "algorithm": ALGORITHM,
            "record_leaf": RECORD_LEAF,
            "manifest": self.manifest,
            "record": self.record,
            "url": self.url,
            "shard": self.shard,
            "record_index": self.record_index,
            "record_count": self.record_count,
            "record_path": list(self.record_path),
            "record_root": self.record_root,
            "leaf_index": self.leaf_index,
            "leaf_count": self.leaf_count,
            "manifest_path": list(self.manifest_path),
            "manifest_root": self.manifest_root,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RecordProof":
        """Parse ``to_dict()`` form strictly.

        Raises:
            ProofError: not an object, a field missing, unknown or malformed.
        """
        if not isinstance(data, Mapping):
            raise ProofError("proof must be a JSON object")
        expected = set(cls(**_EXAMPLE).to_dict())
        missing = sorted(expected - data.keys())
        if missing:
            raise ProofError(f"proof is missing field {missing[0]!r}")
        unknown = sorted(str(k) for k in data.keys() - expected)
        if unknown:
            raise ProofError(f"proof has unknown field {unknown[0]!r}")
        for name, want in (
            ("format", PROOF_FORMAT),
            ("algorithm", ALGORITHM),
            ("record_leaf", RECORD_LEAF),
        ):
            if data[name] != want:
                raise ProofError(f"{name} must be {want!r}, got {data[name]!r}")
        for name in ("record_path", "manifest_path"):
            if not isinstance(data[name], list):
                raise ProofError(f"{name} must be a list")
        fields = {k: data[k] for k in expected - {"format", "algorithm", "record_leaf"}}
        fields["record_path"] = tuple(fields["record_path"])
        fields["manifest_path"] = tuple(fields["manifest_path"])
        return cls(**fields)


_EXAMPLE: Final[dict[str, Any]] = {
    "manifest": "0" * 64,
    "record": "r",
    "shard": "0" * 64,
    "record_index": 0,
    "record_count": 1,
    "record_path": (),
    "record_root": "0" * 64,
    "leaf_index": 0,
    "leaf_count": 1,
    "manifest_path": (),
    "manifest_root": "0" * 64,
}


class RecordTree:
    """A shard's record tree, kept level by level to serve audit paths."""

    def __init__(self, record_ids: Sequence[str]) -> None:
        self.ids = list(record_ids)
        self._levels = tree_levels(record_leaf_hashes(self.ids))
        self.root: Final[str] = root_of(self._levels[-1]).hex()

    def path(self, index: int) -> tuple[str, ...]:
        """The audit path of record ``index`` (hex, sibling first)."""
        return tuple(p.hex() for p in audit_path(self._levels, index))


def verify_record_proof(proof: RecordProof, document: Mapping[str, Any]) -> None:
    """Check ``proof`` against a ``provreg.manifest/2`` document, offline.

    Raises:
        ProofError: the step that failed: the document (schema, hash, root or leaf count), the
            record's path to the shard's record root, or the shard leaf's path to the root.
    """
    from manifests.canonical import canonical_json, sha256_hex
    from manifests.document import SCHEMA_V2, merkle_commitment

    try:
        root, leaves = merkle_commitment(document)
    except DocumentError as exc:
        raise ProofError(f"step 0 (manifest document): {exc}") from exc
    if document["schema"] != SCHEMA_V2:
        raise ProofError(
            f"step 0 (manifest document): schema is {document['schema']!r}; record proofs need "
            f"{SCHEMA_V2!r}, whose leaves commit to record roots"
        )
    digest = sha256_hex(canonical_json(dict(document)))
    if digest != proof.manifest:
        raise ProofError(f"step 0 (manifest document): it hashes to {digest}, not {proof.manifest}")
    if (root, leaves) != (proof.manifest_root, proof.leaf_count):
        raise ProofError(
            f"step 0 (manifest document): its root {root} over {leaves} leaves is not the "
            f"proof's {proof.manifest_root} over {proof.leaf_count}"
        )
    if not verify_leaf_inclusion(
        proof.record.encode("utf-8"),
        proof.record_index,
        proof.record_count,
        [bytes.fromhex(p) for p in proof.record_path],
        bytes.fromhex(proof.record_root),
    ):
        raise ProofError(
            f"step 1 (record tree): record {proof.record} at index {proof.record_index} of "
            f"{proof.record_count} does not lead to record root {proof.record_root}"
        )
    if not verify_leaf_inclusion(
        shard_leaf(proof.shard, proof.record_root),
        proof.leaf_index,
        proof.leaf_count,
        [bytes.fromhex(p) for p in proof.manifest_path],
        bytes.fromhex(proof.manifest_root),
    ):
        raise ProofError(
            f"step 2 (manifest tree): shard {proof.shard} with record root {proof.record_root} "
            f"at leaf {proof.leaf_index} of {proof.leaf_count} does not lead to the manifest root"
        )


__all__ = [
    "PROOF_FORMAT",
    "RECORD_LEAF",
    "RecordProof",
    "RecordRootBuilder",
    "RecordTree",
    "leaf_hash",
    "record_leaf_hashes",
    "record_root",
    "record_root_of_leaves",
    "verify_record_proof",
]
