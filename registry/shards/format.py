"""The canonical shard: a Parquet file with exactly ``id`` and ``text`` (``provreg-shard-v1``),
or those and the record's ``url``, ``author``, ``licence`` and ``created`` (``provreg-shard-v2``),
written byte-for-byte deterministically so that the same records give the same file, hence the
same shard id.

See ``docs/shard-format.md``. Shard and row-group boundaries depend only on the sequence of
records and the options, never on how the input was read (batch sizes, file format).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from manifests.records import RecordRootBuilder
from registry.errors import InvalidInput
from registry.shards.profile import RecordProfile
from registry.shards.record_fields import COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT = "provreg-shard-v1"
"""Stored in ``shards.format``; anything that changes the bytes needs a new name."""

FORMAT_V2 = "provreg-shard-v2"
"""v1 plus the nullable provenance columns ``url``, ``author``, ``licence``, ``created``; written
only when an ingest names a record field, so shards of text alone keep their v1 ids."""

FORMATS = (FORMAT, FORMAT_V2)

PYARROW_VERSION = "26.0.1"
"""The writer is part of the format: Parquet's footer names it (``created_by``)."""

ROW_GROUP_BYTES = 8 * 1024 * 1024
"""A row group closes at the first record that takes it to this many text bytes."""

DEFAULT_SHARD_BYTES = 64 * 1024 * 1024

WRITER_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": False,
    "write_statistics": False,
    "store_schema": False,
    "write_page_index": False,
    "write_page_checksum": False,
    "data_page_version": "1.0",
    "write_batch_size": 1024,
    "data_page_size": 1024 * 1024,
}


def schema(v2: bool = False) -> pa.Schema:
    """v1: ``id``, ``text`` (non-null strings); v2 adds the nullable record columns."""
    import pyarrow as pa

    fields = [pa.field("id", pa.string(), False), pa.field("text", pa.string(), False)]
    if v2:
        fields += [pa.field(c, pa.string(), True) for c in COLUMNS]
    return pa.schema(fields)


def check_pyarrow() -> None:
    """Raises: InvalidInput: another pyarrow would write other bytes for the same records."""
    import pyarrow as pa

    if pa.__version__ != PYARROW_VERSION:
        raise InvalidInput(
            f"shards must be written with pyarrow=={PYARROW_VERSION} (found {pa.__version__}): "
            "another version writes different bytes, hence different shard ids"
        )


def ids_for(texts: pa.Array) -> pa.Array:
    """Each record's id: the SHA-256 of its UTF-8 text (equal texts, equal ids), read from
    Arrow's buffers directly (no Python str per record). The result's data buffer is the ids'
    64-character texts back to back, which the record tree reads as they are."""
    import numpy as np
    import pyarrow as pa

    texts = texts.cast(pa.large_string()) if texts.type != pa.large_string() else texts
    n = len(texts)
    if n == 0:
        return pa.array([], pa.string())
    bufs = texts.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[texts.offset : texts.offset + n + 1]
    data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
    sha = hashlib.sha256
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    hexed = "".join([sha(data[a:b]).hexdigest() for a, b in zip(starts, ends, strict=True)])
    ascii_ids = hexed.encode("ascii")
    # fixed-width values: build the array from its buffers (pa.array would import pandas)
    id_offsets = np.arange(0, 64 * (n + 1), 64, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(id_offsets), pa.py_buffer(ascii_ids))


class _HashingFile:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self.raw.write(view)
        self.size += view.nbytes
        return view.nbytes

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        self.closed = True


class _Beside:
    """``fn(arg)`` in a thread of its own; ``join`` waits and re-raises what it raised."""

    def __init__(self, fn: Callable[[Any], None], arg: Any) -> None:
        import threading

        self._error: BaseException | None = None

        def run() -> None:
            try:
                fn(arg)
            except BaseException as exc:  # handed to join
                self._error = exc

        self._thread = threading.Thread(target=run, name="provreg-shard-profile", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


@dataclass(frozen=True)
class WrittenShard:
    """One finished shard file in a staging directory, already hashed."""

    id: str
    path: Path
    bytes: int
    records: int
    tokens: int
    profile: RecordProfile | None = None
    """Per-domain, author and licence sums and the date span (v2 shards only)."""
    record_root: str | None = None
    """The root of the shard's record tree (``manifests.records``), when computed."""

    @property
    def format(self) -> str:
        return FORMAT if self.profile is None else FORMAT_V2


class ShardWriter:
    """Cuts a stream of texts into canonical shard files of about ``shard_bytes`` text bytes.

    A shard closes at the first record that takes it to ``shard_bytes`` bytes of text (so a
    single huge record makes a shard of its own); ``on_shard`` is called for each finished one.
    With ``records=True`` it writes v2 shards (``write`` then takes the record columns too) and
    profiles each one as it writes it (``registry.shards.profile``).
    """

    def __init__(
        self,
        staging: Path,
        on_shard: Callable[[WrittenShard], None],
        *,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        records: bool = False,
        record_roots: bool = True,
    ) -> None:
        """``record_roots=False`` skips the record trees: only ``bench.record_proof`` uses it,
        to measure what they cost."""
        if shard_bytes < 1:
            raise InvalidInput(f"shard size must be positive, got {shard_bytes}")
        check_pyarrow()
        self.staging = staging
        self.on_shard = on_shard
        self.shard_bytes = shard_bytes
        self.v2 = records
        self._pending: list[pa.Array] = []  # texts of the open row group
        self._pending_fields: list[dict[str, pa.Array]] = []  # their record columns (v2)
        self._profile: RecordProfile | None = RecordProfile() if records else None
        self._pending_bytes = 0
        self._writer: Any = None
        self._file: BinaryIO | None = None
        self._hasher: _HashingFile | None = None
        self._path: Path | None = None
        self._shard_text_bytes = 0
        self._records = 0
        self._tokens = 0
        self._seq = 0
        self._record_roots = record_roots
        self._record_tree: RecordRootBuilder | None = RecordRootBuilder() if record_roots else None

    def write(self, texts: pa.Array, fields: Mapping[str, pa.Array] | None = None) -> None:
        """Append texts (a string array without nulls) in order; for v2, ``fields`` holds the
        checked record columns of the same length (``record_fields.check_columns``)."""
        import numpy as np
        import pyarrow.compute as pc

        if self.v2 != (fields is not None):
            raise ValueError("record columns go with a v2 writer, and only with one")
        while len(texts):
            lengths = pc.binary_length(texts).to_numpy(zero_copy_only=True).astype(np.int64)
            used = self._shard_text_bytes + self._pending_bytes
            # the record that reaches a limit is the last of its row group / shard
            cum = np.cumsum(lengths)
            to_group = ROW_GROUP_BYTES - self._pending_bytes
            to_shard = self.shard_bytes - used
            cut_group = int(np.searchsorted(cum, to_group, side="left")) + 1
            cut_shard = int(np.searchsorted(cum, to_shard, side="left")) + 1
            cut = min(cut_group, cut_shard, len(texts))
            head = texts.slice(0, cut)
            self._pending.append(head)
            if fields is not None:
                self._pending_fields.append({k: v.slice(0, cut) for k, v in fields.items()})
                fields = {k: v.slice(cut) for k, v in fields.items()}
            self._pending_bytes += int(cum[cut - 1])
            texts = texts.slice(cut)
            if cut == cut_shard:
                self._finish_shard()
            elif cut == cut_group:
                self._flush_group()

    def close(self) -> None:
        """Finish the last shard (if it holds any record)."""
        self._finish_shard()

    def abort(self) -> None:
        """Close and delete a half-written file; finished shards are the caller's to clean."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._writer = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def _flush_group(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending:
            return
        texts = pa.concat_arrays([a.cast(pa.large_string()) for a in self._pending])
        extra = [
            pa.concat_arrays([f[c].cast(pa.string()) for f in self._pending_fields])
            for c in (COLUMNS if self.v2 else ())
        ]
        self._pending_fields = []
        self._pending, self._shard_text_bytes = [], self._shard_text_bytes + self._pending_bytes
        self._pending_bytes = 0
        if self._writer is None:
            self._seq += 1
            self._path = self.staging / f"shard-{self._seq:06d}.parquet.part"
            self._file = open(self._path, "wb")  # noqa: SIM115 - closed in _finish_shard/abort
            self._hasher = _HashingFile(self._file)
            self._writer = pq.ParquetWriter(self._hasher, schema(self.v2), **WRITER_OPTIONS)
        table = pa.Table.from_arrays(
            [ids_for(texts), texts.cast(pa.string()), *extra], schema=schema(self.v2)
        )
        # the profile's sums run beside the compression (both release the GIL in Arrow)
        profiling = _Beside(self._profile.add, table) if self._profile is not None else None
        if self._record_tree is not None:  # small hashes hold the GIL: a thread only waits
            ids = table.column(0).chunk(0)  # its data buffer: the 64-character ids, back to back
            self._record_tree.add_ascii_ids(memoryview(ids.buffers()[2]))
        self._writer.write_table(table, row_group_size=len(table))
        if profiling is not None:
            profiling.join()
        self._records += len(table)
        from registry.shards.token_count import count_tokens_array

        self._tokens += count_tokens_array(texts)

    def _finish_shard(self) -> None:
        self._flush_group()
        if self._writer is None:
            return
        self._writer.close()
        assert self._file is not None and self._hasher is not None and self._path is not None
        self._file.close()
        shard = WrittenShard(
            id=self._hasher.sha.hexdigest(),
            path=self._path,
            bytes=self._hasher.size,
            records=self._records,
            tokens=self._tokens,
            profile=self._profile,
            record_root=self._record_tree.root() if self._record_tree is not None else None,
        )
        if self._record_roots:
            self._record_tree = RecordRootBuilder()
        if self.v2:
            self._profile = RecordProfile()
        self._writer, self._file, self._hasher, self._path = None, None, None, None
        self._shard_text_bytes = self._records = self._tokens = 0
        self.on_shard(shard)


def format_of(names_and_types: list[tuple[str, Any]]) -> str | None:
    """``provreg-shard-v1`` or ``-v2`` for a schema's (name, type) pairs, else None."""
    for name, v2 in ((FORMAT, False), (FORMAT_V2, True)):
        if names_and_types == [(f.name, f.type) for f in schema(v2)]:
            return name
    return None


def read_canonical(path_or_file: Any) -> Iterator[pa.RecordBatch]:
    """Batches of a canonical shard (v1 or v2), checking its schema.

    Raises:
        InvalidInput: not Parquet, or not exactly the columns of v1 (``id``, ``text``) or of
            v2 (those and ``url``, ``author``, ``licence``, ``created``), all strings.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path_or_file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path_or_file} is not a Parquet file: {exc}") from exc
    got = pf.schema_arrow
    if format_of([(f.name, f.type) for f in got]) is None:
        raise InvalidInput(
            f"{path_or_file} is not a canonical shard: columns {got.names} "
            "(expected exactly id, text (v1) or id, text, url, author, licence, created (v2), "
            "all strings)"
        )
    yield from pf.iter_batches(batch_size=8192)
