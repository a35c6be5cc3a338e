"""ISO 4217 currencies and exact amounts: Decimal values, integer minor units, never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from registry.errors import InvalidInput

# Active ISO 4217 codes (list one, 2024). Minor units are 2 unless listed below.
_CODES = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BHD",
    "BIF",
    "BMD",
    "BND",
    "BOB",
    "BOV",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHE",
    "CHF",
    "CHW",
    "CLF",
    "CLP",
    "CNY",
    "COP",
    "COU",
    "CRC",
    "CUC",
    "CUP",
    "CVE",
    "CZK",
    "DJF",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GNF",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IQD",
    "IRR",
    "ISK",
    "JMD",
    "JOD",
    "JPY",
    "KES",
    "KGS",
    "KHR",
    "KMF",
    "KPW",
    "KRW",
    "KWD",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "LYD",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MXV",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "OMR",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "PYG",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "RWF",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TND",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "UGX",
    "USD",
    "USN",
    "UYI",
    "UYU",
    "UYW",
    "UZS",
    "VED",
    "VES",
    "VND",
    "VUV",
    "WST",
    "XAF",
    "XCD",
    "XOF",
    "XPF",
    "YER",
    "ZAR",
    "ZMW",
    "ZWG",
    "ZWL",
]
_MINOR_UNITS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
CURRENCIES: dict[str, int] = {code: _MINOR_UNITS.get(code, 2) for code in _CODES}


def check_currency(code: str) -> str:
    """Return the ISO 4217 code, upper-cased.

    Raises:
        InvalidInput: not an active ISO 4217 code.
    """
    norm = code.strip().upper()
    if norm not in CURRENCIES:
        raise InvalidInput(
            f"unknown currency {code!r}: expected an ISO 4217 code such as EUR or USD"
        )
    return norm


def minor_units(currency: str) -> int:
    return CURRENCIES[check_currency(currency)]


MAX_AMOUNT = Decimal(10) ** 11
"""The largest terms amount, flat fee or pool (in major units): 10^11 EUR is 10^13 cents, and
even a currency with 4 minor digits stays within the ledger's ``MAX_LEDGER_MINOR``."""
MAX_AMOUNT_PLACES = 12
"""Decimal places an amount may have: a per-mtok rate of 0.000000000001 EUR is expressible."""
MAX_SHARE_PLACES = 30
"""Decimal places a contributor's share may have; sums of shares are checked exactly."""
MAX_LEDGER_MINOR = 2**53 - 1
"""The largest amount, in minor units, one ledger entry or total may hold: the ledger's figures
go into RFC 8785 JSON (the audit log, statements), whose numbers are exact up to 2^53 - 1."""
_MAX_NUMBER_TEXT = 100  # characters of a number as typed; anything longer is not an amount


def decimal_places(value: Decimal) -> int:
    """Digits after the point once trailing zeros are dropped (1.50 -> 1, 1E+3 -> 0), exactly.

    (``Decimal.normalize`` would round to the context's precision, so this reads the digits.)
    """
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0  # zero, however it is written
    return max(0, -exponent - (len(digits) - len(significant)))


def parse_decimal(
    text: str | Decimal | int,
    *,
    what: str,
    allow_zero: bool = True,
    max_value: Decimal | None = MAX_AMOUNT,
    max_places: int = MAX_AMOUNT_PLACES,
    max_integer_digits: int | None = None,
) -> Decimal:
    """A finite, non-negative Decimal parsed from user input (never through float), at most
    ``max_value``, with at most ``max_integer_digits`` digits before the point and at most
    ``max_places`` after it.

    Every check is a comparison or a look at the digits, never arithmetic, so no input (1e400,
    1e999999999, 1e-400) can overflow or round on the way in.

    Raises:
        InvalidInput: not a number, not finite, negative (or zero when not allowed), too large,
            or with too many decimal places.
    """
    if isinstance(text, bool):
        raise InvalidInput(f"{what} {text!r} is not a number")
    if isinstance(text, str) and len(text.strip()) > _MAX_NUMBER_TEXT:
        raise InvalidInput(f"{what} is {len(text.strip()):,} characters long; not an amount")
    try:
        value = text if isinstance(text, Decimal) else Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise InvalidInput(f"{what} {text!r} is not a number") from exc
    if not value.is_finite():
        raise InvalidInput(f"{what} {text!r} is not a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(
            f"{what} must be {'non-negative' if allow_zero else 'positive'}, got {text}"
        )
    if max_value is not None and value > max_value:
        raise InvalidInput(f"{what} {text} is more than the limit of {max_value:,}")
    if max_integer_digits is not None and value != 0 and value.adjusted() >= max_integer_digits:
        raise InvalidInput(
            f"{what} {text} has {value.adjusted() + 1:,} digits before the point; at most "
            f"{max_integer_digits} {'is' if max_integer_digits == 1 else 'are'} allowed"
        )
    places = decimal_places(value)
    if places > max_places:
        raise InvalidInput(
            f"{what} {text} has {places} decimal places; at most {max_places} are allowed"
        )
    return value.copy_abs() if value == 0 else value  # -0 is 0


def check_ledger_amount(amount_minor: int, currency: str, what: str) -> int:
    """``amount_minor`` if one ledger entry or total can hold it.

    Raises:
        InvalidInput: above ``MAX_LEDGER_MINOR``, naming the amount and what it is for.
    """
    if abs(amount_minor) > MAX_LEDGER_MINOR:
        raise InvalidInput(
            f"{what} comes to {format_minor(amount_minor, currency)}, more than the ledger's "
            f"limit of {format_minor(MAX_LEDGER_MINOR, currency)}"
        )
    return amount_minor


def to_minor(amount: Decimal, currency: str) -> Decimal:
    """An amount in minor units (cents for EUR), still exact: rounding is the ledger's decision."""
    return amount.scaleb(minor_units(currency))


def format_minor(amount_minor: int, currency: str) -> str:
    """``1234, 'EUR'`` -> ``'12.34 EUR'``."""
    units = minor_units(currency)
    return f"{Decimal(amount_minor).scaleb(-units):.{units}f} {currency}"
