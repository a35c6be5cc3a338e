"""Validation of the lowercase hex SHA-256 digests used as ids and roots."""

import re

_HEX64 = re.compile(r"[0-9a-f]{64}")


def is_hex64(value: object) -> bool:
    """True when ``value`` is a 64-character lowercase hex string (a SHA-256 digest)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None
