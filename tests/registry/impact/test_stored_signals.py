"""Opt-outs arriving after ingest: ``signals add`` prints what the origin's stored records
reached and the takedown command; ``signals check --all`` lists exactly the stored records a
later observation disallows (per URL, from the shard files), and then the takedown applies."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import Cli
from tests.registry.impact.world import World, build


def test_a_later_opt_out_lists_the_records_and_the_command(
    cli: Cli, session_factory: object, tmp_path: Path
) -> None:
    world: World = build(session_factory, tmp_path)  # type: ignore[arg-type]
    assert "0 stored record(s)" in cli("signals", "check", "--all").output
    time.sleep(1.1)  # observation times are whole seconds: one after the ingest
    now = datetime.now(UTC).isoformat(timespec="seconds")
    robots = tmp_path / "robots.txt"
    robots.write_text("User-agent: *\nDisallow: /2\n")  # beta.org/2 only, not /1 or /3
    added = cli("signals", "add", "https://beta.org", "--robots", str(robots),
                "--observed-at", now)  # fmt: skip
    assert "stored: 3 record(s) of beta.org in 3 shard(s)" in added.output
    assert "https://beta.org/2" in added.output and "provreg takedown --url" in added.output
    listed = json.loads(cli("signals", "check", "--all", "--json").stdout)
    assert [(r["url"], r["shard_id"]) for r in listed] == [("https://beta.org/2", world.shards[1])]
    cli("takedown", "--url", "https://beta.org/2", "--reason", "robots.txt")
    assert "0 stored record(s)" in cli("signals", "check", "--all").output
    bad = cli("signals", "check", ok=False)
    assert bad.exit_code == 1 and "give a URL or --all" in bad.output
