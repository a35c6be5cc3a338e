"""Drift between an increment's data and its ancestors' (registry/continual/drift.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from registry.continual.drift import domain_mix_drift, jensen_shannon
from registry.db.models import ShardDomain
from tests.registry import factories as f
from tests.registry.shards import shard_files


def test_jensen_shannon_on_hand_computed_cases() -> None:
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4); KL(p||m) = log2(4/3);
    # KL(q||m) = 1/2 log2(2/3) + 1/2 log2(2); JSD = their mean.
    expected = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert jensen_shannon(np.array([10, 0]), np.array([5, 5])) == pytest.approx(expected)
    assert jensen_shannon(np.array([3, 1]), np.array([6, 2])) == pytest.approx(0.0)
    assert jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert jensen_shannon(np.array([0, 0]), np.array([1, 1])) is None


def test_the_domain_mix_is_summed_from_the_shard_domain_rows(
    session_factory: Any, tmp_path: Path
) -> None:
    """Delta all from a.example, ancestors half a.example and half b.example (by bytes); no
    shard file is opened (the rows alone decide)."""
    with session_factory() as s:
        src = f.source(s, "crawl", licence="MIT")
        new, old1, old2, bare = shard_files.register(
            s, src, "crawl", tmp_path, [["n"], ["o1"], ["o2"], ["v1"]]
        )
        s.add_all(
            [
                ShardDomain(shard_id=new, domain="a.example", records=2, bytes=100, tokens=9),
                ShardDomain(shard_id=old1, domain="a.example", records=1, bytes=60, tokens=5),
                ShardDomain(shard_id=old1, domain="b.example", records=1, bytes=40, tokens=5),
                ShardDomain(shard_id=old2, domain="b.example", records=1, bytes=60, tokens=5),
                ShardDomain(shard_id=old2, domain="a.example", records=1, bytes=40, tokens=5),
            ]
        )
        s.flush()
        for p in tmp_path.rglob("*.parquet"):
            p.unlink()
        expected = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
        assert domain_mix_drift(s, [new], [old1, old2]) == pytest.approx(expected)
        # (0.6, 0.4) against (0.4, 0.6): m = (1/2, 1/2), both KL terms equal
        swapped = 0.6 * math.log2(1.2) + 0.4 * math.log2(0.8)
        assert domain_mix_drift(s, [old1], [old2]) == pytest.approx(swapped)
        assert domain_mix_drift(s, [bare], [old1]) is None  # a shard with no URL rows
