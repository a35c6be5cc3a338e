"""Takedown: revoke the shards holding some records, write each one's other records into a
replacement shard, and a new version of every dataset that held them; one transaction.

The replacement goes through the same canonical writer as ingest (``ShardWriter``, v2 columns
as stored), with a shard size above the original's text, so it is exactly the shard that
``provreg ingest`` of the remaining records makes: deterministic and content-addressed.
Files are placed under their locks before the commit; if the transaction fails they are
removed by ``ShardStore.track`` (the CLI's and the API's), and if the process is killed they
are orphans that ``provreg shard verify --all --gc`` removes.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit, limits
from registry.db.models import Dataset, DatasetShard, Shard, Source, Takedown, TakedownShard
from registry.db.types import utcnow
from registry.entities.impact import TakedownOut, TakedownShardOut
from registry.entities.shards import ShardIn
from registry.errors import IntegrityFailure, InvalidInput, NotFound
from registry.faults import crash_point
from registry.impact.selectors import Selector, matching_shards, selector
from registry.proofs.record_roots import store_record_roots
from registry.shards import file_locks
from registry.shards.aggregates import record_profiles
from registry.shards.format import FORMAT_V2, ShardWriter, WrittenShard
from registry.shards.profile import registrable_domain
from registry.shards.record_fields import COLUMNS, hosts
from registry.shards.registration import register_shards
from registry.shards.store import ShardStore

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("shard", "domain", "url", "author", "record")
WORKERS = min(4, os.cpu_count() or 1)  # threads reading and writing shard files


@dataclass
class _Cut:
    row: Shard
    source: str
    keep: pa.Table | None  # the other records (None: a whole-shard takedown)
    removed_records: int
    removed_tokens: int
    removed_ids: list[str]


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("a takedown needs a reason", field="revocation.reason")
    return limits.check_text(text, "takedown reason", limits.REASON)


def _matches(table: pa.Table, sel: Selector) -> pa.Array:
    """A boolean mask of the records the selector names (exact, from the file's columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if sel.kind == "url":
        return pc.fill_null(pc.equal(table.column("url"), sel.value), False)
    if sel.kind == "record":
        return pc.equal(table.column("id"), sel.value)
    if sel.kind == "author":
        return pc.fill_null(pc.equal(table.column("author"), sel.value.split(":", 1)[1]), False)
    host = hosts(table.column("url"))
    distinct = pc.unique(host).drop_null()
    hit = pa.array([registrable_domain(h) == sel.value for h in distinct.to_pylist()], pa.bool_())
    return pc.fill_null(pc.take(hit, pc.index_in(host, value_set=distinct)), False)


def read_verified(store: ShardStore, shard_id: str) -> pa.Table:
    """The shard's records, after checking its bytes against its id."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = store.read_bytes(shard_id)
    if hashlib.sha256(data).hexdigest() != shard_id:
        raise IntegrityFailure(f"shard {shard_id}: the stored bytes do not match its id")
    return pq.read_table(pa.BufferReader(data))


def _cut(store: ShardStore, sel: Selector, row: Shard, source: str) -> _Cut:
    """One shard's matching records and the rest (run in a worker thread: no session use)."""
    import pyarrow.compute as pc

    if sel.kind == "shard":
        return _Cut(row, source, None, row.records, row.tokens, [])
    if row.format != FORMAT_V2:
        raise InvalidInput(f"shard {row.id} holds no record fields (format {row.format})")
    table = read_verified(store, row.id)
    mask = _matches(table, sel)
    gone = table.filter(mask)
    tokens = int(pc.sum(pc.add(pc.binary_length(gone.column("text")), 1)).as_py() or 0)
    return _Cut(
        row,
        source,
        table.filter(pc.invert(mask)),
        len(gone),
        tokens,
        sorted(set(gone.column("id").to_pylist())),
    )


def _next_versions(session: Session, shard_ids: set[str]) -> dict[int, str]:
    """For each dataset name holding a matched shard in its latest version: that version's id
    -> the new version's reference ``NAME@N+1``."""
    holding = {
        n
        for (n,) in session.execute(
            select(Dataset.name)
            .join(DatasetShard, DatasetShard.dataset_id == Dataset.id)
            .where(DatasetShard.shard_id.in_(sorted(shard_ids)))
        )
    }
    out: dict[int, str] = {}
    for name in sorted(holding):
        versions = list(
            session.execute(select(Dataset.id, Dataset.version).where(Dataset.name == name))
        )
        numbered = [(int(v), i) for i, v in versions if v.isdigit()]
        if not numbered:
            continue
        top, top_id = max(numbered)
        has = session.scalar(
            select(DatasetShard.shard_id)
            .where(DatasetShard.dataset_id == top_id, DatasetShard.shard_id.in_(sorted(shard_ids)))
            .limit(1)
        )
        if has is not None:
            out[top_id] = f"{name}@{top + 1}"
    return out


def takedown(
    session: Session,
    store: ShardStore,
    kind: str,
    value: str,
    reason: str,
    *,
    dry_run: bool = False,
) -> TakedownOut:
    """Take the records a selector names out of future training (see the module docstring).

    Raises:
        InvalidInput: no reason, a malformed selector, a selector kind takedown does not take
            (a source: revoke the source), a v1 shard for a record selector.
        NotFound: an unknown shard or source, or nothing matched among active shards.
        IntegrityFailure: a stored shard whose bytes do not match its id.
    """
    why = _reason(reason)
    sel = selector(kind, value)
    if sel.kind not in KINDS:
        raise InvalidInput(
            f"a takedown names a shard, domain, URL, author or record, not a {sel.kind} "
            "(a whole source is revoked instead)",
            field="impact.selector",
        )
    matched = [m for m in matching_shards(session, sel) if m.records > 0 or sel.kind == "shard"]
    rows = {
        r.id: r
        for r in session.scalars(select(Shard).where(Shard.id.in_([m.shard_id for m in matched])))
    }
    active = sorted(i for i, r in rows.items() if r.status == "active")
    if not active:
        raise NotFound(f"nothing matched {sel} among active shards", field="impact.selector")
    names = {i: n for i, n in session.execute(select(Source.id, Source.name))}
    # reading, verifying and filtering release the GIL (hashlib, pyarrow): shards in parallel
    with ThreadPoolExecutor(WORKERS) as pool:
        cuts = list(pool.map(lambda i: _cut(store, sel, rows[i], names[rows[i].source_id]), active))
    versions = _next_versions(session, set(active))
    if dry_run:
        return _out(None, sel, why, True, cuts, {}, versions)
    replacements = _write_replacements(session, store, cuts)
    now = utcnow()
    for c in cuts:
        c.row.status, c.row.revoked_reason, c.row.revoked_at = "revoked", f"takedown: {why}", now
    session.flush()
    _new_versions(session, versions, replacements)
    td = Takedown(
        selector=str(sel),
        reason=why,
        created_at=now,
        records=sum(c.removed_records for c in cuts),
        tokens=sum(c.removed_tokens for c in cuts),
    )
    session.add(td)
    session.flush()
    session.add_all(
        TakedownShard(
            takedown_id=td.id,
            shard_id=c.row.id,
            replacement_id=replacements.get(c.row.id),
            records=c.removed_records,
            tokens=c.removed_tokens,
        )
        for c in cuts
    )
    session.flush()
    out = _out(td.id, sel, why, False, cuts, replacements, versions)
    audit.record(
        session,
        "takedown.apply",
        "takedown",
        str(td.id),
        {
            "request": {"selector": str(sel), "reason": why},
            "matched": {c.row.id: c.removed_ids or "all" for c in cuts},
            "replacements": {c.row.id: replacements.get(c.row.id) for c in cuts},
            "datasets": sorted(versions.values()),
        },
    )
    crash_point("takedown.before_commit")
    return out


def _write_one(into: Path, keep: pa.Table) -> WrittenShard:
    """One replacement file: the kept records through the ingest writer, as one shard (fewer
    records than the original, which was one shard)."""
    into.mkdir()
    got: list[WrittenShard] = []
    writer = ShardWriter(into, got.append, shard_bytes=1 << 60, records=True)
    try:
        writer.write(
            keep.column("text").combine_chunks(),
            {k: keep.column(k).combine_chunks() for k in COLUMNS},
        )
        writer.close()
    except BaseException:
        writer.abort()
        raise
    (w,) = got
    return w


def _write_replacements(session: Session, store: ShardStore, cuts: list[_Cut]) -> dict[str, str]:
    """Write, place and register each cut's other records; original id -> replacement id.

    The files are written in parallel (Parquet encoding and hashing release the GIL); each
    writer numbers its files from 1, so each replacement gets its own directory.
    """
    written: list[tuple[_Cut, WrittenShard, str]] = []
    with store.staging() as staging:
        todo = [(n, c) for n, c in enumerate(cuts) if c.keep is not None and c.keep.num_rows]
        with ThreadPoolExecutor(WORKERS) as pool:
            files = list(
                pool.map(
                    lambda nc: _write_one(staging.path / f"replacement-{nc[0]}", nc[1].keep), todo
                )
            )
        for (_, c), w in zip(todo, files, strict=True):
            written.append((c, w, staging.keep(w.path)))
        crash_point("takedown.after_files")
        guard = file_locks.Guard(session)
        guard.hold({w.id: w for _, w, _ in written})
        for _, w, where in written:
            store.adopt(where, w.id, guard=guard)
    items = [
        ShardIn(
            id=w.id,
            source=c.source,
            bytes=w.bytes,
            records=w.records,
            tokens=w.tokens,
            format=w.format,
        )
        for c, w, _ in written
    ]
    register_shards(session, store, list({i.id: i for i in items}.values()))
    store_record_roots(session, {w.id: w.record_root for _, w, _ in written if w.record_root})
    record_profiles(session, [(w.id, w.profile) for _, w, _ in written if w.profile is not None])
    return {c.row.id: w.id for c, w, _ in written}


def _new_versions(session: Session, versions: dict[int, str], replacements: dict[str, str]) -> None:
    """Each NAME@N+1: version N's shards, with replacements in place of the revoked ones."""
    from registry.shards.datasets import ensure_dataset

    for base_id, ref in sorted(versions.items()):
        base = list(
            session.scalars(select(DatasetShard.shard_id).where(DatasetShard.dataset_id == base_id))
        )
        revoked = set(
            session.scalars(select(Shard.id).where(Shard.id.in_(base), Shard.status == "revoked"))
        )
        ds, _ = ensure_dataset(session, ref)
        keep = {replacements.get(s, s) for s in base if s not in revoked or s in replacements}
        session.add_all(DatasetShard(dataset_id=ds.id, shard_id=s) for s in sorted(keep))
        session.flush()


def _out(
    td_id: int | None,
    sel: Selector,
    why: str,
    dry_run: bool,
    cuts: list[_Cut],
    replacements: dict[str, str],
    versions: dict[int, str],
) -> TakedownOut:
    return TakedownOut(
        id=td_id,
        selector=str(sel),
        reason=why,
        dry_run=dry_run,
        records=sum(c.removed_records for c in cuts),
        tokens=sum(c.removed_tokens for c in cuts),
        shards=[
            TakedownShardOut(
                shard_id=c.row.id,
                source=c.source,
                records_removed=c.removed_records,
                tokens_removed=c.removed_tokens,
                replacement=replacements.get(c.row.id),
            )
            for c in cuts
        ],
        datasets=sorted(versions.values()),
    )


__all__ = ["takedown"]
