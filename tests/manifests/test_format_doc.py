"""The hand verifier in docs/manifest-format.md must agree with the package."""

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manifests.merkle import MerkleTree

DOC = Path(__file__).resolve().parents[2] / "docs" / "manifest-format.md"


def _doc_verifier() -> Callable[..., bool]:
    shard_section = DOC.read_text(encoding="utf-8").split("## Record proofs")[0]
    blocks = re.findall(r"```python\n(.*?)```", shard_section, re.DOTALL)
    assert len(blocks) == 1  # the record-proof verifier: tests/registry/test_record_proofs.py
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def test_documented_verifier_accepts_real_proofs_and_rejects_bad_ones() -> None:
    verify = _doc_verifier()
    for size in (1, 2, 3, 5, 8, 13, 64, 100):
        ids = sorted(hashlib.sha256(f"{size}/{i}".encode()).hexdigest() for i in range(size))
        tree = MerkleTree(ids)
        for index in range(size):
            p = tree.inclusion_proof(index)
            assert verify(p.shard, p.leaf_index, size, list(p.path), tree.root)
            other = ids[(index + 1) % size]
            if other != p.shard:
                assert not verify(other, p.leaf_index, size, list(p.path), tree.root)
            assert not verify(p.shard, p.leaf_index, size + 64, list(p.path), tree.root)
