"""Every bound the registry puts on its input: text lengths, counts, and the checks that apply them.

Why here, once: the same limit must hold whichever way a value enters (the API, the CLI, the
trainer's client) and on every database. PostgreSQL refuses a ``VARCHAR(200)`` overflow and a
NUL byte while SQLite silently stores both, so the services check before the database sees a
value, with one message on both. The lengths are the columns' sizes in ``registry.db.models``
(``tests/registry/test_limits.py`` holds them equal); the request shapes in
``registry.entities`` use the same constants, so the OpenAPI schema documents them.

Counts are bounded by what every layer can carry exactly: a manifest document is RFC 8785 JSON,
whose numbers are IEEE 754 doubles, so every count and sum the registry publishes stays within
``MAX_SAFE_INT`` (2**53 - 1). ``docs/api.md`` lists the limits.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import ValidationError

from registry.errors import InvalidInput

MAX_SAFE_INT: Final = 2**53 - 1
"""The largest integer an RFC 8785 (I-JSON) number holds exactly."""

MAX_SHARD_COUNT: Final = 2**40
"""The most bytes, records or tokens one shard may declare (about 1.1e12). Shards are meant to
be MiB to GiB; at this bound 8,192 of the largest shards still sum within ``MAX_SAFE_INT``."""

# Text lengths, in characters: the column sizes in registry.db.models.
NAME: Final = 200  # contributors, sources, datasets, manifests, tokens
CONTACT: Final = 300
PAYOUT_REF: Final = 200
URI: Final = 2000
LICENCE: Final = 1000
JURISDICTION: Final = 100
PATH: Final = 2000  # a checkpoint path
LABEL: Final = 100  # a tokenizer identity, a code version
SIGNAL_BYTES: Final = 1024 * 1024  # one observed signal (RFC 9309 asks parsers for 500 KiB)
# Text columns have no size in the database; these are the registry's own.
LONG_TEXT: Final = 10_000  # descriptions, PII measures
REASON: Final = 2000  # why a source or shard was revoked
ERROR: Final = 20_000  # why a run failed

# NUL, and a surrogate code point that is not half of a pair: neither is Unicode text that
# every database and JSON encoder accepts (PostgreSQL refuses NUL; UTF-8 cannot encode a lone
# surrogate).
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def check_text(
    value: str, what: str, max_length: int, *, min_length: int = 0, field: str | None = None
) -> str:
    """``value`` unchanged, if it is text the registry can store: no NUL, no lone surrogate,
    ``min_length`` to ``max_length`` characters.

    Raises:
        InvalidInput: naming ``what`` and the limit it breaks.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            f"{what} is {len(value):,} characters long; the limit is {max_length:,}", field=field
        )
    if len(value) < min_length:
        raise InvalidInput(
            f"{what} is empty" if min_length == 1 else f"{what} is shorter than {min_length}",
            field=field,
        )
    bad = _NOT_TEXT.search(value)
    if bad:
        raise InvalidInput(
            f"{what} holds {_describe(bad.group())} at character {bad.start() + 1}, which "
            "cannot be stored",
            field=field,
        )
    return value


def storable_text(value: str, max_length: int) -> str:
    """``value`` made storable rather than refused, for text the registry must keep whatever it
    holds (why a run failed): NUL and lone surrogates become U+FFFD, and it is cut to
    ``max_length`` characters, marked with an ellipsis."""
    text = _NOT_TEXT.sub("\ufffd", value)
    return text if len(text) <= max_length else text[: max_length - 1] + "\u2026"


def check_optional_text(value: str | None, what: str, max_length: int) -> str | None:
    """``check_text`` for a field that may be absent (None passes)."""
    return None if value is None else check_text(value, what, max_length)


def check_count(value: object, what: str, maximum: int = MAX_SAFE_INT) -> int:
    """``value`` if it is an int from 0 to ``maximum`` (a bool is not a count).

    Raises:
        InvalidInput: not an int, negative, or above ``maximum``.
    """
    if type(value) is not int:
        raise InvalidInput(f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise InvalidInput(f"{what} must be 0 or more, got {value}")
    if value > maximum:
        raise InvalidInput(f"{what} is {value:,}; the limit is {maximum:,}")
    return value


def _describe(char: str) -> str:
    if char == "\x00":
        return "a NUL character"
    return f"a lone surrogate (U+{ord(char):04X})"


def shape_error(exc: ValidationError, what: str) -> InvalidInput:
    """One line for a request shape (``SourceIn``...) that refused its input: the first field
    at fault and why, e.g. ``source uri: String should have at most 2000 characters``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    more = len(exc.errors()) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    field = f"{what} {where}" if where else what
    return InvalidInput(f"{field}: {first.get('msg', 'invalid')}{extra}")
