"""RFC 6962 Merkle trees over shard ids, and inclusion proofs.

A manifest commits to its shards through the Merkle Tree Hash (MTH) of
RFC 6962 §2.1 over the sorted shard ids, so that anyone can prove one shard's
membership with about log2(n) hashes and check it with ``hashlib`` alone.

Leaves are the 32 raw bytes of each id (not its hex text) in a ``provreg.manifest/1``
document, and those 32 bytes followed by the 32 raw bytes of the shard's record root
(``manifests.records``) in a ``provreg.manifest/2`` document. Hashes:

* leaf: ``SHA-256(0x00 || leaf)``
* node: ``SHA-256(0x01 || left || right)``
* empty tree: ``SHA-256(b"")``

The tree is computed level by level: hash pairs left to right and promote an
odd last node unchanged to the next level. That yields exactly the RFC's
recursive tree (split at the largest power of two below n) for every n, and
costs one pass per level instead of recursion and slicing.
"""

import hashlib
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Any, Final, NoReturn

from manifests.digests import is_hex64
from manifests.errors import ManifestError, ProofError

ALGORITHM: Final = "rfc6962-sha256"
EMPTY_ROOT: Final = hashlib.sha256(b"").hexdigest()

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"
_ID_BYTES: Final = 32


def sorted_unique_ids(ids: Iterable[str]) -> list[str]:
    """Validate shard ids and return them sorted ascending, as ``merkle_root`` needs.

    Ids are not lowercased: an id is the ``sha256sum`` text of a file, and
    silently accepting another spelling would let two spellings of one shard in.

    Raises:
        ManifestError: an id is not 64 lowercase hex characters, or appears twice.
    """
    out = list(ids)
    for position, shard_id in enumerate(out):
        if not is_hex64(shard_id):
            raise ManifestError(_bad_id_message(position, shard_id))
    out.sort()
    for previous, current in pairwise(out):
        if previous == current:
            raise ManifestError(f"duplicate shard id {current}")
    return out


def merkle_root(shard_ids: Sequence[str], record_roots: Sequence[str] | None = None) -> str:
    """Return the hex RFC 6962 root over ``shard_ids`` (sorted strictly ascending).

    With ``record_roots`` (one per id, in the same order) the leaves are ``provreg.manifest/2``
    leaves: id bytes then record-root bytes.

    Raises:
        ManifestError: an id (or record root) is not 64 lowercase hex characters, the ids are
            not sorted strictly ascending (unsorted or duplicated), or the counts differ.
    """
    raw = _decode_sorted_ids(shard_ids)
    level = _leaf_hashes(raw, record_roots)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0].hex()


def mth(leaves: Sequence[bytes]) -> bytes:
    """Return the raw 32-byte RFC 6962 Merkle Tree Hash over arbitrary leaf data.

    This is the textbook MTH(D[n]) with leaves of any length; it exists so the
    tree can be checked against the published RFC 6962 test vectors, whose
    leaves are not 32-byte ids.
    """
    sha = hashlib.sha256
    level = [sha(_LEAF_PREFIX + bytes(leaf)).digest() for leaf in leaves]
    if not level:
        return sha(b"").digest()
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 6962 audit path proving that ``shard`` is leaf ``leaf_index`` of ``root``.

    ``path`` runs from the leaf's sibling up to the root's child (RFC 6962
    §2.1.1 order). Round trip: ``InclusionProof.from_dict(p.to_dict()) == p``
    for every valid proof, and ``to_dict()`` is plain JSON.

    Raises:
        ProofError: on construction, when a field has the wrong type or shape.
    """

    shard: str
    leaf_index: int
    tree_size: int
    path: tuple[str, ...]
    root: str
    algorithm: str = ALGORITHM
    record_root: str | None = None
    """Set for a ``provreg.manifest/2`` leaf (shard id, then record root); in ``to_dict`` only
    when set, so ``/1`` proofs keep their bytes."""

    def __post_init__(self) -> None:
        if self.record_root is not None and not is_hex64(self.record_root):
            raise ProofError("record_root must be 64 lowercase hex characters")
        if self.algorithm != ALGORITHM:
            raise ProofError(f"algorithm must be {ALGORITHM!r}, got {self.algorithm!r}")
        if not is_hex64(self.shard):
            raise ProofError("shard must be 64 lowercase hex characters")
        if not is_hex64(self.root):
            raise ProofError("root must be 64 lowercase hex characters")
        for name in ("leaf_index", "tree_size"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ProofError(f"{name} must be a non-negative integer, got {value!r}")
        if self.leaf_index >= self.tree_size:
            raise ProofError(f"leaf_index {self.leaf_index} is outside tree_size {self.tree_size}")
        if not isinstance(self.path, tuple) or not all(is_hex64(p) for p in self.path):
            raise ProofError("path must be a tuple of 64-character lowercase hex strings")

    def to_dict(self) -> dict[str, Any]:
        """Return the proof as a JSON-ready dict (the form served by the registry)."""
        out: dict[str, Any] = {
            "algorithm": self.algorithm,
            "shard": self.shard,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "path": list(self.path),
            "root": self.root,
        }
        if self.record_root is not None:
            out["record_root"] = self.record_root
        return out

    @property
    def leaf(self) -> bytes:
        """The leaf's data: the shard id's 32 bytes, then (``/2``) the record root's 32."""
        return shard_leaf(self.shard, self.record_root)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "InclusionProof":
        """Parse a proof from ``to_dict()`` form, strictly.

        Raises:
            ProofError: ``data`` is not a mapping, a field is missing, unknown or
                of the wrong type, or the proof is not well formed.
        """
        if not isinstance(data, Mapping):
            raise ProofError("proof must be a JSON object")
        expected = {"algorithm", "shard", "leaf_index", "tree_size", "path", "root"}
        missing = sorted(expected - data.keys())
        if missing:
            raise ProofError(f"proof is missing field {missing[0]!r}")
        unknown = sorted(str(k) for k in data.keys() - expected - {"record_root"})
        if unknown:
            raise ProofError(f"proof has unknown field {unknown[0]!r}")
        path = data["path"]
        if not isinstance(path, list):
            raise ProofError("path must be a list")
        return cls(
            shard=data["shard"],
            leaf_index=data["leaf_index"],
            tree_size=data["tree_size"],
            path=tuple(path),
            root=data["root"],
            algorithm=data["algorithm"],
            record_root=data.get("record_root"),
        )


class MerkleTree:
    """An RFC 6962 tree over sorted shard ids that keeps its levels to serve proofs.

    Build once per manifest, then call ``inclusion_proof`` as often as needed;
    each proof costs O(log n).
    """

    def __init__(self, shard_ids: Sequence[str], record_roots: Sequence[str] | None = None) -> None:
        """Build the tree (``/2`` leaves when ``record_roots`` is given, as ``merkle_root``).

        Raises:
            ManifestError: as ``merkle_root``.
        """
        self._raw = _decode_sorted_ids(shard_ids)
        self._record_roots = list(record_roots) if record_roots is not None else None
        level = _leaf_hashes(self._raw, record_roots)
        levels = [level]
        while len(level) > 1:
            level = _next_level(level)
            levels.append(level)
        self._levels = levels
        self.size: Final[int] = len(self._raw) // _ID_BYTES
        self.root: Final[str] = level[0].hex() if level else EMPTY_ROOT

    def index_of(self, shard_id: str) -> int:
        """Return the leaf index of ``shard_id``.

        Raises:
            ProofError: ``shard_id`` is malformed or not in the tree.
        """
        if not is_hex64(shard_id):
            raise ProofError("shard id must be 64 lowercase hex characters")
        target = bytes.fromhex(shard_id)
        raw, lo, hi = self._raw, 0, self.size
        while lo < hi:  # binary search over the sorted 32-byte ids
            mid = (lo + hi) // 2
            if raw[mid * _ID_BYTES : (mid + 1) * _ID_BYTES] < target:
                lo = mid + 1
            else:
                hi = mid
        if lo < self.size and raw[lo * _ID_BYTES : (lo + 1) * _ID_BYTES] == target:
            return lo
        raise ProofError(f"shard {shard_id} is not in the tree")

    def inclusion_proof(self, leaf: int | str) -> InclusionProof:
        """Return the inclusion proof for a leaf, given by index or by shard id.

        Raises:
            ProofError: the index is out of range, or the shard is not in the tree.
        """
        if isinstance(leaf, str):
            index = self.index_of(leaf)
        elif type(leaf) is int and 0 <= leaf < self.size:
            index = leaf
        else:
            raise ProofError(f"leaf index {leaf!r} is outside a tree of size {self.size}")
        return InclusionProof(
            shard=self._raw[index * _ID_BYTES : (index + 1) * _ID_BYTES].hex(),
            leaf_index=index,
            tree_size=self.size,
            path=tuple(p.hex() for p in audit_path(self._levels, index)),
            root=self.root,
            record_root=self._record_roots[index] if self._record_roots is not None else None,
        )


def verify_inclusion(proof: InclusionProof, shard_id: str, root: str) -> bool:
    """Check that ``proof`` proves ``shard_id`` is in the tree with root ``root``.

    Implements RFC 9162 §2.1.3.2 from the proof alone (no tree needed). Any
    mismatch (other shard, other root, bad index or path) gives False. The
    algorithm binds ``tree_size`` only through the shape of the path (a proof
    for leaf 9 of 21 leaves also passes as leaf 9 of 20), so when the size
    matters take it from the manifest: ``verify_inclusion_against_document``.
    """
    if not (is_hex64(shard_id) and is_hex64(root)):
        return False
    if proof.shard != shard_id or proof.root != root:
        return False
    return verify_leaf_inclusion(
        proof.leaf,
        proof.leaf_index,
        proof.tree_size,
        [bytes.fromhex(p) for p in proof.path],
        bytes.fromhex(root),
    )


def verify_leaf_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2 over raw leaf data and raw hashes (the companion of ``mth``).

    ``leaf`` is the leaf's data (for a shard, the 32 raw id bytes), not its hash.
    """
    if not 0 <= leaf_index < tree_size or any(len(p) != 32 for p in path):
        return False
    sha = hashlib.sha256
    fn, sn = leaf_index, tree_size - 1
    r = sha(_LEAF_PREFIX + bytes(leaf)).digest()
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(_NODE_PREFIX + p + r).digest()
            while fn and not fn & 1:  # fn == sn: climb past levels with no right sibling
                fn >>= 1
                sn >>= 1
        else:
            r = sha(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_inclusion_against_document(
    proof: InclusionProof, shard_id: str, document: Mapping[str, Any]
) -> bool:
    """Check ``proof`` against a manifest document's ``merkle`` field.

    The root and leaf count come from the document, so a proof built for a
    different manifest (or a different size) fails even if internally sound.

    Raises:
        DocumentError: the document has no well-formed ``merkle`` field.
    """
    from manifests.document import SCHEMA_V2, merkle_commitment  # document imports this module

    root, leaves = merkle_commitment(document)
    if (proof.record_root is not None) != (document["schema"] == SCHEMA_V2):
        return False  # a /2 leaf holds the record root, a /1 leaf does not
    return proof.tree_size == leaves and verify_inclusion(proof, shard_id, root)


def shard_leaf(shard_id: str, record_root: str | None) -> bytes:
    """A shard's leaf data: 32 id bytes (``/1``), or those and 32 record-root bytes (``/2``)."""
    return bytes.fromhex(shard_id) + (bytes.fromhex(record_root) if record_root else b"")


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def tree_levels(leaf_hashes: list[bytes]) -> list[list[bytes]]:
    """Every level of the RFC 6962 tree over these leaf hashes, leaves first, root last."""
    levels = [leaf_hashes]
    while len(levels[-1]) > 1:
        levels.append(_next_level(levels[-1]))
    return levels


def root_of(leaf_hashes: list[bytes]) -> bytes:
    """The raw root over leaf hashes (SHA-256 of b"" for none), keeping one level at a time."""
    level = leaf_hashes
    if not level:
        return hashlib.sha256(b"").digest()
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def audit_path(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    """The RFC 6962 audit path of leaf ``index``: sibling first, the root's child last."""
    path: list[bytes] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):  # else: odd last node, promoted without a sibling
            path.append(level[sibling])
        index >>= 1
    return path


def _decode_sorted_ids(shard_ids: Sequence[str]) -> bytes:
    """Return the ids' raw bytes, concatenated, after checking form and order.

    Fast path for a million ids: one join, one ``fromhex`` and one canonical
    re-encoding compared with the input prove every id is exactly 64 lowercase
    hex characters; a C-level ``map`` proves strict order.
    """
    ids = shard_ids if isinstance(shard_ids, list | tuple) else list(shard_ids)
    n = len(ids)
    if n == 0:
        return b""
    try:
        joined = " ".join(ids)
        raw = bytes.fromhex(joined)  # skips the spaces
    except (TypeError, ValueError):
        raw = b""
    if len(raw) != n * _ID_BYTES or raw.hex(" ", _ID_BYTES) != joined:
        _raise_first_bad_id(ids)
    if not all(map(operator.lt, ids, islice(ids, 1, None))):
        _raise_first_unordered(ids)
    return raw


def _leaf_hashes(raw: bytes, record_roots: Sequence[str] | None = None) -> list[bytes]:
    sha = hashlib.sha256
    prefix = _LEAF_PREFIX
    if record_roots is None:
        return [sha(prefix + raw[i : i + 32]).digest() for i in range(0, len(raw), _ID_BYTES)]
    if len(record_roots) * _ID_BYTES != len(raw):
        raise ManifestError(
            f"{len(record_roots)} record roots for {len(raw) // _ID_BYTES} shard ids"
        )
    for position, root in enumerate(record_roots):
        if not is_hex64(root):
            raise ManifestError(f"record root at position {position} is not 64 lowercase hex")
    return [
        sha(prefix + raw[i * _ID_BYTES : (i + 1) * _ID_BYTES] + bytes.fromhex(r)).digest()
        for i, r in enumerate(record_roots)
    ]


def _next_level(level: list[bytes]) -> list[bytes]:
    """Hash pairs left to right; an odd last node is promoted unchanged."""
    sha = hashlib.sha256
    prefix = _NODE_PREFIX
    pairs = iter(level)
    parents = [
        sha(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]
    if len(level) & 1:
        parents.append(level[-1])
    return parents


def _bad_id_message(position: int, shard_id: object) -> str:
    return f"shard id at position {position} is not 64 lowercase hex characters: {shard_id!r}"


def _raise_first_bad_id(ids: Sequence[object]) -> NoReturn:
    for position, shard_id in enumerate(ids):
        if not is_hex64(shard_id):
            raise ManifestError(_bad_id_message(position, shard_id))
    raise ManifestError("shard ids are malformed")  # unreachable: one id must be bad


def _raise_first_unordered(ids: Sequence[str]) -> NoReturn:
    for position in range(1, len(ids)):
        if not ids[position - 1] < ids[position]:
            kind = "duplicated" if ids[position - 1] == ids[position] else "not sorted"
            raise ManifestError(
                f"shard ids must be sorted strictly ascending; position {position} is "
                f"{kind}: {ids[position - 1]} then {ids[position]}"
            )
    raise ManifestError("shard ids are not sorted")  # unreachable
