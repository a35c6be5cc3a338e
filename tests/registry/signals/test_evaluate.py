"""The evaluator: what is in force at a time, and the combination rule across signals."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.signals import evaluate as ev
from registry.signals.vocab import CURRENT


def t(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def fact(id_: int, kind: str, raw: bytes, day: int, path: str | None = None) -> ev.ObservationFact:
    return ev.ObservationFact(id_, "https://ex.org", kind, t(day), raw, CURRENT, path)


ROBOTS_N = b"User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\n"
ROBOTS_Y = b"User-agent: *\nContent-Usage: train-ai=y\n"


def test_the_latest_observation_of_a_kind_at_or_before_t_is_in_force() -> None:
    facts = [fact(1, ev.ROBOTS, ROBOTS_N, 1), fact(2, ev.ROBOTS, ROBOTS_Y, 10)]
    assert [f.id for f in ev.in_force(facts, t(5))] == [1]
    assert [f.id for f in ev.in_force(facts, t(10))] == [2]
    assert ev.in_force(facts, datetime(2026, 10, 1, tzinfo=UTC)) == []
    judge = ev.Judge(facts, "bot", t(5))
    assert judge.judge("https://ex.org/a").state == "disallowed"
    assert ev.Judge(facts, "bot", None).judge("https://ex.org/a").state == "allowed"


def test_header_observations_are_per_url() -> None:
    facts = [
        fact(1, ev.HEADER, b"Content-Usage: train-ai=n", 1, "/a"),
        fact(2, ev.HEADER, b"Content-Usage: train-ai=y", 2, "/b"),
    ]
    judge = ev.Judge(facts, "bot", None)
    assert judge.judge("https://ex.org/a").state == "disallowed"
    assert judge.judge("https://ex.org/b").state == "allowed"
    assert judge.judge("https://ex.org/c").state == "unknown"
    assert judge.judge("https://other.org/a").state == "unknown"


def test_any_disallow_wins_and_the_first_in_order_decides() -> None:
    facts = [
        fact(1, ev.ROBOTS, ROBOTS_Y, 1),
        fact(2, ev.HEADER, b"Content-Usage: train-ai=y\r\ntdm-reservation: 1", 1, "/a"),
    ]
    v = ev.Judge(facts, "bot", None).judge("https://ex.org/a")
    assert v.state == "disallowed"
    assert v.decided_by is not None
    assert (v.decided_by.signal, v.decided_by.observation) == (ev.TDMREP_SIGNAL, 2)
    assert {s.signal: s.state for s in v.signals} == {
        ev.CONTENT_USAGE_HEADER: "allow",
        ev.ROBOTS_CONTENT_USAGE: "allow",
        ev.TDMREP_SIGNAL: "disallow",
    }


def test_a_path_the_crawler_may_not_fetch_is_disallowed_whatever_else_is_said() -> None:
    facts = [
        fact(1, ev.ROBOTS, ROBOTS_N, 1),
        fact(2, ev.HEADER, b"Content-Usage: train-ai=y", 1, "/private/x"),
    ]
    v = ev.Judge(facts, "bot", None).judge("https://ex.org/private/x")
    assert v.state == "disallowed"
    assert v.decided_by is not None and v.decided_by.signal == ev.ROBOTS_DISALLOW


def test_tdmrep_priority_over_stored_observations() -> None:
    file = b'[{"location": "/", "tdm-reservation": 1}]'
    facts = [
        fact(1, ev.TDMREP, file, 1),
        fact(2, ev.HEADER, b"tdm-reservation: 0", 1, "/open"),
        fact(3, ev.HTML, b'<meta name="tdm-reservation" content="1">', 1, "/page"),
        fact(4, ev.HEADER, b"tdm-reservation: 0", 1, "/page"),
        fact(5, ev.HEADER, b"tdm-policy: https://p/x", 1, "/nores"),
    ]
    judge = ev.Judge(facts, "bot", None)
    assert judge.judge("https://ex.org/x").state == "disallowed"
    assert judge.judge("https://ex.org/open").state == "allowed"  # the header supersedes
    page = judge.judge("https://ex.org/page")  # the HTML meta supersedes the header
    assert page.state == "disallowed"
    assert page.decided_by is not None and page.decided_by.observation == 3
    nores = judge.judge("https://ex.org/nores")  # no reservation in the header: the file's
    assert nores.state == "disallowed" and nores.decided_by is not None
    assert nores.decided_by.observation == 1


def test_a_disallowing_licence_decides_every_url() -> None:
    licence = ev.Signal(ev.LICENCE, "disallow", None, "LicenseRef-NoAI forbids AI training")
    judge = ev.Judge([fact(1, ev.ROBOTS, ROBOTS_Y, 1)], "bot", None, licence)
    v = judge.judge("https://ex.org/a")
    assert v.state == "disallowed" and v.decided_by == licence
    unknown = ev.Signal(ev.LICENCE, "unknown", None, "no licence forbids AI training")
    assert (
        ev.Judge([fact(1, ev.ROBOTS, ROBOTS_Y, 1)], "bot", None, unknown)
        .judge("https://ex.org/a")
        .state
        == "allowed"
    )


def test_urls_in_other_spellings_reach_the_same_origin() -> None:
    judge = ev.Judge([fact(1, ev.ROBOTS, ROBOTS_N, 1)], "bot", None)
    for url in (
        "https://EX.org/a",
        "https://ex.org:443/a",
        "https://ex.org/a#frag",
        "https://ex.org?q",
    ):
        assert judge.judge(url).state == "disallowed", url
    assert judge.judge("https://ex.org/private/z").decided_by.signal == ev.ROBOTS_DISALLOW  # type: ignore[union-attr]


def test_the_cached_verdicts_equal_judging_each_path_afresh() -> None:
    """Verdicts are cached per (longest plain prefix, special patterns matched): on random
    paths, with wildcards, anchors, percent-escapes and queries, they equal the direct rule."""
    import random

    robots = (
        b"User-agent: *\nDisallow: /private/\nAllow: /private/ok/\nDisallow: /*.gif$\n"
        b"Disallow: /search?\nAllow: /x/index.html\nContent-Usage: train-ai=y\n"
        b"Content-Usage: /a/ train-ai=n\nContent-Usage: /a/b*c train-ai=y\n"
        b"Content-Usage: /%7Euser/ train-ai=n\nContent-Signal: /p ai-train=no\n"
    )
    file = b'[{"location": "/m/*.jpg$", "tdm-reservation": 1}, {"location": "/m/", "tdm-reservation": 0}]'
    facts = [fact(1, ev.ROBOTS, robots, 1), fact(2, ev.TDMREP, file, 1)]
    rules = ev.OriginRules("https://ex.org", facts, "bot")
    fresh = ev.OriginRules("https://ex.org", facts, "bot")
    rng = random.Random(3)
    parts = ["private", "ok", "a", "b", "bxc", "c", "x", "index.html", "m", "p.jpg", "y.gif",
             "~user", "%7euser", "%41", "search", "p", "pq"]  # fmt: skip
    seen = set()
    for _ in range(3000):
        path = "/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 4)))
        if rng.random() < 0.2:
            path += rng.choice(["?q=1", "?", "/"])
        seen.add(path)
        assert rules.judge(path) == ev.decide(fresh.signals(path)), path
    for path in ("//private/x", "//a/b", "/a//b", "/private/%6Fk/x", "/P%72ivate/"):
        assert rules.judge(path) == ev.decide(fresh.signals(path)), path
    assert len(rules.keyed) < len(seen) / 5  # the cache is per key, not per path
