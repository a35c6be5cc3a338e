"""Tests for manifests.merkle: RFC 6962 trees, proofs and RFC 9162 verification."""

import base64
import dataclasses
import hashlib
import json
import time
from functools import cache

import pytest

from manifests.errors import DocumentError, ManifestError, ProofError
from manifests.merkle import (
    ALGORITHM,
    EMPTY_ROOT,
    InclusionProof,
    MerkleTree,
    merkle_root,
    mth,
    sorted_unique_ids,
    verify_inclusion,
    verify_inclusion_against_document,
    verify_leaf_inclusion,
)


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- a straightforward recursive reference: RFC 6962 §2.1 MTH and §2.1.1 PATH --------------


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def ref_mth(leaves: tuple[bytes, ...]) -> bytes:
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + leaves[0])
    k = _split(n)
    return h(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: tuple[bytes, ...]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ids_for(n: int, salt: bytes = b"") -> list[str]:
    return sorted(h(salt + i.to_bytes(8, "big")).hex() for i in range(n))


# --- RFC 6962 / certificate-transparency known-answer vectors -------------------------------
# The CT reference implementation's leaves and roots (also transparency-dev/merkle testonly).

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (index, size, audit path) from the reference inclusion-proof tables.
CT_PATHS = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
# transparency-dev/merkle compact/range_test.go golden roots; leaf i is (i & 0xff, i >> 8 & 0xff).
GOLDEN_ROOTS_B64 = {
    10: "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4=",
    15: "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI=",
    16: "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE=",
    100: "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY=",
    255: "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0=",
    256: "qFI0t/tZ1MdOYgyPpPzHFiZVw86koScXy9q3FU5casA=",
    1000: "RXrgb8xHd55Y48FbfotJwCbV82Kx22LZfEbmBGAvwlQ=",
    4095: "cWRFdQhPcjn9WyBXE/r1f04ejxIm5lvg40DEpRBVS0w=",
    4096: "6uU/phfHg1n/GksYT6TO9aN8EauMCCJRl3dIK0HDs2M=",
    10000: "VZcav65F9haHVRk3wre2axFoBXRNeUh/1d9d5FQfxIg=",
    65535: "iPuVYJhP6SEE4gUFp8qbafd2rYv9YTCDYqAxCj8HdLM=",
}


def test_hash_primitives_match_rfc6962_vectors() -> None:
    # transparency-dev/merkle rfc6962_test.go: empty, empty leaf, leaf "L123456".
    assert EMPTY_ROOT == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert mth([]).hex() == EMPTY_ROOT
    assert mth([b""]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert (
        mth([b"L123456"]).hex()
        == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )


@pytest.mark.parametrize("size", range(9))
def test_mth_matches_ct_roots(size: int) -> None:
    assert mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    assert ref_mth(tuple(CT_LEAVES[:size])).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("size", "root_b64"), sorted(GOLDEN_ROOTS_B64.items()))
def test_mth_matches_golden_roots(size: int, root_b64: str) -> None:
    leaves = [bytes((i & 0xFF, (i >> 8) & 0xFF)) for i in range(size)]
    assert mth(leaves) == base64.b64decode(root_b64)


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_reference_path_and_verifier_match_ct_vectors(
    index: int, size: int, path: list[str]
) -> None:
    leaves = tuple(CT_LEAVES[:size])
    expected = [bytes.fromhex(p) for p in path]
    assert ref_path(index, leaves) == expected
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_leaf_inclusion(leaves[index], index, size, expected, root)
    assert not verify_leaf_inclusion(b"WrongLeaf", index, size, expected, root)


def test_verify_leaf_inclusion_rejects_ct_corruptions() -> None:
    """The corruption table of transparency-dev/merkle proof/verify_test.go."""
    some_hash = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    for index, size, path_hex in CT_PATHS:
        leaf = CT_LEAVES[index]
        root = bytes.fromhex(CT_ROOTS[size])
        path = [bytes.fromhex(p) for p in path_hex]
        assert verify_leaf_inclusion(leaf, index, size, path, root)
        bad: list[tuple[int, int, bytes, list[bytes]]] = [
            (index - 1, size, root, path),
            (index + 1, size, root, path),
            (index ^ 2, size, root, path),
            (index, size * 2, root, path),
            (index, size // 2, root, path),
            (index, size, bytes.fromhex(EMPTY_ROOT), path),
            (index, size, some_hash, path),
            (index, size, root, [*path, b""]),
            (index, size, root, [*path, root]),
            (index, size, root, [b"", *path]),
            (index, size, root, [root, *path]),
        ]
        for i in range(len(path)):
            flipped = list(path)
            flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
            bad.append((index, size, root, flipped))
        if path:
            bad.append((index, size, root, path[:-1]))
        if len(path) > 1:
            bad.append((index, size, root, [path[0], some_hash, *path[1:]]))
        for b_index, b_size, b_root, b_path in bad:
            assert not verify_leaf_inclusion(leaf, b_index, b_size, b_path, b_root), (
                index,
                size,
                b_index,
                b_size,
            )


# --- equivalence of the level-by-level tree and the RFC's recursive definition -------------


@pytest.mark.parametrize("size", range(1, 71))
def test_tree_matches_recursive_reference_for_every_index(size: int) -> None:
    ids = ids_for(size)
    leaves = tuple(bytes.fromhex(i) for i in ids)
    tree = MerkleTree(ids)
    expected_root = ref_mth(leaves).hex()
    assert tree.root == expected_root
    assert merkle_root(ids) == expected_root
    assert mth(list(leaves)).hex() == expected_root
    assert tree.size == size
    for index in range(size):
        proof = tree.inclusion_proof(index)
        assert proof.path == tuple(p.hex() for p in ref_path(index, leaves))
        assert proof.shard == ids[index]
        assert proof.leaf_index == index
        assert proof.tree_size == size
        assert proof.root == expected_root
        assert verify_inclusion(proof, ids[index], expected_root)


@pytest.mark.parametrize("size", [127, 128, 129, 1000, 1023, 1025, 4097])
def test_larger_sizes_match_reference(size: int) -> None:
    ids = ids_for(size, salt=b"larger")
    leaves = tuple(bytes.fromhex(i) for i in ids)
    assert merkle_root(ids) == ref_mth(leaves).hex()
    tree = MerkleTree(ids)
    for index in (0, 1, size // 2, size - 2, size - 1):
        assert tree.inclusion_proof(index).path == tuple(p.hex() for p in ref_path(index, leaves))


def test_empty_tree() -> None:
    assert merkle_root([]) == EMPTY_ROOT
    tree = MerkleTree([])
    assert (tree.root, tree.size) == (EMPTY_ROOT, 0)
    with pytest.raises(ProofError):
        tree.inclusion_proof(0)


def test_single_leaf_root_is_leaf_hash() -> None:
    shard = "ab" * 32
    assert merkle_root([shard]) == h(b"\x00" + bytes.fromhex(shard)).hex()
    proof = MerkleTree([shard]).inclusion_proof(shard)
    assert proof.path == ()
    assert verify_inclusion(proof, shard, proof.root)


THREE_ID_ROOT = "0996484f8d85db196b220ab04b252ab810568e5c804695eea0b9f4380fcc3215"


def test_known_answer_for_three_ids() -> None:
    a, b, c = "00" * 32, "11" * 32, "ff" * 32
    la, lb, lc = (h(b"\x00" + bytes.fromhex(x)) for x in (a, b, c))
    by_hand = h(b"\x01" + h(b"\x01" + la + lb) + lc).hex()
    assert merkle_root([a, b, c]) == by_hand == THREE_ID_ROOT


# --- input validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        ["AB" * 32],  # uppercase
        ["ab" * 31],  # short
        ["ab" * 33],  # long
        ["zz" * 32],  # not hex
        ["ab" * 16 + " " + "ab" * 15 + "a"],  # embedded space, right length
        ["ab" * 32 + "\n"],
        [b"\xab" * 32],  # bytes, not text
        [None],
    ],
)
def test_merkle_root_rejects_malformed_ids(bad: list[object]) -> None:
    with pytest.raises(ManifestError, match="position 0"):
        merkle_root(bad)  # type: ignore[arg-type]
    with pytest.raises(ManifestError):
        MerkleTree(bad)  # type: ignore[arg-type]


def test_merkle_root_rejects_mixed_lengths_that_sum_correctly() -> None:
    with pytest.raises(ManifestError, match="position 0"):
        merkle_root(["ab" * 31, "ab" * 33])


def test_merkle_root_rejects_unsorted_and_duplicates() -> None:
    ids = ids_for(5)
    with pytest.raises(ManifestError, match="not sorted"):
        merkle_root([ids[1], ids[0], *ids[2:]])
    with pytest.raises(ManifestError, match="duplicated"):
        merkle_root([ids[0], ids[0]])
    with pytest.raises(ManifestError, match="position 4"):
        merkle_root([*ids[:4], ids[0]])


def test_sorted_unique_ids() -> None:
    ids = ids_for(20)
    assert sorted_unique_ids(reversed(ids)) == ids
    assert sorted_unique_ids(iter(ids)) == ids
    with pytest.raises(ManifestError, match="duplicate"):
        sorted_unique_ids([ids[3], ids[1], ids[3]])
    with pytest.raises(ManifestError, match="lowercase"):
        sorted_unique_ids([ids[0], ids[1].upper()])
    assert merkle_root(sorted_unique_ids(reversed(ids))) == merkle_root(ids)


def test_root_depends_on_the_set_of_ids() -> None:
    ids = ids_for(10)
    assert merkle_root(ids) != merkle_root(ids[:-1])
    assert merkle_root(ids) != merkle_root(ids_for(10, salt=b"other"))


# --- proofs ---------------------------------------------------------------------------------


def test_proof_round_trip_through_json() -> None:
    ids = ids_for(37)
    tree = MerkleTree(ids)
    for index in (0, 17, 36):
        proof = tree.inclusion_proof(index)
        data = json.loads(json.dumps(proof.to_dict()))
        assert data["algorithm"] == ALGORITHM
        assert InclusionProof.from_dict(data) == proof
        assert InclusionProof.from_dict(data).to_dict() == data


def test_proof_by_shard_id_equals_proof_by_index() -> None:
    ids = ids_for(33)
    tree = MerkleTree(ids)
    for index, shard in enumerate(ids):
        assert tree.index_of(shard) == index
        assert tree.inclusion_proof(shard) == tree.inclusion_proof(index)
    with pytest.raises(ProofError, match="not in the tree"):
        tree.inclusion_proof("00" * 32)
    with pytest.raises(ProofError, match="not in the tree"):
        tree.inclusion_proof("ff" * 32)
    with pytest.raises(ProofError):
        tree.inclusion_proof(33)
    with pytest.raises(ProofError):
        tree.inclusion_proof(-1)
    with pytest.raises(ProofError):
        tree.inclusion_proof(ids[0].upper())


def _valid_proof_dict() -> dict[str, object]:
    return MerkleTree(ids_for(6)).inclusion_proof(2).to_dict()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("algorithm", "sha256"),
        ("shard", "AB" * 32),
        ("shard", 5),
        ("leaf_index", -1),
        ("leaf_index", 6),
        ("leaf_index", True),
        ("leaf_index", "2"),
        ("leaf_index", 2.0),
        ("tree_size", 0),
        ("path", "abc"),
        ("path", ["ab" * 31]),
        ("path", [None]),
        ("root", "x" * 64),
    ],
)
def test_from_dict_rejects_bad_fields(field: str, value: object) -> None:
    data = _valid_proof_dict()
    data[field] = value
    with pytest.raises(ProofError):
        InclusionProof.from_dict(data)


def test_from_dict_rejects_missing_and_unknown_fields() -> None:
    data = _valid_proof_dict()
    del data["root"]
    with pytest.raises(ProofError, match="'root'"):
        InclusionProof.from_dict(data)
    data = _valid_proof_dict()
    data["extra"] = 1
    with pytest.raises(ProofError, match="'extra'"):
        InclusionProof.from_dict(data)
    with pytest.raises(ProofError):
        InclusionProof.from_dict(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_proof_failures() -> None:
    ids = ids_for(21)
    tree = MerkleTree(ids)
    proof = tree.inclusion_proof(9)
    shard, root = ids[9], tree.root
    assert verify_inclusion(proof, shard, root)

    # A shard that is not in the tree, and a neighbour that is.
    assert not verify_inclusion(proof, "00" * 32, root)
    assert not verify_inclusion(proof, ids[10], root)
    assert not verify_inclusion(dataclasses.replace(proof, shard=ids[10]), ids[10], root)
    # Tampered path elements, each in turn.
    for i in range(len(proof.path)):
        path = list(proof.path)
        path[i] = ("0" if path[i][0] != "0" else "1") + path[i][1:]
        assert not verify_inclusion(dataclasses.replace(proof, path=tuple(path)), shard, root)
    # Truncated, extended and reordered paths.
    assert not verify_inclusion(dataclasses.replace(proof, path=proof.path[:-1]), shard, root)
    assert not verify_inclusion(dataclasses.replace(proof, path=(*proof.path, root)), shard, root)
    assert not verify_inclusion(dataclasses.replace(proof, path=proof.path[::-1]), shard, root)
    # Wrong index and wrong tree size.
    for index in (8, 10, 0, 20):
        assert not verify_inclusion(dataclasses.replace(proof, leaf_index=index), shard, root)
    for size in (10, 16, 42, 64):
        assert not verify_inclusion(dataclasses.replace(proof, tree_size=size), shard, root)
    # RFC 9162 binds the size only through the path's shape: sizes 20 and 21 give leaf 9 the
    # same shape, so the size must come from the manifest, which the document check enforces.
    resized = dataclasses.replace(proof, tree_size=20)
    assert verify_inclusion(resized, shard, root)
    assert not verify_inclusion_against_document(resized, shard, _document(root, 21))
    # Wrong root, whether or not the proof's own root field is updated to match.
    other_root = merkle_root(ids[:-1])
    assert not verify_inclusion(proof, shard, other_root)
    assert not verify_inclusion(dataclasses.replace(proof, root=other_root), shard, other_root)
    # Malformed arguments are simply not proofs.
    assert not verify_inclusion(proof, shard.upper(), root)
    assert not verify_inclusion(proof, shard, "nonsense")


def test_proof_from_a_smaller_tree_does_not_verify_in_a_bigger_one() -> None:
    ids = ids_for(40)
    small = MerkleTree(ids[:32]).inclusion_proof(5)
    big = MerkleTree(ids)
    assert not verify_inclusion(dataclasses.replace(small, root=big.root), ids[5], big.root)
    assert verify_inclusion(big.inclusion_proof(5), ids[5], big.root)


def _document(root: str, leaves: int) -> dict[str, object]:
    return {
        "schema": "provreg.manifest/1",
        "merkle": {"algorithm": ALGORITHM, "root": root, "leaves": leaves},
    }


def test_verify_inclusion_against_document() -> None:
    ids = ids_for(12)
    tree = MerkleTree(ids)
    proof = tree.inclusion_proof(ids[7])
    assert verify_inclusion_against_document(proof, ids[7], _document(tree.root, 12))
    assert not verify_inclusion_against_document(proof, ids[7], _document(tree.root, 13))
    assert not verify_inclusion_against_document(proof, ids[7], _document(EMPTY_ROOT, 12))
    assert not verify_inclusion_against_document(proof, ids[6], _document(tree.root, 12))
    with pytest.raises(DocumentError, match="merkle"):
        verify_inclusion_against_document(proof, ids[7], {"schema": "provreg.manifest/1"})
    with pytest.raises(DocumentError, match="algorithm"):
        doc = _document(tree.root, 12)
        doc["merkle"] = {"algorithm": "sha1", "root": tree.root, "leaves": 12}
        verify_inclusion_against_document(proof, ids[7], doc)
    with pytest.raises(DocumentError, match="schema"):
        doc = _document(tree.root, 12)
        doc["schema"] = "other/1"
        verify_inclusion_against_document(proof, ids[7], doc)


# --- a million leaves -----------------------------------------------------------------------


def _range_mth(leaf_hashes: list[bytes], lo: int, hi: int) -> bytes:
    """Recursive RFC 6962 MTH over leaf_hashes[lo:hi], without slicing."""
    n = hi - lo
    if n == 1:
        return leaf_hashes[lo]
    k = _split(n)
    return h(b"\x01" + _range_mth(leaf_hashes, lo, lo + k) + _range_mth(leaf_hashes, lo + k, hi))


@pytest.fixture(scope="module")
def million_ids() -> list[str]:
    # Allocated in sorted order, as a database read would deliver them.
    ids = sorted(h(i.to_bytes(8, "big")) for i in range(1_000_001))
    return [b.hex() for b in ids]


def test_million_leaves(million_ids: list[str]) -> None:
    n = len(million_ids)
    started = time.perf_counter()
    root = merkle_root(million_ids)
    elapsed = time.perf_counter() - started
    assert elapsed < 6.0, f"merkle_root took {elapsed:.2f}s for {n} leaves"

    leaf_hashes = [h(b"\x00" + bytes.fromhex(i)) for i in million_ids]
    assert root == _range_mth(leaf_hashes, 0, n).hex()

    tree = MerkleTree(million_ids)
    assert tree.root == root
    assert tree.size == n
    for index in (0, 1, 2**19 - 1, 2**19, 777_777, n - 2, n - 1):
        proof = tree.inclusion_proof(index)
        assert len(proof.path) <= 20
        assert verify_inclusion(proof, million_ids[index], root)
        assert not verify_inclusion(proof, million_ids[(index + 1) % n], root)
    # Leaf 0: 19 hashes inside the left subtree of 2**19 leaves, plus the right subtree's root.
    assert len(tree.inclusion_proof(0).path) == 20
