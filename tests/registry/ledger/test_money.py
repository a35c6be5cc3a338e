from __future__ import annotations

from decimal import Decimal

import pytest

from registry.errors import InvalidInput
from registry.ledger.money import (
    MAX_LEDGER_MINOR,
    check_currency,
    check_ledger_amount,
    decimal_places,
    format_minor,
    minor_units,
    parse_decimal,
)


def test_currencies_and_minor_units() -> None:
    assert check_currency(" eur ") == "EUR"
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("KWD")) == (2, 0, 3)
    assert format_minor(1234, "EUR") == "12.34 EUR" and format_minor(1234, "JPY") == "1234 JPY"
    assert format_minor(5, "KWD") == "0.005 KWD"
    with pytest.raises(InvalidInput, match="unknown currency"):
        check_currency("EURO")


@pytest.mark.parametrize("bad", ["-1", "NaN", "Infinity", "1e", ""])
def test_parse_decimal_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_decimal(bad, what="amount")


def test_parse_decimal_is_exact() -> None:
    assert parse_decimal("0.1", what="x") + parse_decimal("0.2", what="x") == Decimal("0.3")


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("1e400", {}, "is more than the limit of 100,000,000,000"),
        ("1e30", {}, "is more than the limit of 100,000,000,000"),
        ("1e999999999", {}, "is more than the limit"),
        ("1e9999999999999999999", {}, "is not a number"),
        ("1e-400", {}, "has 400 decimal places; at most 12 are allowed"),
        ("1" * 101, {}, "characters long; not an amount"),
        ("1e999999999", {"max_value": None, "max_integer_digits": 1}, "1,000,000,000 digits"),
        ("12", {"max_value": None, "max_integer_digits": 1}, "2 digits before the point"),
    ],
)
def test_parse_decimal_bounds_value_and_digits_without_arithmetic(
    text: str, kwargs: dict[str, object], message: str
) -> None:
    """Issue 19, defects 4 and 5: 1e400 and 1e30 were accepted, 1e999999999 raised Overflow."""
    with pytest.raises(InvalidInput) as err:
        parse_decimal(text, what="amount", **kwargs)  # type: ignore[arg-type]
    assert message in err.value.detail


def test_digits_are_counted_exactly() -> None:
    assert [decimal_places(Decimal(t)) for t in ("1.50", "1E+3", "0.000", "1e-400")] == [
        1,
        0,
        0,
        400,
    ]
    assert parse_decimal("-0", what="x") == 0 and str(parse_decimal("-0", what="x")) == "0"


def test_the_ledger_refuses_an_amount_it_cannot_hold() -> None:
    assert check_ledger_amount(MAX_LEDGER_MINOR, "EUR", "x") == MAX_LEDGER_MINOR
    with pytest.raises(
        InvalidInput, match=r"more than the ledger's limit of 90071992547409\.91 EUR"
    ):
        check_ledger_amount(MAX_LEDGER_MINOR + 1, "EUR", "settling run 'r'")
