"""The fault suite, bad input (issue 19, defect 6): a table of hostile and careless command
lines, each run through the real ``provreg`` command on SQLite and PostgreSQL.

Every one must exit non-zero with exactly one line on stderr, ``provreg: error: ...`` naming
what is wrong, no traceback, and leave the registry exactly as it was (``snapshot``). Most run
in process (``tests.conftest.Cli``, the same Typer app, a few ms each); ``SUBPROCESS`` runs a
sample again as real ``provreg`` processes, where an uncaught exception would print a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import Cli, snapshot

pytestmark = pytest.mark.faults

NFD_CAFE = "cafe\u0301"
LONG_LICENCE = "MIT OR " * 200 + "MIT"
SRC = ["source", "add", "new", "--uri", "https://x", "--kind", "web-crawl", "--licence", "MIT"]


def _source(*extra: str, name: str = "new") -> list[str]:
    return [
        "source",
        "add",
        name,
        "--uri",
        "https://x",
        "--kind",
        "web-crawl",
        "--licence",
        "MIT",
        *extra,
    ]


# (argv, a fragment of the one line on stderr)
BAD_INPUTS: list[tuple[list[str], str]] = [
    # contributors: the name rule and the column sizes, on both databases
    (
        ["contributor", "add", "x" * 201],
        "contributor name is 201 characters long; the limit is 200",
    ),
    (["contributor", "add", "x" * 100_000], "contributor name is 100,000 characters long"),
    (["contributor", "add", ""], "contributor name is empty"),
    (["contributor", "add", "   "], "contributor name is empty"),
    (["contributor", "add", "a/b"], "a name must be one segment of a URL path"),
    (["contributor", "add", "a\\b"], "holds a backslash"),
    (["contributor", "add", ".."], "'..' segment"),
    (["contributor", "add", "tab\there"], "control character U+0009"),
    (["contributor", "add", "esc\x1b[31m"], "control character U+001B"),
    (["contributor", "add", "rtl\u202eoverride"], "control character U+202E"),
    (["contributor", "add", NFD_CAFE], "contributor 'café' already exists"),
    (["contributor", "add", "ok", "--contact", "c" * 301], "contributor contact is 301 characters"),
    (["contributor", "add", "ok", "--payout-ref", "p" * 201], "payout reference is 201 characters"),
    (["contributor", "add", "ok", "--kind", "robot"], "unknown contributor kind 'robot'"),
    # sources: every field's limit
    (_source(name="n" * 201), "source name: String should have at most 200 characters"),
    (_source(name="a/b"), "a name must be one segment of a URL path"),
    (_source(name="taken"), "source 'taken' already exists"),
    (_source("--uri", ""), "source uri: String should have at least 1 character"),
    (_source("--uri", "u" * 2001), "source uri: String should have at most 2000 characters"),
    (_source("--licence", LONG_LICENCE), "source licence: String should have at most 1000"),
    (_source("--licence", "MIT OR"), "invalid licence expression"),
    (_source("--jurisdiction", "j" * 101), "source jurisdiction: String should have at most 100"),
    (_source("--description", "d" * 10_001), "source description: String should have at most"),
    (_source("--pii-measures", "p" * 10_001), "source pii_measures: String should have at most"),
    (_source("--collected-from", "2024-13-40"), "is not a date"),
    (_source("--kind", "scraped"), "unknown source kind 'scraped'"),
    (_source("--consent", "maybe"), "unknown consent status 'maybe'"),
    # terms: bounded amounts, exact digits
    (_source("--terms", "per-mtok:1e400:EUR"), "terms amount 1e400 is more than the limit"),
    (_source("--terms", "per-mtok:1e30:EUR"), "terms amount 1e30 is more than the limit"),
    (_source("--terms", "per-mtok:1e999999999:EUR"), "terms amount 1e999999999 is more than"),
    (_source("--terms", "per-mtok:1e9999999999999999999:EUR"), "is not a number"),
    (_source("--terms", "per-mtok:1e-400:EUR"), "has 400 decimal places; at most 12"),
    (_source("--terms", "per-mtok:NaN:EUR"), "is not a finite number"),
    (_source("--terms", "per-mtok:-1:EUR"), "must be non-negative"),
    (_source("--terms", "flat:500:XYZ"), "unknown currency 'XYZ'"),
    (_source("--terms", "flat:" + "9" * 200 + ":EUR"), "characters long; not an amount"),
    (_source("--terms", "barter:1:EUR"), "unknown compensation model"),
    # shares: summed exactly, digits bounded
    (
        _source(
            "--contributor", "alice=0.5", "--contributor", "bob=0.50000000000000000000000000001"
        ),
        "they sum to 1.00000000000000000000000000001",
    ),
    (_source("--contributor", "alice=1e-400", "--contributor", "bob=1"), "400 decimal places"),
    (_source("--contributor", "alice=1e999999999"), "1,000,000,000 digits before the point"),
    (_source("--contributor", "alice=0.5", "--contributor", "bob=0.4"), "they sum to 0.9"),
    (_source("--contributor", "alice=1", "--contributor", f"{NFD_CAFE}=0"), "must be positive"),
    (_source("--contributor", "alice=0.5", "--contributor", "alice=0.5"), "listed twice"),
    (_source("--contributor", "nobody=1"), "unknown contributor 'nobody'"),
    (_source("--contributor", "=1"), "is not NAME=SHARE"),
    # ingest: sizes without floats
    (
        ["ingest", "{data}", "--source", "taken", "--dataset", "d", "--shard-size", "1e400"],
        "is more than the limit of 1,099,511,627,776 bytes",
    ),
    (
        ["ingest", "{data}", "--source", "taken", "--dataset", "d", "--shard-size", "1e999999999"],
        "is more than the limit",
    ),
    (
        ["ingest", "{data}", "--source", "taken", "--dataset", "d", "--shard-size", "nan"],
        "is not a size",
    ),
    (
        ["ingest", "{data}", "--source", "taken", "--dataset", "d", "--shard-size", "-5"],
        "must be positive",
    ),
    (["ingest", "{data}", "--source", "taken", "--dataset", "a/../b"], "'..' segment"),
    (["ingest", "{data}", "--source", "nobody", "--dataset", "d"], "unknown source 'nobody'"),
    # tokens, manifests, pools, training
    (["token", "create", "--role", "reader", "--name", "a/b"], "a name must be one segment"),
    (["token", "create", "--role", "reader", "--name", "bell\x07"], "control character U+0007"),
    (["token", "create", "--role", "reader", "--name", "t" * 201], "token name is 201 characters"),
    (["token", "create", "--role", "wizard"], "unknown role 'wizard'"),
    (["token", "revoke", "nobody\x7f"], "unknown token"),
    (
        ["manifest", "create", "--name", "a/b", "--use", "research", "--dataset", "code"],
        "a name must be one segment",
    ),
    (
        ["manifest", "create", "--name", "m" * 201, "--use", "research", "--dataset", "code"],
        "at most 200 characters",
    ),
    (
        ["manifest", "create", "--name", "m2", "--use", "world-domination", "--dataset", "code"],
        "unknown intended use",
    ),
    (
        ["pool", "create", "--amount", "1e400", "--currency", "EUR", "--manifest", "{manifest}"],
        "pool amount 1e400 is more than the limit",
    ),
    (
        ["pool", "create", "--amount", "1e-400", "--currency", "EUR", "--manifest", "{manifest}"],
        "400 decimal places",
    ),
    (
        ["train", "--manifest", "m", "--steps", str(10**15), "--batch-size", str(10**6)],
        "would consume more than",
    ),
    (["train", "--manifest", "m", "--steps", "0"], "steps must be an int >= 1"),
]

# A sample run as real processes (about a second each).
SUBPROCESS = [4, 29, 46]


@pytest.fixture
def world(cli: Cli, tmp_path: Path) -> dict[str, str]:
    """Two contributors ('alice', 'café'), a source 'taken' with one shard ingested into dataset
    'code', a manifest 'm' over it, and an input file for ingest."""
    cli("contributor", "add", "alice")
    cli("contributor", "add", "bob")
    cli("contributor", "add", "caf\u00e9")
    cli("source", "add", "taken", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": f"record {i}"}) + "\n" for i in range(20)))
    cli("ingest", str(data), "--source", "taken", "--dataset", "code")
    made = cli(
        "manifest", "create", "--name", "m", "--use", "research", "--dataset", "code", "--json"
    )
    return {"data": str(data), "manifest": json.loads(made.stdout)["hash"]}


def _argv(argv: list[str], world: dict[str, str]) -> list[str]:
    return [a.format(**world) if a.startswith("{") else a for a in argv]


def _check(argv: list[str], code: int, stderr: str, fragment: str) -> str | None:
    """What is wrong with one refusal, or None."""
    lines = stderr.strip("\n").splitlines()
    shown = " ".join(a if len(a) < 40 else a[:37] + "..." for a in argv)
    if code == 0:
        return f"{shown}: exit 0"
    if "Traceback" in stderr:
        return f"{shown}: traceback\n{stderr}"
    if len(lines) != 1 or not lines[0].startswith("provreg: error: "):
        return f"{shown}: not one error line: {stderr!r}"
    if fragment not in lines[0]:
        return f"{shown}: {lines[0]!r} lacks {fragment!r}"
    return None


def test_every_bad_input_is_one_line_and_changes_nothing(
    cli: Cli, engine: Engine, world: dict[str, str]
) -> None:
    before = snapshot(engine)
    problems = []
    for argv, fragment in BAD_INPUTS:
        result = cli(*_argv(argv, world), ok=False)
        problems.append(_check(argv, result.exit_code, result.stderr, fragment))
        if snapshot(engine) != before:
            problems.append(f"{argv[:3]}: the registry changed")
            before = snapshot(engine)
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
    print(f"fault suite: {len(BAD_INPUTS)} bad command lines refused in one line, 0 tracebacks")


def test_a_sample_as_real_processes(cli: Cli, engine: Engine, world: dict[str, str]) -> None:
    before = snapshot(engine)
    env = os.environ | cli.env
    problems = []
    for i in SUBPROCESS:
        argv, fragment = BAD_INPUTS[i]
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", *_argv(argv, world)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        problems.append(_check(argv, proc.returncode, proc.stderr, fragment))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
    assert snapshot(engine) == before
