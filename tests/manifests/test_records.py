"""The record tree: known answers, the streaming builder against the whole-list root, and the
proof's strict JSON round trip."""

import hashlib
import random

import pytest

from manifests.errors import ProofError
from manifests.records import RecordProof, RecordRootBuilder, RecordTree, record_root


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _ids(n: int) -> list[str]:
    return [hashlib.sha256(f"text {i}".encode()).hexdigest() for i in range(n)]


def test_known_answers() -> None:
    assert record_root([]) == hashlib.sha256(b"").hexdigest()
    a, b, c = _ids(3)
    la, lb, lc = (_h(b"\x00" + x.encode("ascii")) for x in (a, b, c))
    assert record_root([a]) == la.hex()
    assert record_root([a, b]) == _h(b"\x01" + la + lb).hex()
    assert record_root([a, b, c]) == _h(b"\x01" + _h(b"\x01" + la + lb) + lc).hex()
    assert record_root([a, a]) != record_root([a])  # duplicates are leaves too
    assert record_root([b, a]) != record_root([a, b])  # file order matters


@pytest.mark.parametrize("n", [*range(0, 40), 63, 64, 65, 1000, 1025])
def test_the_streaming_builder_matches_the_whole_tree_however_batches_are_cut(n: int) -> None:
    ids = _ids(n)
    rng = random.Random(n)
    builder = RecordRootBuilder()
    i = 0
    while i < n:
        j = min(n, i + rng.randint(1, 17))
        builder.add_ascii_ids("".join(ids[i:j]).encode("ascii"))
        i = j
    assert builder.root() == record_root(ids) == RecordTree(ids).root


def test_a_proof_round_trips_and_rejects_unknown_fields() -> None:
    tree = RecordTree(_ids(5))
    proof = RecordProof(
        manifest="1" * 64, record=tree.ids[3], shard="2" * 64, record_index=3, record_count=5,
        record_path=tree.path(3), record_root=tree.root, leaf_index=0, leaf_count=1,
        manifest_path=(), manifest_root="3" * 64, url="https://a.example/x",
    )  # fmt: skip
    assert RecordProof.from_dict(proof.to_dict()) == proof
    with pytest.raises(ProofError, match="unknown field 'extra'"):
        RecordProof.from_dict({**proof.to_dict(), "extra": 1})
    with pytest.raises(ProofError, match="record_index"):
        RecordProof.from_dict({**proof.to_dict(), "record_index": 5})
