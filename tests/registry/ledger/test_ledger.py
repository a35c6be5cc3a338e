"""The compensation ledger through its services and the real CLI, with hand-computed amounts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select, update

from registry import ledger
from registry.db.models import AuditEntry, Contributor, LedgerEntry, Source
from registry.db.types import utcnow
from registry.errors import Conflict, InvalidInput, NotFound
from tests.conftest import Cli, snapshot
from tests.registry.ledger import ledger_fixtures as fx

Tx = Callable[..., Any]


def _world(tx: Tx) -> dict[str, Any]:
    """Contributors alice, bob, carol; five sources; manifest m1 with runs r1 (first) and r2."""
    with tx() as s:
        news = fx.source(s, "news", "per-mtok:1.50:EUR", {"alice": "0.3333", "bob": "0.6667"})
        books = fx.source(s, "books", "flat:50.00:EUR", {"carol": "0.75", "alice": "0.25"})
        forum = fx.source(s, "forum", "per-mtok:2:USD", {"bob": "1"})
        free = fx.source(s, "free", "none", {"alice": "1"})
        orphan = fx.source(s, "orphan", "per-mtok:1:EUR", {})
        sh = {
            name: fx.shards(s, sid, 2)
            for name, sid in [
                ("news", news),
                ("books", books),
                ("forum", forum),
                ("free", free),
                ("orphan", orphan),
            ]
        }
        m1 = fx.manifest(s, "m1", [x for ids in sh.values() for x in ids])
        fx.run(
            s, "r1", m1,
            {sh["news"][0]: 1_000_000, sh["news"][1]: 234_567, sh["books"][0]: 10,
             sh["forum"][0]: 500_000, sh["free"][0]: 100, sh["orphan"][0]: 999},
            finished_minutes=10,
        )  # fmt: skip
        fx.run(s, "r2", m1, {sh["news"][0]: 1, sh["books"][1]: 5}, finished_minutes=20)
    return {"shards": sh, "m1": m1}


def _entries(tx: Tx) -> list[tuple[str, str, str, int]]:
    """(key-kind, source, contributor, amount) of every entry, in id order."""
    with tx() as s:
        rows = s.execute(
            select(LedgerEntry.terms_model, Source.name, Contributor.name, LedgerEntry.amount_minor)
            .join(Source, Source.id == LedgerEntry.source_id)
            .join(Contributor, Contributor.id == LedgerEntry.contributor_id)
            .order_by(LedgerEntry.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _audit_actions(tx: Tx) -> list[str]:
    with tx() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_settle_run_hand_computed(session_factory: Tx) -> None:
    _world(session_factory)
    with session_factory() as s:
        out = ledger.settle_run(s, "r1")
    # news: 1,234,567 tok x EUR 1.50 / 1e6 = EUR 1.8518505 = 185.18505 cents -> 185 (rounded once).
    #   split 0.3333 / 0.6667: exact 61.6605 / 123.3395 -> floors 61 + 123 = 184, one cent left
    #   -> larger remainder (.6605, alice) -> alice 62, bob 123.
    # books: flat EUR 50.00 = 5000 cents, r1 is the first run under m1: carol 3750, alice 1250.
    # forum: 500,000 tok x USD 2 / 1e6 = USD 1.00 = 100 cents -> bob 100.
    # free (none) and orphan (no contributors): nothing.
    assert sorted(_entries(session_factory)) == sorted(
        [
            ("per-mtok", "news", "alice", 62),
            ("per-mtok", "news", "bob", 123),
            ("flat", "books", "alice", 1250),
            ("flat", "books", "carol", 3750),
            ("per-mtok", "forum", "bob", 100),
        ]
    )
    assert [(m.currency, m.amount_minor) for m in out.totals] == [("EUR", 5185), ("USD", 100)]
    assert [m.formatted for m in out.totals] == ["51.85 EUR", "1.00 USD"]
    assert (out.entries_added, out.already_settled) == (5, False)
    by_name = {line.source: line for line in out.sources}
    assert by_name["news"].tokens == 1_234_567 and by_name["news"].amount_minor == 185
    assert by_name["orphan"].note and "no contributors" in by_name["orphan"].note
    assert _audit_actions(session_factory).count("ledger.settle") == 1


def test_settling_twice_adds_nothing_and_says_so(session_factory: Tx, engine: Engine) -> None:
    _world(session_factory)
    with session_factory() as s:
        first = ledger.settle_run(s, "r1")
    before = snapshot(engine)
    with session_factory() as s:
        again = ledger.settle_run(s, "r1")
    assert (again.already_settled, again.entries_added, again.entries_existing) == (True, 0, 5)
    assert again.totals == first.totals
    assert snapshot(engine) == before  # not even an audit row


def test_flat_fee_once_per_manifest_for_the_first_run(session_factory: Tx) -> None:
    world = _world(session_factory)
    # Settle the later run first: books is owed by r1 (finished first), so r2 pays nothing for it;
    # r2's news: 1 token x EUR 1.50 / 1e6 = 0.00015 cents -> rounds to 0 -> no entry at all.
    with session_factory() as s:
        r2 = ledger.settle_run(s, "r2")
    assert r2.entries_added == 0 and r2.totals == ()
    books = next(x for x in r2.sources if x.source == "books")
    assert books.note and "'r1'" in books.note
    with session_factory() as s:
        ledger.settle_run(s, "r1")
    flat = [e for e in _entries(session_factory) if e[0] == "flat"]
    assert sorted(flat) == [("flat", "books", "alice", 1250), ("flat", "books", "carol", 3750)]
    # A new manifest is a new use: its first run pays the flat fee again.
    with session_factory() as s:
        m2 = fx.manifest(s, "m2", world["shards"]["books"])
        fx.run(s, "r3", m2, {world["shards"]["books"][0]: 7})
    with session_factory() as s:
        assert ledger.settle_run(s, "r3").totals[0].amount_minor == 5000


def test_large_and_tiny_token_counts(session_factory: Tx) -> None:
    with session_factory() as s:
        src = fx.source(s, "big", "per-mtok:1.50:EUR", {"alice": "0.3333", "bob": "0.6667"})
        tiny = fx.source(s, "tiny", "per-mtok:0.01:JPY", {"carol": "1"})
        big_shard, tiny_shard = fx.shards(s, src)[0], fx.shards(s, tiny)[0]
        m = fx.manifest(s, "m", [big_shard, tiny_shard])
        fx.run(s, "huge", m, {big_shard: 10**12, tiny_shard: 49_999_999})
    with session_factory() as s:
        out = ledger.settle_run(s, "huge")
    # 10^12 tok x EUR 1.50 / 1e6 = EUR 1,500,000 = 150,000,000 cents; x 0.3333 = 49,995,000 exactly.
    # tiny: 49,999,999 tok x JPY 0.01 / 1e6 = 0.49999999 yen -> 0 (JPY has no minor unit).
    assert sorted(_entries(session_factory)) == [
        ("per-mtok", "big", "alice", 49_995_000),
        ("per-mtok", "big", "bob", 100_005_000),
    ]
    assert [(m.currency, m.amount_minor) for m in out.totals] == [("EUR", 150_000_000)]


def test_an_amount_beyond_the_ledger_is_a_clear_error_not_an_overflow(
    session_factory: Tx, engine: Engine
) -> None:
    """Issue 19, defect 4: terms of 1e30 EUR per Mtok made a run unsettleable (OverflowError)
    and 1e400 could not be stored on PostgreSQL. Such terms are refused when the source is
    added; the largest terms over the largest run are refused by the ledger, in one line."""
    with session_factory() as s, pytest.raises(InvalidInput, match="more than the limit"):
        fx.source(s, "absurd", "per-mtok:1e30:EUR", {"alice": "1"})
    with session_factory() as s:
        src = fx.source(s, "dear", "per-mtok:100000000000:EUR", {"alice": "1"})
        shard = fx.shards(s, src)[0]
        fx.run(s, "r", fx.manifest(s, "m", [shard]), {shard: 2**53 - 1})
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as err, session_factory() as s:
        ledger.settle_run(s, "r")
    assert "settling run 'r' comes to" in err.value.detail
    assert "more than the ledger's limit of 90071992547409.91 EUR" in err.value.detail
    assert snapshot(engine) == before


def test_three_equal_shares_of_one_cent(session_factory: Tx) -> None:
    thirds = {
        "c1": "0.333333333333333333333",
        "c2": "0.333333333333333333333",
        "c3": "0.333333333333333333334",
    }
    with session_factory() as s:
        src = fx.source(s, "cent", "per-mtok:1:EUR", thirds)
        shard = fx.shards(s, src)[0]
        fx.run(s, "r", fx.manifest(s, "m", [shard]), {shard: 10_000})
    with session_factory() as s:
        ledger.settle_run(s, "r")
    # 10,000 tok x EUR 1 / 1e6 = 1 cent; exact thirds 0.333.. each, c3 a hair larger -> c3 gets it.
    assert _entries(session_factory) == [("per-mtok", "cent", "c3", 1)]


def _pool_world(tx: Tx) -> str:
    with tx() as s:
        p1 = fx.source(s, "p1", "pool:0:EUR", {"alice": "1"})
        p2 = fx.source(s, "p2", "pool:0:EUR", {"bob": "0.5", "carol": "0.5"})
        a, b = fx.shards(s, p1)[0], fx.shards(s, p2)[0]
        m = fx.manifest(s, "pm", [a, b])
        fx.run(s, "pr1", m, {a: 60, b: 200}, finished_minutes=1)
        fx.run(s, "pr2", m, {a: 40}, finished_minutes=2)
        fx.run(s, "dead", m, {a: 10_000}, status="failed")  # not counted: not completed
    return m


def test_pool_split_by_tokens_then_shares(session_factory: Tx) -> None:
    m = _pool_world(session_factory)
    with session_factory() as s:
        pool = ledger.create_pool(s, manifest_hash=m, amount="10.00", currency="eur")
    with session_factory() as s:
        out = ledger.settle_pool(s, pool.id)
    # 1000 cents by tokens p1 = 60 + 40 = 100, p2 = 200: exact 333.33 / 666.67 -> 333 + 666 = 999,
    # one cent to the larger remainder (p2): p1 333, p2 667. p2 by 0.5 / 0.5: 333.5 each ->
    # 333 + 333, the tie to the lower contributor id (bob): bob 334, carol 333. Sum 1000.
    assert sorted(_entries(session_factory)) == [
        ("pool", "p1", "alice", 333),
        ("pool", "p2", "bob", 334),
        ("pool", "p2", "carol", 333),
    ]
    assert out.total.amount_minor == 1000 and [x.amount_minor for x in out.sources] == [333, 667]
    with session_factory() as s:
        assert ledger.settle_pool(s, pool.id).already_settled
    assert len(_entries(session_factory)) == 3
    # Settling a run skips pool sources: they are paid from pools.
    with session_factory() as s:
        assert ledger.settle_run(s, "pr1").entries_added == 0


def test_reversal_and_correction_append_and_never_edit(session_factory: Tx) -> None:
    _world(session_factory)
    with session_factory() as s:
        ledger.settle_run(s, "r1")
        forum_id = s.scalars(
            select(LedgerEntry.id).where(
                LedgerEntry.terms_model == "per-mtok", LedgerEntry.currency == "USD"
            )
        ).one()
        news_id = s.scalars(select(LedgerEntry.id).where(LedgerEntry.amount_minor == 62)).one()
    with session_factory() as s:
        rev = ledger.reverse_entry(s, forum_id, reason="shard was mislabelled")
    assert (rev.amount_minor, rev.kind, rev.reverses_id, rev.note) == (
        -100,
        "reversal",
        forum_id,
        "shard was mislabelled",
    )
    with pytest.raises(Conflict, match="already reversed"), session_factory() as s:
        ledger.reverse_entry(s, forum_id, reason="again")
    with pytest.raises(InvalidInput, match="itself a reversal"), session_factory() as s:
        ledger.reverse_entry(s, rev.id, reason="undo")
    with session_factory() as s:
        fixed = ledger.correct_entry(s, news_id, 70, reason="rate was 1.70")
    assert (fixed.reversal.amount_minor, fixed.charge.amount_minor) == (-62, 70)
    with session_factory() as s:
        out = ledger.statement(s, "bob")
        alice = ledger.statement(s, "alice")
    # bob: news 123 (EUR); forum 100 - 100 (USD) = 0.
    assert [(m.currency, m.amount_minor) for m in out.totals] == [("EUR", 123), ("USD", 0)]
    # alice: news 62 - 62 + 70 = 70, books 1250 -> EUR 1320.
    assert [(m.currency, m.amount_minor) for m in alice.totals] == [("EUR", 1320)]
    with session_factory() as s:  # the original rows are untouched
        assert s.get(LedgerEntry, news_id).amount_minor == 62  # type: ignore[union-attr]
    actions = _audit_actions(session_factory)
    assert actions.count("ledger.reverse") == 1 and actions.count("ledger.correct") == 1


def test_database_refuses_update_and_delete_of_entries(session_factory: Tx, engine: Engine) -> None:
    _world(session_factory)
    with session_factory() as s:
        ledger.settle_run(s, "r1")
    before = snapshot(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), session_factory() as s:
        s.execute(update(LedgerEntry).values(amount_minor=1_000_000))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), session_factory() as s:
        s.execute(sa.delete(LedgerEntry))
    assert snapshot(engine) == before


def _bad_inputs(world: dict[str, Any]) -> list[tuple[Callable[[Any], Any], type[Exception], str]]:
    return [
        (lambda s: ledger.settle_run(s, "nope"), NotFound, "unknown run 'nope'"),
        (lambda s: ledger.settle_run(s, "running"), Conflict, "is running"),
        (lambda s: ledger.settle_run(s, "failed"), Conflict, "is failed"),
        (lambda s: ledger.settle_run(s, "termless"), InvalidInput, "no compensation terms: 'bare'"),
        (lambda s: ledger.create_pool(s, manifest_hash="0" * 64, amount="1", currency="EUR"), NotFound, "unknown manifest"),
        (lambda s: ledger.create_pool(s, manifest_hash=world["m1"], amount="1.005", currency="EUR"), InvalidInput, "finer than"),
        (lambda s: ledger.create_pool(s, manifest_hash=world["m1"], amount="0", currency="EUR"), InvalidInput, "positive"),
        (lambda s: ledger.create_pool(s, manifest_hash=world["m1"], amount="1", currency="XYZ"), InvalidInput, "unknown currency"),
        (lambda s: ledger.settle_pool(s, world["usd_pool"]), InvalidInput, "currencies never mix"),
        (lambda s: ledger.settle_pool(s, 999), NotFound, "unknown pool"),
        (lambda s: ledger.reverse_entry(s, 999, reason="x"), NotFound, "unknown ledger entry"),
        (lambda s: ledger.reverse_entry(s, world["entry"], reason=" "), InvalidInput, "needs a reason"),
        (lambda s: ledger.correct_entry(s, world["entry"], -5, reason="x"), InvalidInput, "non-negative"),
        (lambda s: ledger.statement(s, "nobody"), NotFound, "unknown contributor"),
        (lambda s: ledger.statement(s, "alice", date_from=date(2026, 2, 1), date_to=date(2026, 1, 1)), InvalidInput, "after"),
    ]  # fmt: skip


def test_bad_input_is_a_clear_error_and_changes_nothing(
    session_factory: Tx, engine: Engine
) -> None:
    world = _world(session_factory)
    with session_factory() as s:
        bare = fx.source(s, "bare", None, {"alice": "1"})
        eur = fx.source(s, "pooled", "pool:0:EUR", {"bob": "1"})
        usd = fx.source(s, "pooled-usd", "pool:0:USD", {"carol": "1"})
        b, e, u = fx.shards(s, bare)[0], fx.shards(s, eur)[0], fx.shards(s, usd)[0]
        m = fx.manifest(s, "mt", [b, e, u])
        fx.run(s, "termless", m, {b: 5, world["shards"]["news"][0]: 5})
        fx.run(s, "running", m, {e: 5}, status="running")
        fx.run(s, "failed", m, {e: 5}, status="failed")
        pm = fx.manifest(s, "mp", [e, u])
        fx.run(s, "mixed", pm, {e: 5, u: 5})
        world["usd_pool"] = ledger.create_pool(s, manifest_hash=pm, amount="100", currency="EUR").id
        ledger.settle_run(s, "r1")
        world["entry"] = s.scalars(select(LedgerEntry.id).limit(1)).one()
    before = snapshot(engine)
    for call, error, message in _bad_inputs(world):
        with pytest.raises(error, match=message), session_factory() as s:
            call(s)
        assert snapshot(engine) == before, message


def test_statement_subtotals_totals_and_dates(session_factory: Tx) -> None:
    m = _pool_world(session_factory)
    _world(session_factory)
    with session_factory() as s:
        ledger.settle_run(s, "r1")
        pool = ledger.create_pool(s, manifest_hash=m, amount="10.00", currency="EUR")
        ledger.settle_pool(s, pool.id)
    with session_factory() as s:
        out = ledger.statement(s, "alice")
    # alice: r1 news 62 + books 1250 = 1312; pool p1 333 -> EUR 1645.
    assert [(r.run_id, r.pool_id, r.amount_minor) for r in out.by_run] == [
        (None, pool.id, 333),
        ("r1", None, 1312),
    ]
    assert sorted((x.source, x.amount_minor) for x in out.by_source) == [
        ("books", 1250),
        ("news", 62),
        ("p1", 333),
    ]
    assert [(t.currency, t.amount_minor) for t in out.totals] == [("EUR", 1645)]
    assert sum(e.amount_minor for e in out.entries) == 1645
    today = utcnow().date()
    with session_factory() as s:
        assert len(ledger.statement(s, "alice", date_from=today, date_to=today).entries) == 3
        assert ledger.statement(s, "alice", date_from=today + timedelta(days=1)).entries == ()
        assert ledger.statement(s, "alice", date_to=today - timedelta(days=1)).totals == ()
        summary = ledger.ledger_summary(s)
        public = ledger.public_aggregate(s, m)
        everything = ledger.public_aggregate(s)
    # All: EUR 5185 (r1) + 1000 (pool); USD 100. Compensated: alice, bob, carol.
    assert [(t.currency, t.amount_minor) for t in summary.totals] == [("EUR", 6185), ("USD", 100)]
    assert summary.contributors_compensated == 3 and summary.entries == 8
    assert [(t.currency, t.amount_minor) for t in public.totals] == [("EUR", 1000)]
    assert public.contributors_compensated == 3
    assert everything.totals == summary.totals
    assert set(public.model_dump()) == {"manifest_hash", "contributors_compensated", "totals"}


def test_cli_settle_statement_csv_json_and_summary(cli: Cli, session_factory: Tx) -> None:
    _world(session_factory)
    m = _pool_world(session_factory)
    assert "settled: 5 entries added" in cli("settle", "r1").stdout
    assert "already settled" in cli("settle", "r1").stdout
    created = json.loads(
        cli(
            "pool", "create", "--amount", "10", "--currency", "EUR", "--manifest", m, "--json"
        ).stdout
    )
    assert "3 entries, 10.00 EUR" in cli("pool", "settle", str(created["id"])).stdout

    rows = list(csv.DictReader(io.StringIO(cli("statement", "alice", "--format", "csv").stdout)))
    assert sorted((r["source"], r["amount_minor"], r["amount"]) for r in rows) == [
        ("books", "1250", "12.50"), ("news", "62", "0.62"), ("p1", "333", "3.33"),
    ]  # fmt: skip
    data = json.loads(cli("statement", "alice", "--format", "json").stdout)
    assert data["totals"] == [{"currency": "EUR", "amount_minor": 1645, "formatted": "16.45 EUR"}]
    assert "16.45 EUR" in cli("statement", "alice").stdout

    entry = next(int(r["id"]) for r in rows if r["source"] == "news")
    assert "-0.62 EUR" in cli("ledger", "reverse", str(entry), "--reason", "wrong rate").stdout
    again = cli("ledger", "reverse", str(entry), "--reason", "twice", ok=False)
    assert again.exit_code == 1 and "already reversed" in again.stderr
    summary = json.loads(cli("ledger", "summary", "--json").stdout)
    assert summary["totals"][0] == {
        "currency": "EUR",
        "amount_minor": 6185 - 62,
        "formatted": "61.23 EUR",
    }
    bad = cli("statement", "alice", "--from", "yesterday", ok=False)
    assert bad.exit_code == 1 and "not a date" in bad.stderr
    assert cli("settle", "nope", ok=False).stderr.startswith("provreg: error: unknown run 'nope'")
