"""Largest-remainder splits and the one rounding of a source's amount: pure, hand-computed."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidInput
from registry.ledger.allocation import allocate, per_mtok_exact, round_minor, to_minor_exact


def test_three_equal_shares_of_one_cent_go_to_the_first() -> None:
    # 1 * 1/3 = 0.333.. each: floors [0,0,0], one unit left, remainders tie -> lowest index.
    assert allocate(1, [Decimal("0.333333"), Decimal("0.333333"), Decimal("0.333334")]) == [0, 0, 1]
    assert allocate(1, [1, 1, 1]) == [1, 0, 0]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]


def test_largest_remainder_not_first_index() -> None:
    # 100 cents by 0.155 / 0.345 / 0.5 -> exact 15.5 / 34.5 / 50: floors 15+34+50 = 99,
    # remainders 0.5, 0.5, 0 -> the tie goes to index 0: [16, 34, 50].
    assert allocate(100, [Decimal("0.155"), Decimal("0.345"), Decimal("0.5")]) == [16, 34, 50]
    # 10 by 1/6, 1/3, 1/2 -> 1.666.., 3.333.., 5: floors 1+3+5 = 9; remainders 2/3, 1/3, 0.
    assert allocate(10, [1, 2, 3]) == [2, 3, 5]


def test_zero_weights_and_zero_total() -> None:
    assert allocate(0, [1, 2]) == [0, 0]
    assert allocate(0, [0, 0]) == [0, 0]
    assert allocate(7, [0, 5, 0]) == [0, 7, 0]


@pytest.mark.parametrize(
    ("total", "weights"),
    [(-1, [1]), (5, []), (5, [0, 0]), (5, [Decimal("-1"), 2]), (5, [Decimal("NaN")]), (5, [0.5])],
)
def test_bad_splits_are_refused(total: int, weights: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput):
        allocate(total, weights)


def test_per_mtok_rounding_once_half_even() -> None:
    # 1 token at EUR 5 / Mtok = 500 cents / 1e6 = 0.0005 cents -> rounds to 0.
    assert per_mtok_exact(1, Decimal("5"), "EUR") == Decimal("0.0005")
    assert round_minor(per_mtok_exact(1, Decimal("5"), "EUR")) == 0
    # 5,000 tokens at EUR 1 / Mtok = 0.5 cent exactly -> half even -> 0; 15,000 -> 1.5 -> 2.
    assert round_minor(per_mtok_exact(5_000, Decimal("1"), "EUR")) == 0
    assert round_minor(per_mtok_exact(15_000, Decimal("1"), "EUR")) == 2
    # 10^12 tokens at EUR 1.23 / Mtok = 1e6 Mtok * 1.23 = EUR 1,230,000 = 123,000,000 cents.
    assert round_minor(per_mtok_exact(10**12, Decimal("1.23"), "EUR")) == 123_000_000
    # 2^62 tokens at a 30-digit rate stays exact (the default 28-digit context would round).
    rate = Decimal("1.23456789012345678901234567891")
    exact = per_mtok_exact(2**62, rate, "EUR")
    assert Fraction(exact) == Fraction(2**62) * Fraction(rate) * 100 / 10**6
    # JPY has no minor unit, KWD has three.
    assert to_minor_exact(Decimal("12"), "JPY") == 12
    assert to_minor_exact(Decimal("1.005"), "KWD") == 1005


weights_st = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=10**15),
        st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=40,
).filter(lambda ws: sum(Fraction(w) for w in ws) > 0)


@given(total=st.integers(min_value=0, max_value=10**18), weights=weights_st)
def test_every_split_sums_exactly_and_each_part_is_within_one_unit(
    total: int, weights: list
) -> None:  # type: ignore[type-arg]
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    whole = sum(Fraction(w) for w in weights)
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(total) * Fraction(w) / whole
        assert part >= 0
        assert abs(part - exact) < 1
    assert allocate(total, weights) == parts  # deterministic
