"""The lowercase hex SHA-256 digests used as ids and roots: one check, one pattern, everywhere.

``HEX64`` is the same rule as a regular expression, for pydantic fields and FastAPI path
parameters, so a route and a service cannot disagree on what an id looks like.
"""

import re

HEX64 = r"^[0-9a-f]{64}$"
_HEX64 = re.compile(HEX64)


def is_hex64(value: object) -> bool:
    """True when ``value`` is a 64-character lowercase hex string (a SHA-256 digest)."""
    return isinstance(value, str) and _HEX64.match(value) is not None and len(value) == 64
