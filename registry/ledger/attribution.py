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
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import AuthorConsumption, Consumption, Shard, ShardAuthor, TrainingRun
from registry.errors import Conflict, InvalidInput
from registry.shards.format import FORMAT_V2
from registry.shards.store import ShardStore
from registry.shards.token_count import TOKENIZER

NO_AUTHOR = ""


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
    session: Session, run: TrainingRun, source_ids: Iterable[int], store: ShardStore | None
) -> dict[int, dict[str, int]]:
    """Tokens consumed per (source, author key) for the run, derived once and then stored.

    A second settlement (or a statement) reads the stored rows (``author_consumption``); the
    derivation writes them in the caller's transaction, beside the ledger entries.

    Raises:
        InvalidInput: the run counted tokens with another tokenizer than the shards'.
        Conflict: a shard's consumption is not whole passes plus one prefix in file order.
    """
    ids = sorted(set(source_ids))
    if not ids:
        return {}
    if not _derived(session, run.id):
        _derive(session, run, ids, store)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for chunk in chunked(ids):
        query = (
            select(Shard.source_id, AuthorConsumption.author, func.sum(AuthorConsumption.tokens))
            .join(Shard, Shard.id == AuthorConsumption.shard_id)
            .where(AuthorConsumption.run_id == run.id, Shard.source_id.in_(chunk))
            .group_by(Shard.source_id, AuthorConsumption.author)
        )
        for sid, author, tokens in session.execute(query):
            out[sid][author] = int(tokens)
    return dict(out)


def _derived(session: Session, run_id: str) -> bool:
    query = select(AuthorConsumption.run_id).where(AuthorConsumption.run_id == run_id).limit(1)
    return session.scalars(query).first() is not None


def _derive(
    session: Session, run: TrainingRun, source_ids: list[int], store: ShardStore | None
) -> None:
    """Write the run's per-(shard, author) consumption of every shard of those sources."""
    if run.tokenizer != TOKENIZER:
        raise InvalidInput(
            f"run {run.id!r} counted tokens with {run.tokenizer!r}; paying authors needs the "
            f"shards' own token counts ({TOKENIZER})",
            field="run.tokenizer",
        )
    uses = [
        (shard, c.tokens, c.records)
        for chunk in chunked(source_ids)
        for c, shard in session.execute(
            select(Consumption, Shard)
            .join(Shard, Shard.id == Consumption.shard_id)
            .where(Consumption.run_id == run.id, Shard.source_id.in_(chunk), Consumption.tokens > 0)
        )
    ]
    per_author = _whole_pass_sums(session, [s.id for s, t, _ in uses if t >= s.tokens])
    rows: list[dict[str, object]] = []
    for shard, tokens, records in sorted(uses, key=lambda u: u[0].id):
        passes, rest = divmod(tokens, shard.tokens) if shard.tokens else (0, tokens)
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        if passes:
            for author, (a_tokens, a_records) in per_author.get(shard.id, {}).items():
                sums[author][0] += passes * a_tokens
                sums[author][1] += passes * a_records
        if rest:
            _add_prefix(sums, store, shard, rest, records - passes * shard.records)
        elif records != passes * shard.records:
            raise _not_prefix(run.id, shard.id)
        for author, (a_tokens, a_records) in sums.items():
            if a_tokens or a_records:
                rows.append(
                    {"run_id": run.id, "shard_id": shard.id, "author": author}
                    | {"tokens": a_tokens, "records": a_records}
                )
    for part in chunked(rows, 5000):
        session.execute(insert(AuthorConsumption), list(part))


def _whole_pass_sums(
    session: Session, shard_ids: list[str]
) -> dict[str, dict[str, tuple[int, int]]]:
    """Each shard's tokens and records per author, ``""`` holding those without an author."""
    out: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for chunk in chunked(sorted(shard_ids)):
        for sid, author, tokens, records in session.execute(
            select(
                ShardAuthor.shard_id, ShardAuthor.author, ShardAuthor.tokens, ShardAuthor.records
            ).where(ShardAuthor.shard_id.in_(chunk))
        ):
            out[sid][author] = (int(tokens), int(records))
    for chunk in chunked(sorted(shard_ids)):
        for sid, tokens, records in session.execute(
            select(Shard.id, Shard.tokens, Shard.records).where(Shard.id.in_(chunk))
        ):
            got = out[sid]
            left = (
                tokens - sum(t for t, _ in got.values()),
                records - sum(r for _, r in got.values()),
            )
            if left != (0, 0):
                got[NO_AUTHOR] = left
    return out


def _add_prefix(
    sums: dict[str, list[int]], store: ShardStore | None, shard: Shard, tokens: int, records: int
) -> None:
    """Add the first ``tokens`` of the shard in file order, which complete ``records`` records."""
    for use in prefix_uses(store, shard, tokens):  # tokens < a pass: passes is 0 or 1
        key = use.author or NO_AUTHOR
        sums[key][0] += use.tokens
        records -= use.passes
        sums[key][1] += use.passes
    if records != 0:
        raise _not_prefix("", shard.id)


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
