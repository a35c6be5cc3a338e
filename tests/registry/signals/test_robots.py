"""robots.txt: RFC 9309 groups through protego, and draft-ietf-aipref-attach's Content-Usage."""

from __future__ import annotations

import random

import pytest
from protego import Protego

from registry.signals.robots import RobotsRules
from registry.signals.vocab import CURRENT, vocabulary

V = vocabulary(CURRENT)

# draft-ietf-aipref-attach-05, section 4.3, figure 2
ATTACH_EXAMPLE = """\
User-Agent: *
Allow: /
Disallow: /never/
Content-Usage: train-ai=n
Content-Usage: /ai-ok/ train-ai=y

User-Agent: ExampleBot
Allow: /
Content-Usage: train-ai=y
"""


@pytest.mark.parametrize(
    ("path", "fetchable", "usage"),
    [  # the draft's table 1
        ("/test", True, "disallow"),
        ("/never/test", False, "unknown"),
        ("/ai-ok/test", True, "allow"),
    ],
)
def test_the_attach_drafts_example(path: str, fetchable: bool, usage: str) -> None:
    j = RobotsRules(ATTACH_EXAMPLE, "OtherBot/1.0", V).judge(path)
    assert (j.fetchable, j.usage) == (fetchable, usage)


def test_examplebot_uses_its_own_group() -> None:
    rules = RobotsRules(ATTACH_EXAMPLE, "ExampleBot", V)
    assert rules.group == "examplebot"
    for path in ("/test", "/never/test", "/ai-ok/test"):
        j = rules.judge(path)
        assert (j.fetchable, j.usage) == (True, "allow")


def test_longest_match_wins_and_ties_are_most_restrictive() -> None:
    text = """\
User-agent: *
Content-Usage: /a/ train-ai=y
Content-Usage: /a/b/ train-ai=n
Content-Usage: /a/b/c/ train-ai=y
Content-Usage: /tie/ train-ai=y
Content-Usage: /tie/ train-ai=n
Content-Usage: /tie/ search=y
"""
    rules = RobotsRules(text, "bot", V)
    assert rules.judge("/a/x").usage == "allow"
    assert rules.judge("/a/b/x").usage == "disallow"
    assert rules.judge("/a/b/c/x").usage == "allow"
    tie = rules.judge("/tie/x")
    assert tie.usage == "disallow"
    assert tie.usage_rule is not None and tie.usage_rule.statement == "train-ai=n"
    assert rules.judge("/elsewhere").usage == "unknown"


def test_an_absent_path_is_the_whole_site_and_ties_with_slash() -> None:
    text = "User-agent: *\nContent-Usage: train-ai=y\nContent-Usage: / train-ai=n\n"
    assert RobotsRules(text, "bot", V).judge("/x").usage == "disallow"


def test_wildcards_comments_and_unparsable_rules() -> None:
    text = """\
User-agent: *
Content-Usage: /*.pdf$ train-ai=n   # PDFs are not for training
Content-Usage: /docs/ Train-AI=n
Content-Usage: / train-ai=y
"""
    rules = RobotsRules(text, "bot", V)
    assert rules.judge("/papers/x.pdf").usage == "disallow"
    assert rules.judge("/papers/x.pdf?x=1").usage == "allow"  # $ anchors the end
    # an unparsable statement is the longest match and states nothing: unknown, not "/"'s y
    assert rules.judge("/docs/x").usage == "unknown"


def test_content_usage_outside_any_group_is_ignored() -> None:
    text = "Content-Usage: train-ai=n\nUser-agent: *\nAllow: /\n"
    assert RobotsRules(text, "bot", V).judge("/x").usage == "unknown"


def test_groups_naming_the_same_agent_merge_and_a_group_may_name_several() -> None:
    text = """\
User-agent: a-bot
User-agent: b-bot
Content-Usage: /x/ train-ai=n

User-agent: *
Content-Usage: train-ai=y

User-agent: A-Bot
Disallow: /private/
Content-Usage: /y/ train-ai=n
"""
    a = RobotsRules(text, "a-bot", V)
    assert a.judge("/x/1").usage == "disallow"
    assert a.judge("/y/1").usage == "disallow"
    assert not a.judge("/private/1").fetchable
    assert a.judge("/z").usage == "unknown"  # a-bot's group has no rule for /z; not '*'
    b = RobotsRules(text, "b-bot/2.0", V)
    assert (b.judge("/x/1").usage, b.judge("/y/1").usage) == ("disallow", "unknown")
    assert RobotsRules(text, "c-bot", V).judge("/z").usage == "allow"


def test_cloudflare_content_signal() -> None:
    text = "User-agent: *\nContent-Signal: search=yes, ai-train=no, ai-input=yes\nAllow: /\n"
    j = RobotsRules(text, "bot", V).judge("/x")
    assert (j.signal, j.usage) == ("disallow", "unknown")
    text = "User-agent: *\nContent-Signal: ai-train=yes\n"
    assert RobotsRules(text, "bot", V).judge("/x").signal == "allow"


def test_fetching_agrees_with_protego_on_random_paths() -> None:
    """Allow/Disallow decisions are protego's own, whatever the Content-Usage rules."""
    text = """\
User-agent: *
Disallow: /private/
Allow: /private/public/
Disallow: /*.gif$
Disallow: /search?
Content-Usage: /private/public/ train-ai=n

User-agent: GPTBot
Disallow: /
Allow: /open/
"""
    rng = random.Random(7)
    parts = ["private", "public", "open", "a.gif", "search", "x", "%7Euser", "b c"]
    for crawler in ("GPTBot", "OtherBot", "gptbot/1.1"):
        rules = RobotsRules(text, crawler, V)
        reference = Protego.parse(text)
        for _ in range(500):
            path = "/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 3)))
            if rng.random() < 0.2:
                path += "?q=1"
            url = f"https://example.com{path}"
            assert rules.judge(path).fetchable == reference.can_fetch(url, crawler), (crawler, path)
