"""``provreg source add --pay-authors``, ``contributor link`` and ``contributor usage`` as a
user runs them, against a real database and store; bad input is one line and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, insert

from registry.db.engine import transaction
from registry.db.models import Shard, TrainingRun
from tests.conftest import Cli, snapshot
from tests.registry.factories import consume

SOURCE = ["source", "add", "forum", "--uri", "https://forum.example", "--kind",
          "user-contributed", "--licence", "MIT", "--terms", "per-mtok:1000:EUR"]  # fmt: skip


def test_pay_authors_link_and_usage(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    cli("contributor", "add", "pub")
    cli("contributor", "add", "robert")
    before = snapshot(engine)
    bad = cli(*SOURCE, "--contributor", "pub=1", "--pay-authors", "1.5", ok=False)
    assert bad.exit_code == 1 and "in (0, 1]" in bad.output and "--pay-authors" in bad.output
    bad = cli(*SOURCE, "--pay-authors", "0.5", ok=False)
    assert "needs source-level contributors" in bad.output and "--contributor" in bad.output
    assert snapshot(engine) == before

    cli(*SOURCE, "--contributor", "pub=1", "--pay-authors", "0.5")
    data = tmp_path / "forum.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": t, "url": f"https://forum.example/{i}", "author": a}) + "\n"
            for i, (a, t) in enumerate([("ann", "a" * 9), ("bob", "b" * 89)])
        )
    )
    cli("ingest", str(data), "--source", "forum", "--dataset", "forum@1",
        "--url-field", "url", "--author-field", "author")  # fmt: skip
    before = snapshot(engine)
    assert "no author 'zed'" in cli("contributor", "link", "forum:zed", "robert", ok=False).output
    assert snapshot(engine) == before
    cli("contributor", "link", "forum:bob", "robert")
    manifest = json.loads(
        cli("manifest", "create", "--name", "m", "--use", "research", "--dataset", "forum@1",
            "--json").output
    )["hash"]  # fmt: skip
    with transaction(engine, actor="test") as s:
        (shard,) = s.scalars(Shard.__table__.select().with_only_columns(Shard.id)).all()
        s.execute(insert(TrainingRun), [{
            "id": "r1", "manifest_hash": manifest, "status": "completed", "config": "{}",
            "seed": 0, "tokenizer": "provreg.bytes/1", "code_version": "t", "steps_done": 1,
        }])  # fmt: skip
        consume(s, "r1", {shard: (200, 4)})
    cli("settle", "r1")  # 200 tokens = 20 cents: authors 10 (ann 1, robert 9), pub 10
    statement = json.loads(cli("statement", "robert", "--format", "json").output)
    assert statement["totals"][0]["amount_minor"] == 9
    assert statement["by_run"][0]["record_tokens"] == 180  # bob's 2 passes of 90 tokens
    usage = json.loads(cli("contributor", "usage", "robert", "--json").output)
    assert usage["tokens"] == 180
    assert [(r["url"], r["tokens"]) for r in usage["runs"][0]["records"]] == [
        ("https://forum.example/1", 180)
    ]
