"""Exact attribution: the tokens a run consumed from each author's records, per shard.

Why derive rather than record: the trainer's order is deterministic (``trainer/data.py``):
every visit of a shard reads its records from the first, in file order, and the stream only
stops inside the shard it is reading. So a run's consumption of a shard, ``T`` tokens and
``R`` completed records (what every checkpoint already records, resumed runs and DDP ranks
summed), is ``k`` whole passes plus one prefix of ``r`` tokens in file order, ``k, r =
divmod(T, shard tokens)``. Whole passes are the shard's per-author sums (``shard_authors``,
one SQL join); only a shard with a partial pass is opened, and the record cut by the prefix
is counted up to its last consumed token. The completed records of the prefix must equal
``R - k x shard records``, or the consumption is not of that shape and settlement refuses.
Tokens of records without an author are the author ``""``; the sum over authors is ``T``.
The rule is written down in ``docs/ledger.md``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, insert, literal, select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import AuthorConsumption, Consumption, Shard, ShardAuthor, TrainingRun
from registry.db.upsert import conflict_insert
from registry.errors import Conflict, InvalidInput
from registry.ledger.consumption import SourceUse, irregular_use, whole_passes
from registry.shards.format import FORMAT_V2
from registry.shards.store import ShardStore
from registry.shards.token_count import TOKENIZER

NO_AUTHOR = ""
_TABLE = AuthorConsumption.metadata.tables["author_consumption"]  # Core: bulk inserts skip the ORM


@dataclass(frozen=True, slots=True)
class RecordUse:
    """One record of a shard that a run consumed: how far into its tokens, in file order."""

    index: int
    record_id: str
    url: str | None
    author: str | None
    tokens: int  # tokens consumed from it, over every pass
    passes: int  # times it was read in whole (a cut record counts its last pass as part)


def author_tokens(
    session: Session, run: TrainingRun, uses: Mapping[int, SourceUse], store: ShardStore | None
) -> dict[int, dict[str, int]]:
    """Tokens consumed per (source, author key) for the run, derived once and then stored.

    A second settlement reads the stored rows (``author_consumption``); the derivation writes
    them in the caller's transaction, beside the ledger entries.

    Raises:
        InvalidInput: the run counted tokens with another tokenizer than the shards'.
        Conflict: a shard's consumption is not whole passes plus one prefix in file order.
    """
    ids = sorted(uses)
    if not ids:
        return {}
    if not _derived(session, run.id):
        _derive(session, run, uses, store)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for chunk in chunked(ids):
        query = select(
            AuthorConsumption.source_id, AuthorConsumption.author, AuthorConsumption.tokens
        ).where(AuthorConsumption.run_id == run.id, AuthorConsumption.source_id.in_(chunk))
        for sid, author, tokens in session.execute(query):
            out[sid][author] = int(tokens)
    return dict(out)


def _derived(session: Session, run_id: str) -> bool:
    query = select(AuthorConsumption.run_id).where(AuthorConsumption.run_id == run_id).limit(1)
    return session.scalars(query).first() is not None


def _derive(
    session: Session, run: TrainingRun, uses: Mapping[int, SourceUse], store: ShardStore | None
) -> None:
    """Write the run's per-(source, author) consumption of those sources.

    Whole passes are summed and written by the database (``shard_authors`` x passes, one
    ``INSERT ... SELECT ... GROUP BY``: a hundred thousand authors never pass through Python);
    only shards read in part are opened, and their prefixes added to those rows. What no
    author's records account for is the author ``""``: the source's consumption minus the
    authors' sum.
    """
    if run.tokenizer != TOKENIZER:
        raise InvalidInput(
            f"run {run.id!r} counted tokens with {run.tokenizer!r}; paying authors needs the "
            f"shards' own token counts ({TOKENIZER})",
            field="run.tokenizer",
        )
    columns = ["run_id", "source_id", "author", "tokens", "records"]
    for chunk in chunked(sorted(uses)):
        session.execute(insert(_TABLE).from_select(columns, _whole_pass_sums(run.id, chunk)))
    prefixes: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for chunk in chunked(sorted(sid for sid, u in uses.items() if u.irregular)):
        for shard, tokens, records in session.execute(_irregular(run.id, chunk)):
            rest = tokens % shard.tokens
            done = records - (tokens - rest) // shard.tokens * shard.records
            if rest == 0:
                raise _not_prefix(run.id, shard.id)
            for record in prefix_uses(store, shard, rest):  # rest < a pass: passes is 0 or 1
                if record.author:
                    mine = prefixes[(shard.source_id, record.author)]
                    mine[0] += record.tokens
                    mine[1] += record.passes
                done -= record.passes
            if done != 0:
                raise _not_prefix(run.id, shard.id)
    _add(session, [(run.id, sid, a, t, r) for (sid, a), (t, r) in sorted(prefixes.items())])
    authored = _authored(session, run.id)
    unauthored = []
    for sid, use in sorted(uses.items()):
        tokens, records = authored.get(sid, (0, 0))
        if use.tokens - tokens or use.records - records:
            unauthored.append((run.id, sid, NO_AUTHOR, use.tokens - tokens, use.records - records))
    _add(session, unauthored)


def _add(session: Session, rows: Sequence[tuple[str, int, str, int, int]]) -> None:
    """Add tokens and records to (run, source, author) rows, creating those not there."""
    if not rows:
        return
    stmt = conflict_insert(session, _TABLE)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "source_id", "author"],
        set_={
            "tokens": _TABLE.c.tokens + stmt.excluded.tokens,
            "records": _TABLE.c.records + stmt.excluded.records,
        },
    )
    keys = ("run_id", "source_id", "author", "tokens", "records")
    session.execute(stmt, [dict(zip(keys, row, strict=True)) for row in rows])


def _authored(session: Session, run_id: str) -> dict[int, tuple[int, int]]:
    """Per source, the tokens and records the run's stored author rows account for."""
    query = (
        select(
            AuthorConsumption.source_id,
            func.sum(AuthorConsumption.tokens),
            func.sum(AuthorConsumption.records),
        )
        .where(AuthorConsumption.run_id == run_id)
        .group_by(AuthorConsumption.source_id)
    )
    return {sid: (int(t), int(r)) for sid, t, r in session.execute(query)}


def _consumed(run_id: str) -> list[Any]:
    return [Consumption.run_id == run_id, Consumption.tokens > 0, Consumption.shard_tokens > 0]


def _whole_pass_sums(run_id: str, source_ids: Sequence[int]) -> Any:
    """(run, source, author, tokens, records): whole passes x the shard's per-author sums, over
    the run's shards of those sources, as rows of ``author_consumption``.

    The consumption rows carry their shard's source and size, so this joins them to
    ``shard_authors`` alone, in shard order (``ix_consumption_run_cover``: the lookups follow
    the primary key of ``shard_authors``, page after page). Records
    without an author (the key ``""``) are left to the remainder."""
    return (
        select(
            literal(run_id, String()),
            Consumption.source_id,
            ShardAuthor.author,
            func.sum(whole_passes() * ShardAuthor.tokens),
            func.sum(whole_passes() * ShardAuthor.records),
        )
        .select_from(Consumption)
        .join(ShardAuthor, ShardAuthor.shard_id == Consumption.shard_id)
        .where(
            *_consumed(run_id),
            Consumption.source_id.in_(source_ids),
            whole_passes() > 0,
            ShardAuthor.author != NO_AUTHOR,
        )
        .group_by(Consumption.source_id, ShardAuthor.author)
    )


def _irregular(run_id: str, source_ids: Sequence[int]) -> Any:
    """The run's shards read in part, or whose completed records are not passes x records:
    (shard, tokens, records). One scan; the second kind is refused."""
    return (
        select(Shard, Consumption.tokens, Consumption.records)
        .join(Consumption, Consumption.shard_id == Shard.id)
        .where(*_consumed(run_id), Consumption.source_id.in_(source_ids), irregular_use() == 1)
    )


def prefix_uses(store: ShardStore | None, shard: Shard, tokens: int) -> list[RecordUse]:
    """The records holding the first ``tokens`` stream tokens of the shard, in file order; the
    last one may be cut (``passes`` 0). Each record is its UTF-8 bytes plus one end-of-text."""
    return [u for u in record_uses(store, shard, tokens) if u.tokens]


def record_uses(store: ShardStore | None, shard: Shard, tokens: int) -> list[RecordUse]:
    """Every record of the shard with the tokens a consumption of ``tokens`` took from it:
    whole passes over the shard, then a prefix in file order (the module's rule)."""
    import pyarrow.compute as pc

    from registry.impact.takedown import read_verified

    if store is None:
        raise InvalidInput(f"shard {shard.id}'s records are needed: no shard store given")
    table = read_verified(store, shard.id)
    lengths = pc.add(pc.binary_length(table.column("text")), 1).to_pylist()
    v2 = shard.format == FORMAT_V2
    ids = table.column("id").to_pylist()
    urls = table.column("url").to_pylist() if v2 else [None] * len(ids)
    authors = table.column("author").to_pylist() if v2 else [None] * len(ids)
    passes, left = divmod(tokens, sum(lengths)) if lengths else (0, 0)
    out: list[RecordUse] = []
    for i, n in enumerate(lengths):
        used = min(n, max(left, 0))
        left -= used
        out.append(
            RecordUse(i, ids[i], urls[i], authors[i], passes * n + used, passes + int(used == n))
        )
    return out


def _not_prefix(run_id: str, shard_id: str) -> Conflict:
    return Conflict(
        f"consumption of shard {shard_id} by run {run_id or '?'} is not whole passes plus one "
        "prefix in file order: its tokens cannot be attributed to authors exactly"
    )
