"""The lowercase hex SHA-256 digests used as ids and roots: one check, one pattern, everywhere.

``HEX64`` is the same rule as a regular expression, for pydantic fields and FastAPI path
parameters, so a route and a service cannot disagree on what an id looks like.
"""

import re

HEX64 = r"^[0-9a-f]{64}$"
_HEX = re.compile(r"[0-9a-f]+")


def is_hex64(value: object) -> bool:
    """True when ``value`` is a 64-character lowercase hex string (a SHA-256 digest)."""
    return isinstance(value, str) and len(value) == 64 and _HEX.fullmatch(value) is not None


def is_hex_prefix(value: object) -> bool:
    """True when ``value`` is 1 to 64 lowercase hex characters: a digest or a prefix of one."""
    return isinstance(value, str) and 0 < len(value) <= 64 and _HEX.fullmatch(value) is not None
