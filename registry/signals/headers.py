"""HTTP response header fields that carry signals: ``Content-Usage`` (draft-ietf-aipref-attach,
an RFC 9651 Dictionary in the draft-ietf-aipref-vocab vocabulary) and TDMRep's
``tdm-reservation`` / ``tdm-policy``. An observation keeps the field lines as they were seen.
"""

from __future__ import annotations

import re

from registry.errors import InvalidInput

FIELDS = ("content-usage", "tdm-reservation", "tdm-policy")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_field_lines(text: str) -> dict[str, str]:
    """``Name: value`` lines (one per line) to lowercase names and values; repeated fields
    join with ", " as HTTP combines them (RFC 9110 section 5.3).

    Raises:
        InvalidInput: a line that is not ``Name: value``, or a field that carries no signal.
    """
    out: dict[str, str] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidInput("a header observation needs at least one 'Name: value' field line")
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise InvalidInput(
                f"header field line {line!r} is not 'Name: value'", field="signals.header"
            )
        key = name.lower()
        if key not in FIELDS:
            raise InvalidInput(
                f"header field {name!r} carries no signal; record one of " + ", ".join(FIELDS),
                field="signals.header",
            )
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
            raise InvalidInput(f"header field {name!r} has control characters in its value")
        value = value.strip(" \t")
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out
