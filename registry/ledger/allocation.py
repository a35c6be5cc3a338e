"""Exact splits of money: integer minor units, largest-remainder rounding, no floats anywhere.

Why largest remainder (Hamilton): it is the one rule that makes the parts of a split add up
exactly to the whole while keeping every part within one minor unit of its exact share. The
rule is written down in ``docs/ledger.md``.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from math import lcm

from registry.errors import InvalidInput
from registry.ledger.money import to_minor

# Enough digits that products of token counts (< 2**63) and rates/shares (stored as at most
# 64 characters of text) are exact; any rounding inside this context raises instead.
EXACT = decimal.Context(prec=200, traps=[decimal.Inexact, decimal.InvalidOperation])


def allocate(total_minor: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Split ``total_minor`` minor units in proportion to ``weights``; the parts sum exactly.

    Largest remainder: part i gets floor(total * w_i / W); the units left over go one each to
    the parts with the largest fractional remainders, ties to the lower index. Deterministic:
    the same inputs always give the same parts.

    Raises:
        InvalidInput: a negative total, no weights, a negative or non-finite weight, or all
            weights zero with a non-zero total.
    """
    if isinstance(total_minor, bool) or not isinstance(total_minor, int):
        raise InvalidInput(
            f"amount to split must be an integer number of minor units, got {total_minor!r}"
        )
    if total_minor < 0:
        raise InvalidInput(f"amount to split must be non-negative, got {total_minor}")
    if not weights:
        raise InvalidInput("cannot split an amount across nobody: no weights")
    ratios: list[tuple[int, int]] = []
    for i, w in enumerate(weights):
        if isinstance(w, bool) or not isinstance(w, (int, Decimal)):
            raise InvalidInput(f"weight {i} must be an int or Decimal, got {w!r}")
        if isinstance(w, Decimal) and not w.is_finite():
            raise InvalidInput(f"weight {i} is not finite: {w}")
        if w < 0:
            raise InvalidInput(f"weight {i} is negative: {w}")
        ratios.append(w.as_integer_ratio())  # exact, reduced: n / d
    # Scale every weight to an integer over one common denominator: all arithmetic is on ints.
    denom = lcm(*{d for _, d in ratios})
    ints = [n * (denom // d) for n, d in ratios]
    whole = sum(ints)
    if whole == 0:
        if total_minor == 0:
            return [0] * len(ints)
        raise InvalidInput("cannot split a non-zero amount when every weight is zero")
    parts, remainders = [], []
    for w in ints:
        q, r = divmod(total_minor * w, whole)
        parts.append(q)
        remainders.append(r)
    left = total_minor - sum(parts)  # 0 <= left < len(parts)
    for i in sorted(range(len(parts)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


def to_minor_exact(amount: Decimal, currency: str) -> Decimal:
    """An amount in minor units of ``currency`` (EUR 1.505 -> 150.5), exact, not yet rounded.

    Raises:
        InvalidInput: an unknown currency.
    """
    with decimal.localcontext(EXACT):
        return to_minor(amount, currency)


def per_mtok_exact(tokens: int, rate: Decimal, currency: str) -> Decimal:
    """``tokens`` priced at ``rate`` per million tokens, in exact minor units of ``currency``."""
    with decimal.localcontext(EXACT):
        return (Decimal(tokens) * to_minor_exact(rate, currency)).scaleb(-6)


def round_minor(exact_minor: Decimal) -> int:
    """The one rounding of a source's amount: to whole minor units, half to even (banker's)."""
    with decimal.localcontext(EXACT) as ctx:
        ctx.traps[decimal.Inexact] = False
        return int(exact_minor.to_integral_value(rounding=ROUND_HALF_EVEN))


def is_whole_minor(amount: Decimal, currency: str) -> bool:
    """Whether ``amount`` is a whole number of minor units (EUR 10.00 yes, EUR 10.005 no)."""
    exact = to_minor_exact(amount, currency)
    return exact == exact.to_integral_value()
