"""Paying authors by the tokens trained on their records: exact attribution, settlement,
merging an author key, usage, and bad input that changes nothing. Real ingest, real files.

The shard (one, in file order), tokens = UTF-8 bytes + 1 end-of-text:
r0 ann 10, r1 bob 20, r2 (no author) 30, r3 ann 40: 100 tokens a pass.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from registry import ledger
from registry.catalogue import authors, contributors, sources
from registry.db.models import (
    AuthorConsumption,
    Contributor,
    LedgerEntry,
    SourceAuthor,
    TrainingRun,
)
from registry.entities.manifests import ManifestIn
from registry.errors import Conflict, InvalidInput, NotFound
from registry.manifests import create_manifest
from registry.shards.ingest import ingest_paths
from registry.shards.record_fields import RecordFields
from registry.shards.store import ShardStore
from tests.conftest import snapshot
from tests.registry.factories import consume

RECORDS = [("ann", "a" * 9), ("bob", "b" * 19), ("", "c" * 29), ("ann", "d" * 39)]
URLS = [f"https://forum.example/{i}" for i in range(4)]
# rate EUR 1000/Mtok = 0.1 cent a token


def _world(tx: Any, tmp: Path, pay: str = "0.7") -> tuple[ShardStore, str, str]:
    store = ShardStore(tmp / "store")
    path = tmp / "forum.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": t, "url": u, "author": a}) + "\n"
            for (a, t), u in zip(RECORDS, URLS, strict=True)
        ),
        "utf-8",
    )
    with tx() as s:
        for name in ("pub", "ops", "robert"):
            contributors.add_contributor(s, name=name)
        sources.add_source(
            s,
            sources.SourceIn(
                name="forum",
                uri="https://forum.example",
                kind="user-contributed",
                licence="MIT",
                contributors=[
                    sources.ShareIn(contributor="pub", share=Decimal("0.6")),
                    sources.ShareIn(contributor="ops", share=Decimal("0.4")),
                ],
                terms=sources.parse_terms("per-mtok:1000:EUR"),
                pay_authors=Decimal(pay),
            ),
        )
        report = ingest_paths(
            s, store, [path], source="forum", dataset="forum@1",
            fields=RecordFields(url="url", author="author"),
        )  # fmt: skip
        (shard,) = report.shard_ids
        m = create_manifest(s, ManifestIn(name="m", intended_use="research", datasets=["forum@1"]))
    return store, shard, m.hash


def _run(tx: Any, run_id: str, manifest: str, shard: str, tokens: int, records: int) -> None:
    with tx() as s:
        s.execute(insert(TrainingRun), [{
            "id": run_id, "manifest_hash": manifest, "status": "completed", "config": "{}",
            "seed": 0, "tokenizer": "provreg.bytes/1", "code_version": "test", "steps_done": 1,
        }])  # fmt: skip
        consume(s, run_id, {shard: (tokens, records)})


def _paid(tx: Any, run_id: str) -> dict[str, int]:
    with tx() as s:
        rows = s.execute(
            select(Contributor.name, LedgerEntry.amount_minor)
            .join(Contributor, Contributor.id == LedgerEntry.contributor_id)
            .where(LedgerEntry.run_id == run_id)
        ).all()
    return dict(rows)


def test_authors_become_contributors_on_first_ingest(session_factory: Any, tmp_path: Path) -> None:
    _world(session_factory, tmp_path)
    with session_factory() as s:
        query = select(Contributor.name, Contributor.kind).where(Contributor.kind == "author")
        made = {name: kind for name, kind in s.execute(query)}
    assert made == {"forum:ann": "author", "forum:bob": "author"}  # no contributor for no author


def test_two_epochs_and_a_cut_record_pay_authors_exactly(
    session_factory: Any, tmp_path: Path
) -> None:
    store, shard, m = _world(session_factory, tmp_path)
    # one whole pass (100) + a prefix of 45: r0 10, r1 20, r2 cut at 15 of 30; 4 + 2 records done
    _run(session_factory, "r1", m, shard, 145, 6)
    with session_factory() as s:
        out = ledger.settle_run(s, "r1", store=store)
    with session_factory() as s:
        query = select(AuthorConsumption.author, AuthorConsumption.tokens)
        by_author = {author: tokens for author, tokens in s.execute(query)}
    # ann 10+40+10, bob 20+20, no author 30+15: the sum is the shard's consumption
    assert by_author == {"ann": 60, "bob": 40, "": 45}  # of the source (its one shard)
    assert sum(by_author.values()) == 145
    # 145 tokens x 0.1 cent = 14.5 -> 14 (half even). Weights x145: ann 0.7x60=42, bob 28,
    # pub (145-70)x0.6=45, ops 30. Exact: 4.055, 2.703, 4.345, 2.897 -> floors 4,2,4,2 (12);
    # the 2 cents left go to the largest remainders, ops (.897) and bob (.703).
    assert out.totals[0].amount_minor == 14
    assert _paid(session_factory, "r1") == {"forum:ann": 4, "forum:bob": 3, "pub": 4, "ops": 3}
    with session_factory() as s:
        again = ledger.settle_run(s, "r1", store=store)
    assert again.already_settled and again.entries_added == 0
    assert _paid(session_factory, "r1") == {"forum:ann": 4, "forum:bob": 3, "pub": 4, "ops": 3}


def test_whole_passes_need_no_file_and_merging_an_author_key(
    session_factory: Any, tmp_path: Path
) -> None:
    _, shard, m = _world(session_factory, tmp_path, pay="1")
    with session_factory() as s:
        link = authors.link_author(s, "forum:bob", "robert")
    assert (link.contributor, link.was) == ("robert", "forum:bob")
    _run(session_factory, "r2", m, shard, 2000, 80)  # 20 passes: 2000 tokens = 200 cents
    with session_factory() as s:
        ledger.settle_run(s, "r2", store=None)  # whole passes: the per-author sums suffice
    # pay 1: authors take all by tokens, no-author tokens (600) to pub/ops by share:
    # ann 1000, robert 400, rest 600 x (0.6, 0.4) -> 200 x (0.5, 0.2, 0.18, 0.12)
    assert _paid(session_factory, "r2") == {"forum:ann": 100, "robert": 40, "pub": 36, "ops": 24}


def test_consumption_that_is_not_a_prefix_is_refused(session_factory: Any, tmp_path: Path) -> None:
    store, shard, m = _world(session_factory, tmp_path)
    _run(session_factory, "r3", m, shard, 45, 1)  # 45 tokens complete 2 records, not 1
    with pytest.raises(Conflict, match="not whole passes plus one prefix"), session_factory() as s:
        ledger.settle_run(s, "r3", store=store)


def test_usage_lists_the_records_consumed(session_factory: Any, tmp_path: Path) -> None:
    store, shard, m = _world(session_factory, tmp_path)
    _run(session_factory, "r1", m, shard, 145, 6)
    with session_factory() as s:
        ledger.settle_run(s, "r1", store=store)
    with session_factory() as s:
        out = ledger.usage(s, "forum:ann", store=store)
    assert out.tokens == 60
    (run,) = out.runs
    assert (run.run_id, run.manifest_hash, run.tokens) == ("r1", m, 60)
    assert [(r.url, r.tokens) for r in run.records] == [(URLS[0], 20), (URLS[3], 40)]


@pytest.mark.parametrize(
    ("pay", "match"),
    [
        ("0", "authors' share"),
        ("1.5", r"in \(0, 1\]"),
        ("-0.1", "authors' share"),
        ("abc", "not a number"),
    ],
)
def test_bad_pay_authors_changes_nothing(
    session_factory: Any, engine: Engine, pay: str, match: str
) -> None:
    with session_factory() as s:
        contributors.add_contributor(s, name="pub")
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match=match), session_factory() as s:
        sources.add_source(
            s,
            sources.SourceIn(
                name="forum", uri="https://f.example", kind="user-contributed", licence="MIT",
                contributors=[sources.ShareIn(contributor="pub", share=Decimal(1))],
                pay_authors=sources.parse_pay_authors(pay),
            ),
        )  # fmt: skip
    assert snapshot(engine) == before


def test_pay_below_one_needs_source_contributors(session_factory: Any, engine: Engine) -> None:
    before = snapshot(engine)
    with (
        pytest.raises(InvalidInput, match="needs source-level contributors"),
        session_factory() as s,
    ):
        sources.add_source(
            s,
            sources.SourceIn(
                name="forum", uri="https://f.example", kind="user-contributed", licence="MIT",
                pay_authors=Decimal("0.7"),
            ),
        )  # fmt: skip
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("ref", "name", "error", "match"),
    [
        ("forum:nobody", "robert", NotFound, "no author 'nobody'"),
        ("forum:bob", "nobody", NotFound, "nobody"),
        ("nowhere:bob", "robert", NotFound, "nowhere"),
        ("forum-bob", "robert", InvalidInput, "SOURCE:KEY"),
    ],
)
def test_bad_links_change_nothing(
    session_factory: Any,
    engine: Engine,
    tmp_path: Path,
    ref: str,
    name: str,
    error: type,
    match: str,
) -> None:
    _world(session_factory, tmp_path)
    before = snapshot(engine)
    with pytest.raises(error, match=match), session_factory() as s:
        authors.link_author(s, ref, name)
    assert snapshot(engine) == before


def test_one_person_in_two_sources_gets_one_statement(session_factory: Any, tmp_path: Path) -> None:
    store, shard, _ = _world(session_factory, tmp_path, pay="1")
    code = tmp_path / "code.jsonl"
    code.write_text(json.dumps({"text": "e" * 49, "author": "bob"}) + "\n", "utf-8")  # 50 tokens
    with session_factory() as s:
        sources.add_source(
            s,
            sources.SourceIn(
                name="code", uri="https://code.example", kind="user-contributed", licence="MIT",
                terms=sources.parse_terms("per-mtok:1000:EUR"), pay_authors=Decimal(1),
            ),
        )  # fmt: skip
        (other,) = ingest_paths(
            s, store, [code], source="code", dataset="code@1", fields=RecordFields(author="author")
        ).shard_ids
        m2 = create_manifest(
            s, ManifestIn(name="m2", intended_use="research", datasets=["forum@1", "code@1"])
        )
        for key in ("forum:bob", "code:bob"):
            authors.link_author(s, key, "robert")
    _run(session_factory, "r4", m2.hash, shard, 1000, 40)  # 10 passes: 100 cents, bob 200 tokens
    with session_factory() as s:
        consume(s, "r4", {other: (100, 2)})  # 10 cents
    with session_factory() as s:
        ledger.settle_run(s, "r4", store=store)
        out = ledger.statement(s, "robert")
    # forum: bob 200 of 1000 tokens -> 20 cents; code: bob's every token -> 10 cents
    assert sorted((e.source, e.amount_minor) for e in out.entries) == [("code", 10), ("forum", 20)]
    assert out.by_run[0].record_tokens == 200 + 100


def test_an_author_name_taken_by_a_contributor_is_not_paid_to_it(
    session_factory: Any, tmp_path: Path
) -> None:
    import hashlib

    with session_factory() as s:
        contributors.add_contributor(s, name="forum:ann")  # a curator's, not ann's key
    _world(session_factory, tmp_path)
    hashed = f"forum:sha256-{hashlib.sha256(b'ann').hexdigest()[:16]}"
    with session_factory() as s:
        kinds = {n: k for n, k in s.execute(select(Contributor.name, Contributor.kind))}
        linked = s.scalars(
            select(Contributor)
            .join(SourceAuthor, SourceAuthor.contributor_id == Contributor.id)
            .where(SourceAuthor.author == "ann")
        ).one()
    assert (kinds["forum:ann"], kinds[hashed], kinds["forum:bob"]) == ("person", "author", "author")
    assert linked.name == hashed


def test_an_author_name_with_no_free_form_is_a_clear_error_and_changes_nothing(
    session_factory: Any, engine: Engine, tmp_path: Path
) -> None:
    import hashlib

    hashed = f"forum:sha256-{hashlib.sha256(b'ann').hexdigest()[:16]}"
    with session_factory() as s:
        for name in ("forum:ann", hashed):
            contributors.add_contributor(s, name=name)
    before = snapshot(engine)
    with pytest.raises(Conflict, match=f"contributor '{hashed}' already exists"):
        _world(session_factory, tmp_path)
    assert snapshot(engine) == before
