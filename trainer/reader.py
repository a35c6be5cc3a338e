"""The verified shard reader (invariant 3).

A shard reaches the model only after (1) the registry says it is active and
(2) its bytes hash to its id. The bytes are read into memory once, hashed, and
parsed from that same buffer, so what is parsed is exactly what was verified
(no window for the file to change between check and use).

Reading runs in a background thread while the model trains, so it must not take the CPU away
from training: Parquet is parsed on the calling thread only (no Arrow thread pool), and the
texts stay in the verified Arrow buffer, each turned into a ``str`` only when the batcher asks
for it (no shard-sized burst of Python objects holding the GIL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from manifests.digests import is_hex64
from trainer.errors import (
    ShardFormatError,
    ShardIntegrityError,
    ShardMissingError,
    ShardRevokedError,
)

ACTIVE = "active"
_STRING_TYPES = (pa.string(), pa.large_string())
_V1 = ["id", "text"]
_V2 = ["id", "text", "url", "author", "licence", "created"]


@dataclass(frozen=True)
class ShardRef:
    """What the registry knows about a shard: its status and its ingest-time counts."""

    shard_id: str
    status: str  # "active" | "revoked"
    records: int
    tokens: int


class ShardSource(Protocol):
    """The registry, as the reader sees it (local DB or HTTP client)."""

    def resolve(self, shard_id: str) -> ShardRef:
        """The shard's registry entry; raises (e.g. ShardUnknownError) if unregistered."""
        ...

    def open_bytes(self, shard_id: str) -> bytes:
        """The stored file's bytes; raises FileNotFoundError if the file is missing."""
        ...


class ShardTexts(Sequence[str]):
    """A verified shard's texts, in file order, read from its Arrow column on demand."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        self._column = column.combine_chunks()

    def __len__(self) -> int:
        return len(self._column)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"record {index} of a {len(self)}-record shard")
        return str(self._column[index].as_py())

    def __repr__(self) -> str:
        return f"ShardTexts({len(self)} records)"


@dataclass(frozen=True)
class VerifiedShard:
    """A shard's texts, in file order, from bytes that hashed to `shard_id`."""

    shard_id: str
    texts: ShardTexts


def read_verified(source: ShardSource, shard_id: str) -> VerifiedShard:
    """Resolve, check status, hash and parse one shard.

    Raises:
        ValueError: `shard_id` is not a lowercase hex SHA-256.
        ShardRevokedError: the shard is not active.
        ShardMissingError: the stored file is gone.
        ShardIntegrityError: the bytes do not hash to `shard_id`.
        ShardFormatError: not canonical Parquet (`id`, `text` strings, no nulls),
            or its record/token counts differ from the registry's.
    """
    if not is_hex64(shard_id):
        raise ValueError(f"not a lowercase hex SHA-256 shard id: {shard_id!r}")
    ref = source.resolve(shard_id)
    if ref.status != ACTIVE:
        raise ShardRevokedError(f"shard {shard_id} is {ref.status}, not active; refusing to read")
    try:
        data = source.open_bytes(shard_id)
    except FileNotFoundError as exc:
        raise ShardMissingError(f"shard {shard_id} is registered but its file is missing") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != shard_id:
        raise ShardIntegrityError(
            f"shard {shard_id} failed verification: expected sha256 {shard_id}, got {actual}"
        )
    texts = _parse(shard_id, data)
    _check_counts(ref, texts)
    return VerifiedShard(shard_id=shard_id, texts=ShardTexts(texts))


def _parse(shard_id: str, data: bytes) -> pa.ChunkedArray:
    """The `text` column of the canonical Parquet in `data` (parsed from that buffer): a v1
    shard (`id`, `text`) or a v2 one (those and the record columns, not read here)."""
    try:
        pf = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
        schema = pf.schema_arrow
        if schema.names not in (_V1, _V2) or any(t not in _STRING_TYPES for t in schema.types):
            raise ShardFormatError(
                f"shard {shard_id} has schema {schema.names} {[str(t) for t in schema.types]}; "
                f"expected the string columns {_V1} (v1) or {_V2} (v2)"
            )
        table = pf.read(columns=_V1, use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise ShardFormatError(f"shard {shard_id} is not a readable Parquet file: {exc}") from exc
    for name in ("id", "text"):
        if table.column(name).null_count:
            raise ShardFormatError(f"shard {shard_id} has null values in column {name!r}")
    texts = table.column("text")
    _check_utf8(shard_id, texts)
    return texts


def _check_utf8(shard_id: str, texts: pa.ChunkedArray) -> None:
    """Every text must decode (ingest refuses other bytes; an uploaded shard might hold them):
    a shard that would fail mid-run is refused before its first record is used."""
    first = 0
    for chunk in texts.chunks:
        try:
            chunk.validate(full=True)
        except pa.ArrowInvalid:
            bad = next(i for i in range(len(chunk)) if not _valid(chunk.slice(i, 1)))
            raise ShardFormatError(
                f"shard {shard_id}: record {first + bad + 1} is not valid UTF-8 text"
            ) from None
        first += len(chunk)


def _valid(value: pa.Array) -> bool:
    try:
        value.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _check_counts(ref: ShardRef, texts: pa.ChunkedArray) -> None:
    """The verified file must agree with the counts consumption is priced against."""
    records = len(texts)
    tokens = records + int(pc.sum(pc.binary_length(texts)).as_py() or 0)  # bytes + one EOT each
    if (records, tokens) != (ref.records, ref.tokens):
        raise ShardFormatError(
            f"shard {ref.shard_id} holds {records} records / {tokens} tokens, "
            f"but the registry recorded {ref.records} records / {ref.tokens} tokens"
        )


def verified_loader(source: ShardSource) -> Callable[[str], Sequence[str]]:
    """A `load(shard_id) -> texts` callable for `trainer.data.BatchStream`."""

    def load(shard_id: str) -> Sequence[str]:
        return read_verified(source, shard_id).texts

    return load
