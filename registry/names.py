"""The one rule for names: contributors, sources, datasets, manifests and tokens.

A name is what people type, read and put in a URL, so the registry keeps only names that are
the same however they were typed and that every route can reach:

- Unicode NFC, surrounding whitespace removed: "café" typed as e + U+0301 (NFD) is the same
  name as "café" with U+00E9, not a second contributor that looks identical;
- 1 to 200 characters (``registry.limits.NAME``, the columns' size), counted after NFC;
- no control characters (Unicode Cc: NUL, newlines, escapes), no line or paragraph separators,
  and no invisible format characters (Cf: bidirectional overrides, zero-width spaces, soft
  hyphens), except the zero-width joiner and non-joiner that some scripts and emoji need;
- one URL path segment: no ``/`` and no ``\\`` (a browser turns ``\\`` into ``/``), and not
  ``.`` or ``..`` (clients drop dot segments). A dataset name may hold ``/`` between
  non-empty segments, since its route takes a path (``/datasets/{name}/versions/{v}``).

Every other character round-trips percent-encoded in a path segment (``tests/api``).
Lookups apply the same normalisation (``lookup_key``), so an NFD spelling finds the NFC row,
and a string that cannot be a name is simply not found, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import unicodedata

from registry import limits
from registry.errors import InvalidInput

JOINERS = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner: needed, not hidden
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def normalise_name(value: str, what: str, *, slash: bool = False, field: str | None = None) -> str:
    """``value`` as the registry stores it: NFC, stripped, and checked against the rule above.

    ``what`` names the kind of name in the error ("contributor name"); ``slash`` allows ``/``
    between segments (dataset names).

    Raises:
        InvalidInput: empty, too long, or holding a character a name may not hold.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}", field=field)
    name = unicodedata.normalize("NFC", value).strip()
    limits.check_text(name, what, limits.NAME, min_length=1, field=field)
    for i, char in enumerate(name, start=1):
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or (category == "Cf" and char not in JOINERS):
            raise InvalidInput(
                f"{what} {_shown(name)} holds the control character U+{ord(char):04X} at "
                f"character {i}; names may not hold control or invisible format characters",
                field=field,
            )
    if "\\" in name or ("/" in name and not slash):
        raise InvalidInput(
            f"{what} {_shown(name)} holds {'a backslash' if chr(92) in name else 'a slash'}; "
            "a name must be one segment of a URL path",
            field=field,
        )
    segments = name.split("/") if slash else [name]
    if any(s in ("", ".", "..") for s in segments):
        raise InvalidInput(
            f"{what} {_shown(name)} has an empty, '.' or '..' segment, which a URL cannot keep",
            field=field,
        )
    return name


def lookup_key(value: str, *, slash: bool = False) -> str | None:
    """The stored form of a name to look up, or None when ``value`` cannot be a name (so the
    caller answers "not found" without asking the database)."""
    try:
        return normalise_name(value, "name", slash=slash)
    except InvalidInput:
        return None


def _shown(name: str) -> str:
    """The name as an error message quotes it: ``repr`` (escapes visible), at most 60 chars."""
    return repr(name if len(name) <= 60 else name[:57] + "...")
