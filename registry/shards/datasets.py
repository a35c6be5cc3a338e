"""Datasets: named, versioned sets of shards (``NAME@VERSION``), and their statistics.

Statistics read the shard files themselves with DuckDB (``read_parquet``), so they describe the
bytes a trainer would read, not what the registry was told at ingest.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from registry import audit, limits
from registry.db.models import Dataset, DatasetShard, Shard, Source
from registry.db.paging import keyset
from registry.db.upsert import insert_new
from registry.entities.shards import DatasetDetail, DatasetOut, DatasetStats, LengthBucket, ShardOut
from registry.errors import Conflict, InvalidInput, NotFound
from registry.names import normalise_name
from registry.shards.store import ShardStore

DEFAULT_VERSION = "1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,49}$")
HISTOGRAM_EDGES = (0, 1, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)


def parse_ref(ref: str) -> tuple[str, str]:
    """``name@version`` -> (name, version); the version defaults to ``"1"``.

    Raises:
        InvalidInput: an empty or malformed name or version.
    """
    name, sep, version = ref.strip().partition("@")
    version = version if sep else DEFAULT_VERSION
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"dataset name {name!r} is not valid (letters, digits and . _ / -; up to 200)"
        )
    normalise_name(name, "dataset name", slash=True)  # the shared rule: no '.' or '..' segment
    if not _VERSION.fullmatch(version):
        raise InvalidInput(f"dataset version {version!r} is not valid (letters, digits, . _ + -)")
    return name, version


def dataset_row(session: Session, ref: str) -> Dataset:
    """Raises: NotFound: no such dataset version; InvalidInput: a malformed reference."""
    name, version = parse_ref(ref)
    row = session.scalars(
        select(Dataset).where(Dataset.name == name, Dataset.version == version)
    ).first()
    if row is None:
        raise NotFound(f"unknown dataset {name}@{version}")
    return row


def ensure_dataset(session: Session, ref: str) -> tuple[Dataset, bool]:
    """The dataset version, created (and audited) if missing; True when it was created.

    Two transactions creating the same version at once: one creates it, the other waits for it
    and uses it (``registry.db.upsert``), on both databases."""
    name, version = parse_ref(ref)
    query = select(Dataset).where(Dataset.name == name, Dataset.version == version)
    row = session.scalars(query).first()
    if row is not None:
        return row, False
    inserted = insert_new(
        session,
        Dataset,
        [{"name": name, "version": version}],
        key=["name", "version"],
        returning=[Dataset.id],
    )
    if not inserted:  # another transaction created it and committed meanwhile
        return session.scalars(query).one(), False
    row = session.get_one(Dataset, inserted[0][0])
    audit.record(
        session,
        "dataset.create",
        "dataset",
        f"{name}@{version}",
        {"name": name, "version": version},
    )
    return row, True


def shard_out(row: Shard, source_name: str) -> ShardOut:
    return ShardOut(
        id=row.id,
        source=source_name,
        bytes=row.bytes,
        records=row.records,
        tokens=row.tokens,
        format=row.format,
        store_uri=row.store_uri,
        status=row.status,
        revoked_reason=row.revoked_reason,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
    )


def _totals(session: Session, dataset_ids: list[int]) -> dict[int, tuple[int, int, int, int, int]]:
    revoked = func.sum(case((Shard.status == "revoked", 1), else_=0))
    rows = session.execute(
        select(
            DatasetShard.dataset_id,
            func.count(Shard.id),
            func.coalesce(func.sum(Shard.bytes), 0),
            func.coalesce(func.sum(Shard.records), 0),
            func.coalesce(func.sum(Shard.tokens), 0),
            func.coalesce(revoked, 0),
        )
        .join(Shard, Shard.id == DatasetShard.shard_id)
        .where(DatasetShard.dataset_id.in_(dataset_ids))
        .group_by(DatasetShard.dataset_id)
    )
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows}


def _out(row: Dataset, totals: tuple[int, int, int, int, int] | None) -> DatasetOut:
    shards, size, records, tokens, revoked = totals or (0, 0, 0, 0, 0)
    return DatasetOut(
        id=row.id,
        name=row.name,
        version=row.version,
        description=row.description,
        created_at=row.created_at,
        shards=shards,
        bytes=size,
        records=records,
        tokens=tokens,
        revoked_shards=revoked,
    )


def create_dataset(
    session: Session, name: str, version: str = DEFAULT_VERSION, description: str | None = None
) -> DatasetOut:
    """Declare an empty dataset version (shards are linked when registered or ingested).

    Raises:
        InvalidInput: a malformed name or version, a description too long or not storable.
        Conflict: that version exists.
    """
    name, version = parse_ref(f"{name}@{version}")
    limits.check_optional_text(description, "dataset description", limits.LONG_TEXT)
    found = session.scalars(
        select(Dataset.id).where(Dataset.name == name, Dataset.version == version)
    ).first()
    if found is not None:
        raise Conflict(f"dataset {name}@{version} already exists")
    row = Dataset(name=name, version=version, description=description)
    session.add(row)
    session.flush()
    audit.record(
        session,
        "dataset.create",
        "dataset",
        f"{name}@{version}",
        {"name": name, "version": version, "description": description},
    )
    return _out(row, None)


def get_dataset(session: Session, ref: str) -> DatasetOut:
    """One dataset version with its totals.

    Raises:
        InvalidInput: a malformed reference; NotFound: no such dataset version.
    """
    row = dataset_row(session, ref)
    return _out(row, _totals(session, [row.id]).get(row.id))


def list_datasets(
    session: Session, *, after: tuple[str, str] | None = None, limit: int | None = None
) -> list[DatasetOut]:
    """Dataset versions by (name, version); ``after`` is the last key of the previous page."""
    stmt = keyset(select(Dataset), [Dataset.name, Dataset.version], after=after, limit=limit)
    rows = list(session.scalars(stmt))
    totals = _totals(session, [r.id for r in rows]) if rows else {}
    return [_out(r, totals.get(r.id)) for r in rows]


def dataset_shards(session: Session, dataset_id: int) -> list[ShardOut]:
    rows = session.execute(
        select(Shard, Source.name)
        .join(DatasetShard, DatasetShard.shard_id == Shard.id)
        .join(Source, Source.id == Shard.source_id)
        .where(DatasetShard.dataset_id == dataset_id)
        .order_by(Shard.created_at, Shard.id)
    )
    return [shard_out(shard, name) for shard, name in rows]


def show_dataset(session: Session, ref: str) -> DatasetDetail:
    """A dataset version with its shards and totals.

    Raises:
        NotFound: no such dataset version.
    """
    row = dataset_row(session, ref)
    return DatasetDetail(
        dataset=_out(row, _totals(session, [row.id]).get(row.id)),
        shards=tuple(dataset_shards(session, row.id)),
    )


def dataset_stats(session: Session, store: ShardStore, ref: str) -> DatasetStats:
    """Records, tokens, empty and duplicate documents and the length distribution, read from
    the shard files with DuckDB.

    Raises:
        NotFound: no such dataset version, or a shard file missing from the store.
    """
    import duckdb

    row = dataset_row(session, ref)
    ids = list(
        session.scalars(
            select(DatasetShard.shard_id)
            .where(DatasetShard.dataset_id == row.id)
            .order_by(DatasetShard.shard_id)
        )
    )
    empty = DatasetStats(
        dataset=row.name, version=row.version, shards=0, records=0, tokens=0, text_bytes=0,
        empty_records=0, distinct_records=0, duplicate_records=0, duplicates_within_shards=0,
        duplicates_across_shards=0, length_min=None, length_mean=None, length_quantiles={},
        length_max=None, length_histogram=(),
    )  # fmt: skip
    if not ids:
        return empty
    missing = [i for i in ids if not store.exists(i)]
    if missing:
        raise NotFound(
            f"{len(missing)} shard file(s) of {row.name}@{row.version} are missing from the "
            f"store {store.url} (first: {missing[0]}); run `provreg shard verify`"
        )
    con = duckdb.connect()
    try:
        if store.is_local:
            paths = [store.path_for(i) for i in ids]
        else:
            con.register_filesystem(store.fs)
            paths = [store.uri_for(i) for i in ids]
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        con.execute(
            "CREATE TEMP VIEW r AS SELECT filename AS shard, id, octet_length(encode(text)) AS len "
            f"FROM read_parquet([{listed}], filename = true)"
        )
        return _stats(con, row, len(ids))
    finally:
        con.close()


def _stats(con: Any, row: Dataset, shards: int) -> DatasetStats:
    records, text_bytes, empty, distinct, lo, mean, hi, p10, p50, p90, p99 = con.execute(
        "SELECT count(*), coalesce(sum(len), 0), count(*) FILTER (WHERE len = 0), "
        "count(DISTINCT id), min(len), avg(len), max(len), "
        "quantile_disc(len, 0.1), quantile_disc(len, 0.5), quantile_disc(len, 0.9), "
        "quantile_disc(len, 0.99) FROM r"
    ).fetchone()
    (pairs,) = con.execute("SELECT count(*) FROM (SELECT DISTINCT shard, id FROM r)").fetchone()
    edges = HISTOGRAM_EDGES
    case = " ".join(f"WHEN len < {edges[i + 1]} THEN {i}" for i in range(len(edges) - 1))
    counts = dict(
        con.execute(
            f"SELECT CASE {case} ELSE {len(edges) - 1} END AS b, count(*) FROM r GROUP BY b"
        ).fetchall()
    )
    buckets = tuple(
        LengthBucket(
            low=edges[i],
            high=edges[i + 1] if i + 1 < len(edges) else None,
            records=counts.get(i, 0),
        )
        for i in range(len(edges))
    )
    within = int(records) - int(pairs)
    duplicates = int(records) - int(distinct)
    return DatasetStats(
        dataset=row.name,
        version=row.version,
        shards=shards,
        records=int(records),
        tokens=int(text_bytes) + int(records),
        text_bytes=int(text_bytes),
        empty_records=int(empty),
        distinct_records=int(distinct),
        duplicate_records=duplicates,
        duplicates_within_shards=within,
        duplicates_across_shards=duplicates - within,
        length_min=None if lo is None else int(lo),
        length_mean=None if mean is None else float(mean),
        length_quantiles={}
        if p50 is None
        else {"p10": int(p10), "p50": int(p50), "p90": int(p90), "p99": int(p99)},
        length_max=None if hi is None else int(hi),
        length_histogram=buckets,
    )
