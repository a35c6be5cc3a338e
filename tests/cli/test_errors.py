"""A domain error is one line on stderr, and the CLI adds its own flags to it (the same error
over HTTP names none: tests/api/test_problems.py)."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from cli.main import ADVICE, error_line
from registry.errors import InvalidInput, NotFound
from tests.conftest import Cli, snapshot

FLAG = re.compile(r"(?<![\w-])--[a-z]")


def test_error_line_adds_the_cli_advice_for_a_known_field() -> None:
    exc = InvalidInput("a manifest needs at least one dataset", field="manifest.selection")
    assert error_line(exc) == (
        "provreg: error: a manifest needs at least one dataset "
        "(give --dataset, --shard or --shards-from)"
    )
    assert error_line(NotFound("unknown source 'x'")) == "provreg: error: unknown source 'x'"


def test_every_advice_names_a_flag() -> None:
    assert ADVICE and all(FLAG.search(advice) for advice in ADVICE.values())


def test_a_manifest_without_shards_gets_the_flags_on_the_cli(cli: Cli, engine: Engine) -> None:
    before = snapshot(engine)
    result = cli("manifest", "create", "--name", "m", "--use", "research", ok=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "provreg: error: a manifest needs at least one dataset, shard or list of shards "
        "(give --dataset, --shard or --shards-from)"
    ]
    assert snapshot(engine) == before
