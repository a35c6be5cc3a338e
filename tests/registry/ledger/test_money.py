from __future__ import annotations

from decimal import Decimal

import pytest

from registry.errors import InvalidInput
from registry.ledger.money import check_currency, format_minor, minor_units, parse_decimal


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
