"""Contributors and sources, through the services and through the real CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from registry.catalogue import contributors, sources
from registry.errors import Conflict, InvalidInput, NotFound
from tests.conftest import Cli, snapshot


def _spec(**kw: object) -> sources.SourceIn:
    base: dict[str, object] = {
        "name": "crawl",
        "uri": "https://example.org",
        "kind": "web-crawl",
        "licence": "MIT",
    }
    return sources.SourceIn(**(base | kw))


def test_source_with_contributors_and_terms_round_trips(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        contributors.add_contributor(s, name="alice", contact="alice@example.org")
        contributors.add_contributor(s, name="acme", kind="organisation")
        out = sources.add_source(
            s,
            _spec(
                licence="mit or apache-2.0",
                contributors=[
                    sources.parse_share("alice=0.3333"),
                    sources.parse_share("acme=0.6667"),
                ],
                terms=sources.parse_terms("per-mtok:1.50:eur"),
            ),
        )
    assert out.licence == "MIT OR Apache-2.0"
    with session_factory() as s:
        got = sources.get_source(s, "crawl")
    assert got == out
    assert [(c.contributor, c.share) for c in got.contributors] == [
        ("alice", Decimal("0.3333")),
        ("acme", Decimal("0.6667")),
    ]
    assert got.terms is not None and (got.terms.model, got.terms.amount, got.terms.currency) == (
        "per-mtok",
        Decimal("1.50"),
        "EUR",
    )


def test_exact_shares_are_not_rounded_through_floats(session_factory) -> None:  # type: ignore[no-untyped-def]
    thirds = ["0.333333333333333333333", "0.333333333333333333333", "0.333333333333333333334"]
    with session_factory() as s:
        for i in range(3):
            contributors.add_contributor(s, name=f"c{i}")
        sources.add_source(
            s,
            _spec(
                contributors=[
                    sources.ShareIn(contributor=f"c{i}", share=Decimal(t))
                    for i, t in enumerate(thirds)
                ]
            ),
        )
    with session_factory() as s:
        assert [str(c.share) for c in sources.get_source(s, "crawl").contributors] == thirds


BAD_SOURCE_ADDS = [
    (["--licence", "MIT OR"], "invalid licence expression"),
    (["--licence", "Bogus-1.0"], "not in the registry"),
    (["--contributor", "alice=0.5"], "sum to exactly 1"),
    (["--contributor", "alice=1.5", "--contributor", "bob=-0.5"], "must be positive"),
    (["--contributor", "nobody=1"], "unknown contributor 'nobody'"),
    (["--terms", "per-mtok:-1:EUR"], "non-negative"),
    (["--terms", "flat:500:XYZ"], "unknown currency 'XYZ'"),
    (["--terms", "flat:five:EUR"], "not a number"),
    (["--terms", "barter:1:EUR"], "unknown compensation model"),
    (["--kind", "scraped"], "unknown source kind"),
    (["--name", "taken"], "already exists"),
    # issue 19, defect 5: shares are summed exactly, and have bounded digits
    (
        ["--contributor", "alice=0.5", "--contributor", "bob=0.50000000000000000000000000001"],
        "they sum to 1.00000000000000000000000000001",
    ),
    (
        ["--contributor", "alice=1e-400", "--contributor", "bob=1"],
        "has 400 decimal places; at most 30 are allowed",
    ),
    (["--contributor", "alice=1e999999999"], "has 1,000,000,000 digits before the point"),
    # issue 19, defect 6: every limit is one line, never a traceback
    (["--licence", "MIT OR " * 200 + "MIT"], "source licence: String should have at most 1000"),
    (["--uri", ""], "source uri: String should have at least 1 character"),
    (["--uri", "u" * 2001], "source uri: String should have at most 2000 characters"),
    (["--name", "n" * 201], "source name: String should have at most 200 characters"),
    (["--jurisdiction", "j" * 101], "source jurisdiction: String should have at most 100"),
    (["--terms", "per-mtok:1e400:EUR"], "terms amount 1e400 is more than the limit of"),
    (["--terms", "per-mtok:1e30:EUR"], "terms amount 1e30 is more than the limit of"),
    (["--terms", "per-mtok:1e999999999:EUR"], "terms amount 1e999999999 is more than the limit"),
    (["--terms", "flat:0.0000000000001:EUR"], "has 13 decimal places; at most 12"),
    (["--name", "a/b"], "a name must be one segment of a URL path"),
]


@pytest.mark.parametrize(("args", "message"), BAD_SOURCE_ADDS)
def test_bad_source_input_is_one_clear_line_and_changes_nothing(
    cli: Cli, engine: Engine, args: list[str], message: str
) -> None:
    cli("contributor", "add", "alice")
    cli("contributor", "add", "bob")
    cli("source", "add", "taken", "--uri", "u", "--kind", "synthetic", "--licence", "CC0-1.0")
    before = snapshot(engine)

    opts = {"--name": "new", "--kind": "web-crawl", "--licence": "MIT"}
    extra: list[str] = []
    it = iter(args)
    for flag in it:
        value = next(it)
        if flag in opts and flag != "--contributor":
            opts[flag] = value
        else:
            extra += [flag, value]
    name = opts.pop("--name")
    argv = (
        ["source", "add", name, "--uri", "https://x"]
        + [x for kv in opts.items() for x in kv]
        + extra
    )
    result = cli(*argv, ok=False)

    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("provreg: error: ")
    assert snapshot(engine) == before


def test_duplicate_contributor_is_a_conflict(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        contributors.add_contributor(s, name="alice")
    with pytest.raises(Conflict), session_factory() as s:
        contributors.add_contributor(s, name="alice")
    with pytest.raises(InvalidInput), session_factory() as s:
        contributors.add_contributor(s, name="bob", kind="robot")
    with pytest.raises(NotFound), session_factory() as s:
        sources.get_source(s, "nope")


def test_cli_json_output_for_scripts(cli: Cli) -> None:
    cli("contributor", "add", "alice", "--kind", "person", "--payout-ref", "IBAN-1")
    cli(
        "source",
        "add",
        "corpus",
        "--uri",
        "file:///c",
        "--kind",
        "public-dataset",
        "--licence",
        "CC-BY-4.0",
        "--contributor",
        "alice=1",
        "--terms",
        "flat:500:usd",
        "--collected-from",
        "2024-01-01",
        "--collected-to",
        "2024-06-30",
        "--tdm-checked",
        "--tdm-respected",
        "--consent",
        "consented",
    )
    shown = json.loads(cli("source", "show", "corpus", "--json").stdout)
    assert shown["licence"] == "CC-BY-4.0"
    assert shown["terms"] == {"model": "flat", "amount": "500", "currency": "USD"}
    assert shown["collected_from"] == "2024-01-01" and shown["tdm_respected"] is True
    listed = json.loads(cli("source", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["corpus"]
    licences = json.loads(cli("licence", "list", "--json").stdout)
    assert len(licences) >= 40
    by_id = {row["spdx_id"]: row for row in licences}
    assert by_id["CC-BY-NC-4.0"]["non_commercial"] and not by_id["CC-BY-NC-4.0"]["commercial_use"]
    assert {"LicenseRef-unknown", "LicenseRef-proprietary"} <= set(by_id)
