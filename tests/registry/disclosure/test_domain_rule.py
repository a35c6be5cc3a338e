"""The EU summary's domain rule (section 2.3) on hand-computed cases."""

from __future__ import annotations

import pytest

from registry.disclosure.domain_rule import most_relevant, relevant_domain_count


@pytest.mark.parametrize(
    ("domains", "listed", "listed_sme"),
    [
        (0, 0, 0),
        (1, 1, 1),  # 10% of 1 is 0.1: rounded up, one domain
        (9, 1, 1),
        (10, 1, 1),
        (11, 2, 1),  # 1.1 -> 2; 0.55 -> 1
        (20, 2, 1),
        (21, 3, 2),  # 2.1 -> 3; 1.05 -> 2
        (25, 3, 2),  # 2.5 -> 3; 1.25 -> 2
        (100, 10, 5),
        (19_999, 2_000, 1_000),  # 1999.9 -> 2000; 999.95 -> 1000
        (20_000, 2_000, 1_000),
        (20_001, 2_001, 1_000),  # 5% is 1000.05 -> 1001, but at most 1,000
        (100_000, 10_000, 1_000),
    ],
)
def test_the_count_of_domains_listed(domains: int, listed: int, listed_sme: int) -> None:
    assert relevant_domain_count(domains) == listed
    assert relevant_domain_count(domains, sme=True) == listed_sme


def test_the_head_of_the_ranking_is_kept() -> None:
    ranked = [f"d{i}" for i in range(25)]
    assert most_relevant(ranked, 25) == ["d0", "d1", "d2"]
    assert most_relevant(ranked, 25, sme=True) == ["d0", "d1"]


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        relevant_domain_count(-1)
