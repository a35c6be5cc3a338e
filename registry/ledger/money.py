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


def parse_decimal(text: str | Decimal | int, *, what: str, allow_zero: bool = True) -> Decimal:
    """A finite, non-negative Decimal parsed from user input (never through float).

    Raises:
        InvalidInput: not a number, not finite, negative (or zero when not allowed).
    """
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
    return value


def to_minor(amount: Decimal, currency: str) -> Decimal:
    """An amount in minor units (cents for EUR), still exact: rounding is the ledger's decision."""
    return amount.scaleb(minor_units(currency))


def format_minor(amount_minor: int, currency: str) -> str:
    """``1234, 'EUR'`` -> ``'12.34 EUR'``."""
    units = minor_units(currency)
    return f"{Decimal(amount_minor).scaleb(-units):.{units}f} {currency}"
