"""A record's provenance fields (url, author, licence, created): which input fields hold them,
and the check that turns an input's values into the shard's canonical columns.

Each check is vectorised over a batch (Arrow compute for URLs; dates and licences are parsed
once per distinct value), so records with fields ingest at about the speed of records without.
An empty string is no value (CSV cannot say null), so every format gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from registry import limits
from registry.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

COLUMNS = ("url", "author", "licence", "created")
"""The provenance columns of a v2 shard, in order (``docs/shard-format.md``)."""

_URL = (
    r"^(?i:https?)://(?:[^/?#@\s]*@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^/?#:@\s\[\]]+)(?::[0-9]{0,5})?(?:[/?#]\S*)?$"
)
"""An absolute http(s) URL with a host (userinfo and port allowed, no whitespace anywhere)."""

Locate = Callable[[int], str]
LicenceCheck = Callable[[str], str]
"""An SPDX expression -> its canonical spelling, or ``InvalidInput`` (unknown id, malformed)."""


@dataclass(frozen=True)
class RecordFields:
    """The input fields that hold each record's url, author, licence and date (None: absent).

    Any field given makes the shards ``provreg-shard-v2``; none keeps ``provreg-shard-v1``."""

    url: str | None = None
    author: str | None = None
    licence: str | None = None
    created: str | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.url, self.author, self.licence, self.created))

    def inputs(self) -> dict[str, str]:
        """Shard column -> input field, for the fields given."""
        pairs = zip(COLUMNS, (self.url, self.author, self.licence, self.created), strict=True)
        return {column: field for column, field in pairs if field is not None}

    def check_distinct(self, text_field: str) -> None:
        """Raises: InvalidInput: one input field named for two roles."""
        named = [text_field, *self.inputs().values()]
        if len(set(named)) != len(named):
            raise InvalidInput(
                f"each record field must be a different input field (got {', '.join(named)})",
                field="ingest.fields",
            )


def hosts(urls: pa.Array) -> pa.Array:
    """The lowercase host of each (checked) URL, null where the URL is null."""
    import pyarrow.compute as pc

    parts = pc.extract_regex(urls, _URL)
    return pc.utf8_lower(pc.utf8_rtrim(pc.struct_field(parts, "host"), characters="."))


def check_columns(
    values: Mapping[str, pa.Array],
    n: int,
    where: str,
    first_row: int,
    locate: Locate,
    fields: RecordFields,
    licence: LicenceCheck,
) -> dict[str, pa.Array]:
    """The four provenance columns (strings, nulls where unknown) of a batch of ``n`` records
    read from ``where``: ``values`` holds the input column of each field given.

    Raises:
        InvalidInput: naming ``where`` and the record (``locate``): a non-text value, a URL
            that is not absolute http(s) with a host, a date that is not ISO 8601, a licence
            that is not an SPDX expression over the registry's licences.
    """
    import pyarrow as pa

    inputs = fields.inputs()
    out: dict[str, pa.Array] = {}
    for column in COLUMNS:
        if column not in inputs:
            out[column] = pa.nulls(n, pa.string())
            continue
        arr = _as_strings(values[column], where, inputs[column], first_row, locate)
        if column == "author":
            _check_length(arr, limits.NAME, where, inputs[column], first_row, locate)
        elif column == "url":
            _check_urls(arr, where, inputs[column], first_row, locate)
        elif column == "created":
            arr = _map_distinct(arr, normalise_date, where, inputs[column], first_row, locate)
        elif column == "licence":
            arr = _map_distinct(arr, licence, where, inputs[column], first_row, locate)
        out[column] = arr
    return out


def _as_strings(col: pa.Array, where: str, field: str, first_row: int, locate: Locate) -> pa.Array:
    """A column as a string array, ``""`` as null; a non-text column is refused."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = pa.concat_arrays(col.chunks) if col.num_chunks != 1 else col.chunk(0)
    if col.type in (pa.binary(), pa.large_binary()):
        col = col.cast(pa.string() if col.type == pa.binary() else pa.large_string())
        try:
            col.validate(full=True)
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"{where}: field {field!r} is not valid UTF-8 text") from exc
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.string())
    if col.type not in (pa.string(), pa.large_string()):
        raise InvalidInput(f"{where}: field {field!r} holds {col.type} values, not text")
    col = col.cast(pa.string())
    empty = pc.equal(pc.binary_length(col), 0)
    return pc.if_else(empty, pa.scalar(None, pa.string()), col)


def _check_length(
    arr: pa.Array, most: int, where: str, field: str, first_row: int, locate: Locate
) -> None:
    import pyarrow.compute as pc

    over = pc.fill_null(pc.greater(pc.utf8_length(arr), most), False)
    if pc.any(over).as_py():
        index = pc.index(over, True).as_py()
        raise InvalidInput(
            f"{where}: {locate(first_row + index)}: field {field!r} is longer than "
            f"{most} characters"
        )


def _check_urls(urls: pa.Array, where: str, field: str, first_row: int, locate: Locate) -> None:
    import pyarrow.compute as pc

    ok = pc.match_substring_regex(urls, _URL)
    bad = pc.and_(pc.is_valid(urls), pc.invert(pc.fill_null(ok, True)))
    if pc.any(bad).as_py():
        index = pc.index(bad, True).as_py()
        raise InvalidInput(
            f"{where}: {locate(first_row + index)}: field {field!r} holds "
            f"{urls[index].as_py()!r}, not an absolute http(s) URL with a host"
        )


def _map_distinct(
    arr: pa.Array,
    fn: Callable[[str], str],
    where: str,
    field: str,
    first_row: int,
    locate: Locate,
) -> pa.Array:
    """``fn`` over each distinct value (dates and licences repeat): an error names the first
    record holding a bad value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    distinct = pc.unique(arr).drop_null()
    mapped: list[str] = []
    for value in distinct.to_pylist():
        try:
            mapped.append(fn(value))
        except InvalidInput as exc:
            index = pc.index(arr, value).as_py()
            raise InvalidInput(
                f"{where}: {locate(first_row + index)}: field {field!r}: {exc}"
            ) from None
    if distinct.to_pylist() == mapped:
        return arr
    return pc.take(pa.array(mapped, pa.string()), pc.index_in(arr, value_set=distinct))


def normalise_date(text: str) -> str:
    """An ISO 8601 date or date-time in one spelling: a date stays ``YYYY-MM-DD``; a date-time
    with an offset becomes UTC with ``Z``; one without stays without (its zone unknown).

    Raises:
        InvalidInput: not an ISO 8601 date or date-time.
    """
    value = text.strip()
    try:
        if "T" not in value and " " not in value:
            return date.fromisoformat(value).isoformat()
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date or date-time") from None
    if moment.tzinfo is None:
        return moment.isoformat()
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def day_of(created: str) -> date:
    """The calendar day of a normalised ``created`` value (its first ten characters)."""
    return date.fromisoformat(created[:10])
