"""Re-judging shards through their domain sums against observations made since ingest."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.signals import evaluate as ev
from registry.signals.rejudge import DomainRow, rejudge
from registry.signals.vocab import CURRENT


def t(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def registrable(host: str) -> str:  # enough for these hosts; ingest uses the PSL
    return ".".join(host.split(".")[-2:])


def robots(id_: int, origin: str, text: bytes, day: int) -> ev.ObservationFact:
    return ev.ObservationFact(id_, origin, ev.ROBOTS, t(day), text, CURRENT)


NO = b"User-agent: *\nContent-Usage: train-ai=n\n"
YES = b"User-agent: *\nContent-Usage: train-ai=y\n"


def test_a_later_disallow_of_the_whole_origin_is_a_violation() -> None:
    rows = [
        DomainRow("a" * 64, "example.org", 7, t(5), "CCBot"),
        DomainRow("b" * 64, "other.org", 3, t(5), "CCBot"),
    ]
    facts = [robots(1, "https://news.example.org", NO, 10)]
    [v] = rejudge(rows, facts, registrable)
    assert (v.shard_id, v.origin, v.signal, v.observation, v.records) == (
        "a" * 64,
        "https://news.example.org",
        "robots-content-usage",
        1,
        7,
    )
    assert "https://news.example.org" in v.text and "7 record(s)" in v.text


def test_observations_known_at_ingest_or_allowing_are_no_violation() -> None:
    rows = [DomainRow("a" * 64, "example.org", 7, t(5), "CCBot")]
    assert rejudge(rows, [robots(1, "https://example.org", NO, 1)], registrable) == []
    assert rejudge(rows, [robots(2, "https://example.org", YES, 9)], registrable) == []
    # a newer file that allows again replaces the older disallowing one
    later = [robots(1, "https://example.org", NO, 8), robots(2, "https://example.org", YES, 9)]
    assert rejudge(rows, later, registrable) == []


def test_a_path_scoped_rule_is_not_a_site_wide_disallow() -> None:
    rows = [DomainRow("a" * 64, "example.org", 7, t(5), "CCBot")]
    text = b"User-agent: *\nContent-Usage: /private/ train-ai=n\n"
    assert rejudge(rows, [robots(1, "https://example.org", text, 9)], registrable) == []
    gpt_only = b"User-agent: GPTBot\nDisallow: /\n"
    assert rejudge(rows, [robots(2, "https://example.org", gpt_only, 9)], registrable) == []
    gpt_rows = [DomainRow("a" * 64, "example.org", 7, t(5), "GPTBot")]
    [v] = rejudge(gpt_rows, [robots(2, "https://example.org", gpt_only, 9)], registrable)
    assert v.signal == "robots-disallow"
