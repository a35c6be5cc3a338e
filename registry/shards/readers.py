"""Input readers: each yields the text column of its input as Arrow string arrays, streaming.

No reader holds a whole input in memory: JSONL and CSV go through pyarrow's streaming readers,
Parquet by row group, text files line by line or (one document per file) a file at a time, and
``datasets`` objects a batch at a time. Every problem with an input is an ``InvalidInput`` naming
the file and, where there is one, the line or record.

Every text must be valid UTF-8 (the trainer decodes it), and no record may be larger than
``MAX_RECORD_BYTES``: a JSONL line, a text line or file, a record's text in CSV, Parquet or a
``datasets`` object (``docs/shard-format.md``). pyarrow's streaming readers need a record to fit
in a block; they read with ``BLOCK`` and, only if a record straddles two blocks, read that file
again with blocks large enough for the largest record allowed.

Only regular files are read: a FIFO, socket or device is refused by name (opening a FIFO would
wait for a writer forever), and a symlink cycle is reported as one.

With ``records`` (the input fields of each record's url, author, licence and date, and the
licence check), JSONL, CSV, Parquet and ``datasets`` readers yield ``(texts, columns)`` pairs,
the record columns checked by ``registry.shards.record_fields`` with the same file and line or
record in their errors; without, they yield the texts alone, as ever.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import InvalidInput
from registry.shards.record_fields import LicenceCheck, RecordFields, check_columns

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("jsonl", "parquet", "csv", "text", "hf-disk")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "text",
}
BLOCK = 4 * 1024 * 1024  # JSON/CSV reader block; a record must fit in one block
MAX_RECORD_BYTES = 64 * 1024 * 1024
"""The largest record ingest takes (docs/shard-format.md)."""
_JSON_LARGE_BLOCK = MAX_RECORD_BYTES + 1024 * 1024  # any allowed line fits in one block
_CSV_LARGE_BLOCK = 2 * MAX_RECORD_BYTES + 1024 * 1024  # quotes may double a record's text
BATCH_BYTES = 8 * 1024 * 1024  # text batches are cut near this size
Progress = Callable[[int], None]
Batch = Any
"""What a reader yields: a text array, or with ``records`` a ``(texts, columns)`` pair."""


@dataclass(frozen=True)
class Records:
    """Read the record fields too: which input fields, and how to check a record licence."""

    fields: RecordFields
    licence: LicenceCheck

    def columns(self) -> list[str]:
        return list(self.fields.inputs().values())


def _noop(_: int) -> None:
    return None


# -- finding inputs ------------------------------------------------------------------------------
def expand_paths(paths: Iterable[str | os.PathLike[str]], fmt: str | None) -> list[Path]:
    """Files named by paths, globs and directories, in a deterministic order.

    A directory gives its files (recursively, hidden ones skipped; for a format other than text,
    only the extensions of that format), sorted by path; a glob gives its matches sorted; an
    ``hf-disk`` input is the directory itself.

    Raises:
        InvalidInput: a path that does not exist, a glob that matches nothing, or a directory
            with no input file.
    """
    out: list[Path] = []
    for raw in paths:
        text = str(raw)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise InvalidInput(f"no file matches {text!r}")
            candidates = [Path(m) for m in matches]
        else:
            candidates = [Path(text)]
        for path in candidates:
            mode = _mode(path)
            if stat.S_ISDIR(mode) and fmt != "hf-disk" and not _is_hf_dir(path):
                files = _dir_files(path, fmt)
                if not files:
                    raise InvalidInput(f"{path}: directory holds no input file")
                out.extend(files)
            else:
                out.append(path)
    if not out:
        raise InvalidInput("no input given")
    for path in out:
        if not os.access(path, os.R_OK):
            raise InvalidInput(f"{path}: permission denied (cannot read)")
    return out


_SPECIAL = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _mode(path: Path) -> int:
    """The file type bits of what ``path`` names (links followed), for a regular file or a
    directory.

    Raises:
        InvalidInput: nothing there (or a broken link), a symlink cycle, or a special file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInput(
                f"{path}: a symlink cycle (following its links leads back to it)"
            ) from exc
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InvalidInput(f"{path}: no such file or directory") from exc
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    kind = _SPECIAL.get(stat.S_IFMT(mode))
    if kind is not None:
        raise InvalidInput(f"{path}: is {kind}, not a regular file; ingest reads only files")
    return mode


def _is_hf_dir(path: Path) -> bool:
    return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()


def _dir_files(path: Path, fmt: str | None) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            p = Path(root) / name
            ext_fmt = EXTENSIONS.get(p.suffix.lower())
            if fmt == "text" or (fmt is None and ext_fmt) or (fmt and ext_fmt == fmt):
                _mode(p)  # a special file or a symlink cycle among the inputs: refused by name
                found.append(p)
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


def detect_format(path: Path) -> str:
    """Raises: InvalidInput: the format cannot be told from the name (name one)."""
    if path.is_dir():
        if _is_hf_dir(path):
            return "hf-disk"
    elif fmt := EXTENSIONS.get(path.suffix.lower()):
        return fmt
    raise InvalidInput(
        f"cannot tell the format of {path} from its name; name one of {', '.join(FORMATS)}",
        field="ingest.format",
    )


# -- checking columns ----------------------------------------------------------------------------
Locate = Callable[[int], str]


def _record(index: int) -> str:
    return f"record {index + 1}"


def check_text(
    column: Any, where: str, field: str, first_row: int, locate: Locate = _record
) -> pa.Array:
    """A column as a string array of valid UTF-8 without nulls, no value over the record limit,
    or an error naming the first bad record (``locate`` turns its index into words for the
    UTF-8 and size errors: a JSONL file says its line).

    Binary columns are taken as text once they are checked to be UTF-8.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = pa.concat_arrays(column.chunks) if column.num_chunks != 1 else column.chunk(0)
    if column.type == pa.binary():
        column = column.view(pa.string())
    elif column.type == pa.large_binary():
        column = column.view(pa.large_string())
    if column.type not in (pa.string(), pa.large_string()):
        if pa.types.is_null(column.type):
            raise InvalidInput(
                f"{where}: record {first_row + 1} has no text field {field!r} (or it is null)"
            )
        raise InvalidInput(f"{where}: text field {field!r} holds {column.type} values, not text")
    if column.null_count:
        bad = pc.index(pc.is_null(column), True).as_py()
        raise InvalidInput(
            f"{where}: record {first_row + bad + 1} has no text field {field!r} (or it is null)"
        )
    try:
        column.validate(full=True)
    except pa.ArrowInvalid as exc:
        bad = _first_invalid(column)
        raise InvalidInput(
            f"{where}: {locate(first_row + bad)} is not valid UTF-8 text in field {field!r}"
        ) from exc
    lengths = pc.binary_length(column)
    if len(column) and pc.max(lengths).as_py() > MAX_RECORD_BYTES:
        bad = pc.index(pc.greater(lengths, MAX_RECORD_BYTES), True).as_py()
        size = lengths[bad].as_py()
        raise InvalidInput(
            f"{where}: {locate(first_row + bad)} holds {_mib(size)} of text, over the limit of "
            f"{_mib(MAX_RECORD_BYTES)} per record"
        )
    return column


def _with_fields(
    texts: pa.Array,
    batch: Any,
    records: Records | None,
    where: str,
    first_row: int,
    locate: Locate = _record,
) -> Batch:
    """The texts, or with ``records`` the pair of texts and their checked record columns
    (``batch`` is the table or record batch the texts came from)."""
    if records is None:
        return texts
    inputs = records.fields.inputs()
    names = batch.schema.names
    values = {c: batch.column(f) for c, f in inputs.items() if f in names}
    import pyarrow as pa

    values.update({c: pa.nulls(len(texts), pa.string()) for c in inputs if c not in values})
    checked = check_columns(
        values, len(texts), where, first_row, locate, records.fields, records.licence
    )
    return texts, checked


def _first_invalid(column: pa.Array) -> int:
    """The index of the first value that is not UTF-8 (there is one): bisect with Arrow's own
    check, so the error path costs about two passes."""
    import pyarrow as pa

    lo, hi = 0, len(column)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            column.slice(lo, mid - lo).validate(full=True)
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return lo


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size % 2**20 else f"{size // 2**20} MiB"


# -- readers -------------------------------------------------------------------------------------
class _LineTooLong(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"line {line}")
        self.line = line


class _Counting:
    """A read-only file that reports how many bytes were read (for progress) and, given
    ``max_line``, stops at the first line longer than that (``_LineTooLong``)."""

    def __init__(self, path: Path, progress: Progress, max_line: int | None = None) -> None:
        self.f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.progress = progress
        self.closed = False
        self.max_line = max_line
        self._lines = 0  # newlines read so far
        self._run = 0  # bytes since the last newline

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.progress(len(data))
        if self.max_line is not None:
            self._check(data)
        return data

    def _check(self, data: bytes) -> None:
        limit = self.max_line
        assert limit is not None
        first = data.find(b"\n")
        if first < 0:
            self._run += len(data)
        else:
            if self._run + first > limit:
                raise _LineTooLong(self._lines + 1)
            if len(data) > limit:  # a line may also lie wholly inside this chunk
                start, line = first + 1, self._lines + 1
                while (end := data.find(b"\n", start)) >= 0:
                    line += 1
                    if end - start > limit:
                        raise _LineTooLong(line)
                    start = end + 1
            self._lines += data.count(b"\n")
            self._run = len(data) - data.rfind(b"\n") - 1
        if self._run > limit:
            raise _LineTooLong(self._lines + 1)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.f.close()
        self.closed = True


def _large_records(
    read: Callable[[int, Progress], Iterator[pa.RecordBatch]], large_block: int, progress: Progress
) -> Iterator[pa.RecordBatch]:
    """``read(BLOCK, ...)``'s batches; if a record straddles two blocks, the rest from
    ``read(large_block, ...)``, skipping the records already given (a rare second pass that
    keeps the common case's small blocks). Progress counts each byte once."""
    import pyarrow as pa

    reported = 0

    def counter() -> Progress:
        seen = 0

        def count(n: int) -> None:
            nonlocal seen, reported
            seen += n
            if seen > reported:
                progress(seen - reported)
                reported = seen

        return count

    done = 0
    try:
        for batch in read(BLOCK, counter()):
            done += batch.num_rows
            yield batch
        return
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
    skip = done
    for batch in read(large_block, counter()):
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        yield batch.slice(skip) if skip else batch
        skip = 0


def read_jsonl(
    path: Path, field: str, progress: Progress = _noop, records: Records | None = None
) -> Iterator[Batch]:
    """Raises: InvalidInput: not JSON lines, a missing or non-text field, text that is not
    UTF-8, or a line over ``MAX_RECORD_BYTES``; with ``records``, a bad record field (its
    line)."""
    import pyarrow as pa
    import pyarrow.json as pj

    wanted = [field, *(records.columns() if records else [])]

    def batches(block: int, count: Progress) -> Iterator[pa.RecordBatch]:
        src = _Counting(path, count, max_line=MAX_RECORD_BYTES)
        try:
            yield from pj.open_json(
                src,
                read_options=pj.ReadOptions(block_size=block, use_threads=True),
                parse_options=pj.ParseOptions(
                    explicit_schema=pa.schema([(f, pa.string()) for f in wanted]),
                    unexpected_field_behavior="ignore",
                    newlines_in_values=False,
                ),
            )
        finally:
            src.close()

    rows = 0
    try:
        for batch in _large_records(batches, _JSON_LARGE_BLOCK, progress):
            texts = check_text(batch.column(0), str(path), field, rows, _line_of(path))
            yield _with_fields(texts, batch, records, str(path), rows, _line_of(path))
            rows += batch.num_rows
    except _LineTooLong as exc:
        raise InvalidInput(
            f"{path}: line {exc.line} is longer than the limit of {_mib(MAX_RECORD_BYTES)} "
            "per record"
        ) from None
    except pa.ArrowInvalid as exc:
        raise InvalidInput(_json_problem(path, wanted, exc)) from exc


def _line_of(path: Path) -> Locate:
    """Record index -> "line L (record N)" of a JSON lines file, for errors: blank lines hold
    no record, so the file is read again up to that record (only on the error path)."""

    def locate(index: int) -> str:
        records = 0
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    if records == index:
                        return f"line {number} (record {index + 1})"
                    records += 1
        return _record(index)  # pragma: no cover - the record is in the file

    return locate


def _json_problem(path: Path, fields: list[str], exc: Exception) -> str:
    msg = str(exc)
    for n, field in enumerate(fields):
        if f"Column(/{field}) changed from string" in msg:
            what = "text field" if n == 0 else "field"
            return f"{path}: {what} {field!r} holds a non-text value ({msg})"
    if "straddl" in msg:
        return f"{path}: a line is longer than the limit of {_mib(MAX_RECORD_BYTES)} per record"
    return f"{path} is not valid JSON lines: {msg}"


def read_csv(
    path: Path, field: str, progress: Progress = _noop, records: Records | None = None
) -> Iterator[Batch]:
    """Raises: InvalidInput: not CSV, no such column, text that is not UTF-8, or a record over
    ``MAX_RECORD_BYTES``; with ``records``, a bad record field (its record)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    wanted = [field, *(records.columns() if records else [])]

    def batches(block: int, count: Progress) -> Iterator[pa.RecordBatch]:
        src = _Counting(path, count)
        try:
            yield from pcsv.open_csv(
                src,
                read_options=pcsv.ReadOptions(block_size=block, use_threads=True),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    include_columns=wanted,
                    column_types={f: pa.binary() for f in wanted},  # UTF-8 checked after
                    strings_can_be_null=False,
                ),
            )
        finally:
            src.close()

    rows = 0
    try:
        for batch in _large_records(batches, _CSV_LARGE_BLOCK, progress):
            texts = check_text(batch.column(0), str(path), field, rows)
            yield _with_fields(texts, batch, records, str(path), rows)
            rows += batch.num_rows
    except KeyError as exc:
        raise InvalidInput(
            f"{path}: no column {_missing(path, wanted)!r} in the CSV header"
        ) from exc
    except pa.ArrowInvalid as exc:
        if "include_columns" in str(exc) or "does not exist" in str(exc):
            raise InvalidInput(
                f"{path}: no column {_missing(path, wanted)!r} in the CSV header"
            ) from exc
        if "straddl" in str(exc):
            raise InvalidInput(
                f"{path}: a record after record {rows} is longer than the limit of "
                f"{_mib(MAX_RECORD_BYTES)} per record"
            ) from exc
        raise InvalidInput(f"{path} is not valid CSV: {exc}") from exc


def _missing(path: Path, wanted: list[str]) -> str:
    """The first wanted column the CSV header lacks (for the error only)."""
    import csv

    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        header = next(csv.reader(f), [])
    return next((w for w in wanted if w not in header), wanted[0])


def read_parquet(
    path: Path, field: str, progress: Progress = _noop, records: Records | None = None
) -> Iterator[Batch]:
    """Raises: InvalidInput: not Parquet, no such column, or a non-text column; with
    ``records``, a bad record field (its record)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = [field, *(records.columns() if records else [])]

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path} is not a Parquet file: {exc}") from exc
    with pf:
        for name in wanted:
            if name not in pf.schema_arrow.names:
                raise InvalidInput(
                    f"{path}: no column {name!r} (columns: {', '.join(pf.schema_arrow.names)})"
                )
        size, groups, rows = path.stat().st_size, max(pf.num_row_groups, 1), 0
        try:
            for i in range(pf.num_row_groups):
                for batch in pf.iter_batches(batch_size=16384, row_groups=[i], columns=wanted):
                    texts = check_text(batch.column(0), str(path), field, rows)
                    yield _with_fields(texts, batch, records, str(path), rows)
                    rows += batch.num_rows
                progress(size // groups)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{path}: unreadable Parquet data: {exc}") from exc


def _decode(data: bytes, path: Path, where: str = "") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path}{where} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from exc


def read_text_files(paths: list[Path], progress: Progress = _noop) -> Iterator[pa.Array]:
    """One document per file, a file's whole content (UTF-8); files are batched together.

    Raises:
        InvalidInput: unreadable, not UTF-8, or larger than ``MAX_RECORD_BYTES``.
    """
    import pyarrow as pa

    batch: list[str] = []
    size = 0
    for path in paths:
        try:
            length = path.stat().st_size
            if length > MAX_RECORD_BYTES:
                raise InvalidInput(
                    f"{path} is {_mib(length)}: one document per file may be at most "
                    f"{_mib(MAX_RECORD_BYTES)} (the limit per record); ingest it per line"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
        batch.append(_decode(data, path))
        size += len(data)
        progress(len(data))
        if size >= BATCH_BYTES:
            yield pa.array(batch, pa.large_string())
            batch, size = [], 0
    if batch:
        yield pa.array(batch, pa.large_string())


def read_text_lines(path: Path, progress: Progress = _noop) -> Iterator[pa.Array]:
    """One document per line (``\\n``; a trailing ``\\r`` is dropped too); blank lines skipped.

    Raises:
        InvalidInput: unreadable, not UTF-8, or a line over ``MAX_RECORD_BYTES``.
    """
    import pyarrow as pa

    batch: list[str] = []
    size = 0
    limit = MAX_RECORD_BYTES + 2  # the line, its \r and its \n
    try:
        with open(path, "rb") as f:
            number = 0
            while raw := f.readline(limit):
                number += 1
                if len(raw.rstrip(b"\n").removesuffix(b"\r")) > MAX_RECORD_BYTES:
                    raise InvalidInput(
                        f"{path}: line {number} is longer than the limit of "
                        f"{_mib(MAX_RECORD_BYTES)} per record"
                    )
                progress(len(raw))
                line = _decode(raw, path, f" line {number}").rstrip("\n").removesuffix("\r")
                if not line:
                    continue
                batch.append(line)
                size += len(raw)
                if size >= BATCH_BYTES:
                    yield pa.array(batch, pa.large_string())
                    batch, size = [], 0
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if batch:
        yield pa.array(batch, pa.large_string())


def read_hf_dataset(
    ds: Any, field: str, where: str = "dataset", records: Records | None = None
) -> Iterator[Batch]:
    """A ``datasets.Dataset`` or ``IterableDataset``, a batch at a time (indices respected).

    Raises:
        InvalidInput: not a single split, or no text field / a non-text field; with
            ``records``, a missing or bad record field (its record).
    """
    import datasets
    import pyarrow as pa

    wanted = [field, *(records.columns() if records else [])]

    if isinstance(ds, datasets.DatasetDict | datasets.IterableDatasetDict):
        raise InvalidInput(
            f"{where} holds several splits ({', '.join(ds)}): ingest one split at a time"
        )
    if not isinstance(ds, datasets.Dataset | datasets.IterableDataset):
        raise InvalidInput(f"{where} is not a datasets.Dataset or IterableDataset")
    features = ds.features
    if features is not None and field not in features:
        raise InvalidInput(f"{where}: no text field {field!r} (fields: {', '.join(features)})")
    for name in wanted[1:]:
        if features is not None and name not in features:
            raise InvalidInput(f"{where}: no field {name!r} (fields: {', '.join(features)})")
    rows = 0
    if isinstance(ds, datasets.Dataset):
        for table in ds.select_columns(wanted).with_format("arrow").iter(batch_size=10_000):
            texts = check_text(table.column(0), where, field, rows)
            yield _with_fields(texts, table, records, where, rows)
            rows += table.num_rows
        return

    buf: list[Any] = []
    extra: dict[str, list[Any]] = {name: [] for name in wanted[1:]}

    def flush() -> Batch:
        texts = _texts(buf, where, field, rows)
        if records is None:
            return texts
        try:
            table = pa.table({k: pa.array(v) for k, v in extra.items()})
        except (pa.ArrowException, UnicodeEncodeError) as exc:
            raise InvalidInput(f"{where}: a record field holds mixed or non-text values") from exc
        return _with_fields(texts, table, records, where, rows)

    for example in ds:
        if field not in example:
            raise InvalidInput(f"{where}: record {rows + len(buf) + 1} has no text field {field!r}")
        value = example[field]
        if not isinstance(value, str):
            raise InvalidInput(
                f"{where}: record {rows + len(buf) + 1}: text field {field!r} holds "
                f"{type(value).__name__}, not text"
            )
        buf.append(value)
        for name, values in extra.items():
            values.append(example.get(name))
        if len(buf) >= 10_000:
            yield flush()
            rows, buf = rows + len(buf), []
            extra = {name: [] for name in extra}
    if buf:
        yield flush()


def _texts(values: list[str], where: str, field: str, first_row: int) -> pa.Array:
    """Python strings as checked text; a lone surrogate (not encodable as UTF-8) is refused."""
    import pyarrow as pa

    try:
        array = pa.array(values, pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException) as exc:
        bad = next(i for i, v in enumerate(values) if not _encodable(v))
        raise InvalidInput(
            f"{where}: {_record(first_row + bad)} is not valid UTF-8 text in field {field!r}"
        ) from exc
    return check_text(array, where, field, first_row)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_hf_disk(
    path: Path, field: str, progress: Progress = _noop, records: Records | None = None
) -> Iterator[Batch]:
    """A directory written by ``save_to_disk``; memory-mapped, read a batch at a time."""
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(f"{path} is not a dataset saved with save_to_disk: {exc}") from exc
    yield from read_hf_dataset(ds, field, where=str(path), records=records)
    progress(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()))


def read_inputs(
    paths: list[Path],
    fmt: str | None,
    field: str,
    *,
    per_line: bool = False,
    progress: Progress | None = None,
    records: Records | None = None,
) -> Iterator[Batch]:
    """Texts of every input in order (with ``records``, with their record columns); the format
    is given or told from each file's name.

    Raises:
        InvalidInput: an unknown format, or any problem with an input; record fields asked of
            text files (they have none).
    """
    progress = progress or _noop
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    text_files: list[Path] = []
    for path in paths:
        kind = fmt or detect_format(path)
        if kind == "text" and records is not None:
            raise InvalidInput(
                f"{path}: text files hold no record fields (url, author, licence, date); "
                "use JSONL, CSV, Parquet or a saved dataset",
                field="ingest.fields",
            )
        if kind == "text" and not per_line:
            text_files.append(path)
            continue
        if text_files:
            yield from read_text_files(text_files, progress)
            text_files = []
        if path.is_dir() and kind != "hf-disk":
            raise InvalidInput(f"{path} is a directory, not a {kind} file")
        if kind == "hf-disk":
            yield from read_hf_disk(path, field, progress, records)
        elif kind == "text":
            yield from read_text_lines(path, progress)
        elif kind == "jsonl":
            yield from read_jsonl(path, field, progress, records)
        elif kind == "csv":
            yield from read_csv(path, field, progress, records)
        else:
            yield from read_parquet(path, field, progress, records)
    if text_files:
        yield from read_text_files(text_files, progress)


def input_bytes(paths: list[Path]) -> int:
    """Total size of the inputs (the progress bar's length)."""
    total = 0
    for p in paths:
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        else:
            total += p.stat().st_size
    return total
