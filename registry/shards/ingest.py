"""Ingest: turn files or ``datasets`` objects into registered, content-addressed shards.

One ingest is one transaction, in three steps:

1. the input is read and cut into canonical shard files in a staging directory (locked while
   this process lives, so ``shard verify --gc`` removes only what a killed ingest left);
2. the shards' file locks are taken, all at once (``registry.shards.file_locks``), and the
   files are moved into place, or dropped where the same bytes are stored already;
3. the rows, the dataset links and the audit entry are written by
   ``registry.shards.registration.register_shards`` (the function that also registers shards
   claimed over the API), and the caller commits.

A row never names a file that is not there, and a file another transaction uses is never
removed: if anything fails (an error, Ctrl-C, the commit itself), the files this ingest placed
are removed only as ``file_locks.Guard`` allows, once the transaction has ended. Wrap the
transaction in ``store.track()`` for that:

    with store.track(), transaction(engine, actor=...) as session:
        ingest_paths(session, store, ["data.jsonl"], source="crawl", dataset="web@1")

Only a hard crash (SIGKILL, power loss) can leave files behind: staged files (``shard verify
--all`` lists them, ``--gc`` removes them once their process is gone) or placed files no row
names (orphans, listed and removed the same way). The fault suite kills an ingest at each of
``ingest.after_files``, ``ingest.before_commit`` and (in the CLI) ``ingest.after_commit``.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from manifests.records import RecordRootBuilder, record_leaf_hashes
from registry import limits
from registry.catalogue.licences import known_licence_ids, normalise_expression
from registry.db.models import Source
from registry.entities.shards import IngestReport, ShardIn
from registry.errors import InvalidInput
from registry.faults import crash_point
from registry.proofs.record_roots import store_record_roots
from registry.shards import file_locks
from registry.shards.aggregates import record_profiles
from registry.shards.datasets import ensure_dataset, parse_ref
from registry.shards.format import (
    DEFAULT_SHARD_BYTES,
    ShardWriter,
    WrittenShard,
    read_canonical,
)
from registry.shards.profile import RecordProfile
from registry.shards.readers import (
    Batch,
    Progress,
    Records,
    check_text,
    expand_paths,
    input_bytes,
    read_hf_dataset,
    read_inputs,
)
from registry.shards.record_fields import COLUMNS, LicenceCheck, RecordFields, check_columns
from registry.shards.registration import AuditAs, register_shards, storable_source
from registry.shards.store import ShardStore
from registry.shards.token_count import count_tokens_array
from registry.signals.admission import Admission, record_applied, record_exclusions

if TYPE_CHECKING:
    import pyarrow as pa

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}  # fmt: skip


def parse_size(text: str) -> int:
    """``64MiB``, ``500MB``, ``1048576`` -> bytes.

    Raises:
        InvalidInput: not a positive size, or more than ``limits.MAX_SHARD_COUNT`` bytes.
    """
    value = text.strip().lower().replace(" ", "")
    number = value.rstrip("kmgib")
    unit = value[len(number) :]
    try:  # a Decimal compared before any arithmetic: 1e400 is too large, not an OverflowError
        amount, scale = Decimal(number), _UNITS[unit]
        if len(number) > 40 or not amount.is_finite():
            raise InvalidOperation
    except (KeyError, InvalidOperation) as exc:
        raise InvalidInput(f"size {text!r} is not a size like 64MiB, 500MB or 1048576") from exc
    if amount > limits.MAX_SHARD_COUNT or (amount := amount * scale) > limits.MAX_SHARD_COUNT:
        raise InvalidInput(
            f"size {text!r} is more than the limit of {limits.MAX_SHARD_COUNT:,} bytes"
        )
    size = int(amount)
    if size < 1:
        raise InvalidInput(f"size {text!r} must be positive")
    return size


def ingest_paths(
    session: Session,
    store: ShardStore,
    paths: Iterable[str | os.PathLike[str]],
    *,
    source: str,
    dataset: str,
    format: str | None = None,
    text_field: str = "text",
    per_line: bool = False,
    shard_size: int = DEFAULT_SHARD_BYTES,
    progress: Progress | None = None,
    fields: RecordFields | None = None,
    signals_unknown: str = "allow",
    record_roots: bool = True,
) -> IngestReport:
    """Ingest files, globs and directories (JSONL, Parquet, CSV, text, ``save_to_disk`` dirs).

    With ``fields`` naming any record field (url, author, licence, date), the shards are
    ``provreg-shard-v2`` and profiled (``registry.shards.profile``); otherwise v1, as ever.

    Raises:
        InvalidInput: a missing/unreadable path, a file not in the format, a missing or
            non-text field, a malformed dataset name or shard size; a record whose URL, date
            or licence is bad (naming the file and line or record).
        NotFound: an unknown source.
        NotPermitted: a revoked or opted-out source, or data that was revoked.
        Conflict: a shard already registered under another source or with other metadata.
    """
    files = expand_paths(paths, format)
    total_in = input_bytes(files)
    records = _records(session, fields, text_field)
    texts = read_inputs(
        files, format, text_field, per_line=per_line, progress=progress, records=records
    )
    return _ingest(
        session, store, texts, source, dataset, shard_size, total_in, records, signals_unknown,
        record_roots=record_roots,
    )  # fmt: skip


def ingest_dataset(
    session: Session,
    store: ShardStore,
    ds: Any,
    *,
    source: str,
    dataset: str,
    text_field: str = "text",
    shard_size: int = DEFAULT_SHARD_BYTES,
    fields: RecordFields | None = None,
    signals_unknown: str = "allow",
) -> IngestReport:
    """Ingest a ``datasets.Dataset`` or ``datasets.IterableDataset`` (one split), streaming;
    ``fields`` as ``ingest_paths``.

    Raises:
        InvalidInput, NotFound, NotPermitted, Conflict: as ``ingest_paths``.
    """
    records = _records(session, fields, text_field)
    texts = read_hf_dataset(ds, text_field, records=records)
    return _ingest(session, store, texts, source, dataset, shard_size, 0, records, signals_unknown)


def _records(session: Session, fields: RecordFields | None, text_field: str) -> Records | None:
    """What readers need to read record fields: the fields, and a licence check over the
    registry's licences (None: no field given, v1 shards)."""
    if fields is None or not fields.given:
        return None
    fields.check_distinct(text_field)
    return Records(fields, licence_check(session))


def admit(batch: Batch, gate: Admission | None = None) -> Batch:
    """The record gate: every batch of records passes here, in input order, after its fields
    are checked and before any is written to a shard; with record fields a batch is
    ``(texts, columns)`` and ``columns["url"]`` holds each record's URL (null if unknown).

    With a ``gate`` (opt-out signals, ``registry.signals.admission``), each record's URL is
    judged and only the records it admits are kept (``pc.filter`` over the texts and each
    column with one mask), so shard bytes still follow from the records stored alone.
    """
    if gate is None or not isinstance(batch, tuple):
        return batch
    texts, columns = batch
    urls = columns.get("url")
    if urls is None:
        return batch
    keep = gate.mask(urls.to_pylist())
    if all(keep):
        return batch
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pa.array(keep, pa.bool_())
    return pc.filter(texts, mask), {k: pc.filter(v, mask) for k, v in columns.items()}


def prefetch(items: Iterator[Any], depth: int = 3) -> Iterator[Any]:
    """Read ahead in a background thread, so parsing the input overlaps compressing shards.

    Order is kept (a bounded queue, one producer); at most ``depth`` batches wait, so memory
    stays bounded. An error in the reader is raised here; stopping early (an error or Ctrl-C in
    the consumer) stops the reader too.
    """
    done = object()
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))

    thread = threading.Thread(target=run, name="provreg-ingest-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _ingest(
    session: Session,
    store: ShardStore,
    texts: Iterator[pa.Array],
    source: str,
    dataset: str,
    shard_size: int,
    total_in: int,
    records: Records | None = None,
    signals_unknown: str = "allow",
    *,
    record_roots: bool = True,
) -> IngestReport:
    """``record_roots=False`` leaves the shards' record roots to be computed when a /2
    manifest needs them: only ``bench.record_proof`` turns it off, to measure their cost."""
    started = time.perf_counter()
    src = storable_source(session, source)
    parse_ref(dataset)  # a malformed name fails before any work
    gate = (
        Admission(session, crawler=src.crawler or "*", unknown=signals_unknown)
        if records is not None and records.fields.url
        else None
    )
    if gate is None and signals_unknown not in ("allow", "refuse"):
        Admission(session, crawler="*", unknown=signals_unknown)  # the same error, no URLs
    staged: list[tuple[WrittenShard, str]] = []
    with store.staging() as staging:

        def keep(shard: WrittenShard) -> None:
            staged.append((shard, staging.keep(shard.path)))

        writer = ShardWriter(
            staging.path,
            keep,
            shard_bytes=shard_size,
            records=records is not None,
            record_roots=record_roots,
        )
        try:
            for batch in prefetch(texts):
                batch = admit(batch, gate)
                if records is None:
                    writer.write(batch)
                else:
                    writer.write(*batch)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        crash_point("ingest.after_files")  # the fault suite: die with files only in staging
        report = _place_and_register(session, store, src, dataset, staged, "dataset.ingest")
        if gate is not None:
            record_applied(session, report.shard_ids, gate.report.applied)
            record_exclusions(session, src.id, f"{report.dataset}@{report.version}", gate.report)
    return report.model_copy(
        update={
            "input_bytes": total_in,
            "seconds": time.perf_counter() - started,
            "signals": gate.report.as_json() if gate is not None else None,
        }
    )


def register_shard_files(
    session: Session,
    store: ShardStore,
    paths: Iterable[str | os.PathLike[str]],
    *,
    source: str,
    dataset: str,
    progress: Progress | None = None,
) -> IngestReport:
    """Register Parquet files already in the canonical schema as they are: hash, copy, register.

    Raises:
        InvalidInput: a missing path, or a file that is not a canonical shard (or holds text
            that is not UTF-8, or a record over the limit).
        NotFound, NotPermitted, Conflict: as ``ingest_paths``.
    """
    import pyarrow.parquet as pq

    started = time.perf_counter()
    files = expand_paths(paths, "parquet")
    src = storable_source(session, source)
    parse_ref(dataset)
    staged: list[tuple[WrittenShard, str]] = []
    with store.staging() as staging:
        for path in files:
            records = tokens = 0
            profile: RecordProfile | None = None
            tree = RecordRootBuilder()  # the record tree, from the ids read here anyway
            for batch in read_canonical(path):
                tree.add_leaf_hashes(record_leaf_hashes(batch.column(0).to_pylist()))
                texts = check_text(batch.column(1), str(path), "text", records)  # UTF-8, size
                if batch.num_columns > 2:  # v2: profiled here, as ingest does while writing
                    profile = profile or RecordProfile()
                    profile.add(_checked_v2(batch, str(path), records, licence_check(session)))
                records += batch.num_rows
                tokens += count_tokens_array(texts)
            if pq.ParquetFile(path).metadata.num_rows != records:  # pragma: no cover
                raise InvalidInput(f"{path}: row count does not match its footer")
            if profile is None and _is_v2(path):
                profile = RecordProfile()  # a v2 file without records
            digest, size, where = staging.copy_in(path)
            shard = WrittenShard(digest, path, size, records, tokens, profile, tree.root())
            staged.append((shard, where))
            if progress:
                progress(size)
        report = _place_and_register(session, store, src, dataset, staged, "dataset.register")
    total = sum(w.bytes for w, _ in staged)
    return report.model_copy(
        update={"input_bytes": total, "seconds": time.perf_counter() - started}
    )


def licence_check(session: Session) -> LicenceCheck:
    """A record licence -> its canonical SPDX spelling, over the licences the registry holds."""
    known = known_licence_ids(session)
    return lambda expression: normalise_expression(expression, known)


def _is_v2(path: Any) -> bool:
    import pyarrow.parquet as pq

    return len(pq.ParquetFile(path).schema_arrow) > 2


def _checked_v2(batch: Any, where: str, first_row: int, licence: LicenceCheck) -> pa.Table:
    """A v2 file's batch with its record columns checked like ingest's input (a file made
    elsewhere may hold any strings): a bad one is refused, naming the record."""
    import pyarrow as pa

    from registry.shards.readers import _record

    fields = RecordFields(url="url", author="author", licence="licence", created="created")
    values = {c: batch.column(c) for c in COLUMNS}
    checked = check_columns(values, batch.num_rows, where, first_row, _record, fields, licence)
    for column in ("created", "licence"):
        if checked[column] != values[column].cast(pa.string()):
            bad = next(
                i
                for i, (a, b) in enumerate(zip(checked[column], values[column], strict=True))
                if a.as_py() != b.as_py()
            )
            raise InvalidInput(
                f"{where}: {_record(first_row + bad)}: {column} {values[column][bad].as_py()!r} "
                "is not in its canonical spelling (a shard must hold what ingest writes)"
            )
    return pa.table({"id": batch.column(0), "text": batch.column(1), **checked})


def _place_and_register(
    session: Session,
    store: ShardStore,
    src: Source,
    dataset: str,
    staged: list[tuple[WrittenShard, str]],
    audit_as: AuditAs,
) -> IngestReport:
    """Lock the shards' files, move them into place, register them into ``dataset``, report.

    The locks come first, before anything audits (``file_locks``: the lock order)."""
    unique: dict[str, WrittenShard] = {}
    where: dict[str, str] = {}
    for w, location in staged:
        if w.id not in unique:
            unique[w.id], where[w.id] = w, location
    guard = file_locks.Guard(session)
    guard.hold(unique)
    for shard_id in sorted(unique):  # the rest of ``staged`` goes with the staging directory
        store.adopt(where[shard_id], shard_id, guard=guard)
    items = [
        ShardIn(
            id=w.id, source=src.name, dataset=dataset, bytes=w.bytes, records=w.records,
            tokens=w.tokens, format=w.format,
        )
        for w in unique.values()
    ]  # fmt: skip
    registered = register_shards(session, store, items, audit_as=audit_as)
    store_record_roots(session, {i: w.record_root for i, w in unique.items() if w.record_root})
    record_profiles(session, [(i, w.profile) for i, w in unique.items() if w.profile is not None])
    ds, created = ensure_dataset(session, dataset)  # an empty input still declares its dataset
    created = created or bool(registered.datasets_created)
    crash_point("ingest.before_commit")  # the fault suite: die between placing and committing
    return IngestReport(
        dataset=ds.name,
        version=ds.version,
        dataset_created=created,
        source=src.name,
        shard_ids=tuple(unique),
        shards_registered=registered.registered,
        shards_linked=registered.linked,
        shards_already_in_dataset=len(unique) - registered.linked,
        records=sum(w.records for w in unique.values()),
        tokens=sum(w.tokens for w in unique.values()),
        bytes_written=sum(w.bytes for w in unique.values()),
        input_bytes=0,
        seconds=0.0,
    )
