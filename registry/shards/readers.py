"""Input readers: each yields the text column of its input as Arrow string arrays, streaming.

No reader holds a whole input in memory: JSONL and CSV go through pyarrow's streaming readers,
Parquet by row group, text files line by line or (one document per file) a file at a time, and
``datasets`` objects a batch at a time. Every problem with an input is an ``InvalidInput`` naming
the file.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import InvalidInput

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
BATCH_BYTES = 8 * 1024 * 1024  # text batches are cut near this size
Progress = Callable[[int], None]


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
            if not path.exists():
                raise InvalidInput(f"{path}: no such file or directory")
            if path.is_dir() and fmt != "hf-disk" and not _is_hf_dir(path):
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
def _as_text(column: Any, where: str, field: str, first_row: int) -> pa.Array:
    """A column as a string array without nulls, or an error naming the first bad record."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = pa.concat_arrays(column.chunks) if column.num_chunks != 1 else column.chunk(0)
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
    return column


# -- readers -------------------------------------------------------------------------------------
class _Counting:
    """A read-only file that reports how many bytes were read (for progress)."""

    def __init__(self, path: Path, progress: Progress) -> None:
        self.f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.progress = progress
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.progress(len(data))
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.f.close()
        self.closed = True


def read_jsonl(path: Path, field: str, progress: Progress = _noop) -> Iterator[pa.Array]:
    """Raises: InvalidInput: not JSON lines, a missing or non-text field."""
    import pyarrow as pa
    import pyarrow.json as pj

    src = _Counting(path, progress)
    rows = 0
    try:
        reader = pj.open_json(
            src,
            read_options=pj.ReadOptions(block_size=BLOCK, use_threads=True),
            parse_options=pj.ParseOptions(
                explicit_schema=pa.schema([(field, pa.string())]),
                unexpected_field_behavior="ignore",
                newlines_in_values=False,
            ),
        )
        for batch in reader:
            yield _as_text(batch.column(0), str(path), field, rows)
            rows += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise InvalidInput(_json_problem(path, field, exc)) from exc
    finally:
        src.close()


def _json_problem(path: Path, field: str, exc: Exception) -> str:
    msg = str(exc)
    if f"Column(/{field}) changed from string" in msg:
        return f"{path}: text field {field!r} holds a non-text value ({msg})"
    return f"{path} is not valid JSON lines: {msg}"


def read_csv(path: Path, field: str, progress: Progress = _noop) -> Iterator[pa.Array]:
    """Raises: InvalidInput: not CSV or no such column."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    src = _Counting(path, progress)
    rows = 0
    try:
        reader = pcsv.open_csv(
            src,
            read_options=pcsv.ReadOptions(block_size=BLOCK, use_threads=True),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                include_columns=[field],
                column_types={field: pa.string()},
                strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield _as_text(batch.column(0), str(path), field, rows)
            rows += batch.num_rows
    except KeyError as exc:
        raise InvalidInput(f"{path}: no column {field!r} in the CSV header") from exc
    except pa.ArrowInvalid as exc:
        if "include_columns" in str(exc) or "does not exist" in str(exc):
            raise InvalidInput(f"{path}: no column {field!r} in the CSV header") from exc
        raise InvalidInput(f"{path} is not valid CSV: {exc}") from exc
    finally:
        src.close()


def read_parquet(path: Path, field: str, progress: Progress = _noop) -> Iterator[pa.Array]:
    """Raises: InvalidInput: not Parquet, no such column, or a non-text column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path} is not a Parquet file: {exc}") from exc
    with pf:
        if field not in pf.schema_arrow.names:
            raise InvalidInput(
                f"{path}: no column {field!r} (columns: {', '.join(pf.schema_arrow.names)})"
            )
        size, groups, rows = path.stat().st_size, max(pf.num_row_groups, 1), 0
        try:
            for i in range(pf.num_row_groups):
                for batch in pf.iter_batches(batch_size=16384, row_groups=[i], columns=[field]):
                    yield _as_text(batch.column(0), str(path), field, rows)
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
    """One document per file, a file's whole content (UTF-8); files are batched together."""
    import pyarrow as pa

    batch: list[str] = []
    size = 0
    for path in paths:
        try:
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
    """One document per line (``\\n``; a trailing ``\\r`` is dropped too); blank lines skipped."""
    import pyarrow as pa

    batch: list[str] = []
    size = 0
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
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


def read_hf_dataset(ds: Any, field: str, where: str = "dataset") -> Iterator[pa.Array]:
    """A ``datasets.Dataset`` or ``IterableDataset``, a batch at a time (indices respected).

    Raises:
        InvalidInput: not a single split, or no text field / a non-text field.
    """
    import datasets

    if isinstance(ds, datasets.DatasetDict | datasets.IterableDatasetDict):
        raise InvalidInput(
            f"{where} holds several splits ({', '.join(ds)}): ingest one split at a time"
        )
    if not isinstance(ds, datasets.Dataset | datasets.IterableDataset):
        raise InvalidInput(f"{where} is not a datasets.Dataset or IterableDataset")
    features = ds.features
    if features is not None and field not in features:
        raise InvalidInput(f"{where}: no text field {field!r} (fields: {', '.join(features)})")
    rows = 0
    if isinstance(ds, datasets.Dataset):
        for table in ds.select_columns([field]).with_format("arrow").iter(batch_size=10_000):
            yield _as_text(table.column(0), where, field, rows)
            rows += table.num_rows
        return
    import pyarrow as pa

    buf: list[Any] = []
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
        if len(buf) >= 10_000:
            yield pa.array(buf, pa.large_string())
            rows, buf = rows + len(buf), []
    if buf:
        yield pa.array(buf, pa.large_string())


def read_hf_disk(path: Path, field: str, progress: Progress = _noop) -> Iterator[pa.Array]:
    """A directory written by ``save_to_disk``; memory-mapped, read a batch at a time."""
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(f"{path} is not a dataset saved with save_to_disk: {exc}") from exc
    yield from read_hf_dataset(ds, field, where=str(path))
    progress(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()))


def read_inputs(
    paths: list[Path],
    fmt: str | None,
    field: str,
    *,
    per_line: bool = False,
    progress: Progress | None = None,
) -> Iterator[pa.Array]:
    """Texts of every input in order; the format is given or told from each file's name.

    Raises:
        InvalidInput: an unknown format, or any problem with an input.
    """
    progress = progress or _noop
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    text_files: list[Path] = []
    for path in paths:
        kind = fmt or detect_format(path)
        if kind == "text" and not per_line:
            text_files.append(path)
            continue
        if text_files:
            yield from read_text_files(text_files, progress)
            text_files = []
        if path.is_dir() and kind != "hf-disk":
            raise InvalidInput(f"{path} is a directory, not a {kind} file")
        if kind == "hf-disk":
            yield from read_hf_disk(path, field, progress)
        elif kind == "text":
            yield from read_text_lines(path, progress)
        elif kind == "jsonl":
            yield from read_jsonl(path, field, progress)
        elif kind == "csv":
            yield from read_csv(path, field, progress)
        else:
            yield from read_parquet(path, field, progress)
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
