"""robots.txt (RFC 9309) with the AI-preferences ``Content-Usage`` rule (draft-ietf-aipref-attach).

Groups and Allow/Disallow are ``protego``'s: it picks the crawler's group and says whether a path
may be fetched. ``protego`` reads ``Content-Usage`` as an unknown directive, so this module
extracts those lines itself (a few lines; no library does it), following the group rules
``protego`` applies (a user-agent line after a rule starts a new group; groups naming the same
agent merge), and matches their paths with ``protego``'s own pattern code, so the two stages
agree on what a path is:

- a rule is ``Content-Usage: [path] statement``; an absent path means the whole site (``/``);
- the longest matching path decides; rules with identical paths combine as the vocabulary
  says (any ``n`` wins), the most restrictive;
- preferences apply only to paths the crawler may fetch: a disallowed path has none.

Cloudflare's ``Content-Signal: [path] search=yes, ai-train=no`` (not IETF, widely served) is read
the same way, its ``ai-train`` deciding training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import http_sf
from protego import Protego
from protego._urlpattern import _URLPattern
from protego._utils import _quote_path, _quote_pattern

from registry.signals.vocab import State, Vocabulary, combine, parse_statement, token

CONTENT_USAGE = "content-usage"
CONTENT_SIGNAL = "content-signal"
_USER_AGENT = ("user-agent", "useragent", "user agent")
_SITE_WIDE = ("sitemap", "host")


@dataclass(frozen=True)
class UsageRule:
    """One ``Content-Usage`` or ``Content-Signal`` line of a group."""

    directive: str
    path: str
    statement: str
    line: int


def _split_rule(value: str) -> tuple[str, str]:
    """(path, statement) of a rule value: a path starts with ``/`` and ends at SP or HTAB."""
    if value.startswith("/"):
        for i, c in enumerate(value):
            if c in " \t":
                return value[:i], value[i:].strip(" \t")
        return value, ""
    return "/", value


def extract_usage_rules(text: str) -> dict[str, list[UsageRule]]:
    """The ``Content-Usage`` and ``Content-Signal`` rules of each user agent (lowercase), grouped
    as ``protego`` groups Allow/Disallow."""
    groups: dict[str, list[UsageRule]] = {}
    current: list[str] = []
    previous: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or ":" not in line:
            continue
        field, value = (part.strip(" \t") for part in line.split(":", 1))
        field = field.lower()
        if field in _USER_AGENT and previous is not None and previous not in _USER_AGENT:
            current = []
        if field not in _SITE_WIDE:
            previous = field
        if not value:
            continue
        if field in _USER_AGENT:
            agent = value.lower()
            for ua in (agent, agent.replace("*", "") if agent != "*" else ""):
                if ua and ua not in current:
                    current.append(ua)
                    groups.setdefault(ua, [])
        elif field in (CONTENT_USAGE, CONTENT_SIGNAL) and current:
            path, statement = _split_rule(value)
            rule = UsageRule(field, path, statement, number)
            for ua in current:
                groups[ua].append(rule)
    return groups


def _signal_state(statement: str) -> tuple[State, str | None]:
    """Cloudflare's ``ai-train=yes|no`` (an RFC 9651 Dictionary too)."""
    try:
        parsed = http_sf.parse(statement.encode(), tltype="dictionary")
    except (http_sf.StructuredFieldError, ValueError) as exc:
        return "unknown", str(exc)
    value = token(parsed, "ai-train") if isinstance(parsed, dict) else None
    if value in ("yes", "no"):
        return ("allow" if value == "yes" else "disallow"), None
    return "unknown", None


@lru_cache(maxsize=65536)
def _training(statement: str, vocab: Vocabulary) -> State:
    return parse_statement(statement.encode(), vocab).training(vocab)


@dataclass(frozen=True)
class _Compiled:
    pattern: _URLPattern
    priority: int
    state: State
    rule: UsageRule


@dataclass(frozen=True)
class PathJudgement:
    """What robots.txt says of one path for one crawler."""

    fetchable: bool
    usage: State
    usage_rule: UsageRule | None
    signal: State
    signal_rule: UsageRule | None


class RobotsRules:
    """One robots.txt compiled for one crawler: ask ``judge(path)`` for many paths."""

    def __init__(self, text: str, crawler: str, vocab: Vocabulary) -> None:
        self.parser = Protego.parse(text)
        self.crawler = crawler
        matched = self.parser._get_matching_rule_set(crawler)  # the group can_fetch obeys
        self.group = matched.user_agent if matched is not None else None
        rules = extract_usage_rules(text).get(self.group or "", []) if self.group else []
        self._usage = self._compile([r for r in rules if r.directive == CONTENT_USAGE], vocab)
        self._signal = self._compile([r for r in rules if r.directive == CONTENT_SIGNAL], None)

    @staticmethod
    def _compile(rules: list[UsageRule], vocab: Vocabulary | None) -> list[_Compiled]:
        out = []
        for r in rules:
            quoted = _quote_pattern(r.path)
            if vocab is not None:
                state = _training(r.statement, vocab)
            else:
                state = _signal_state(r.statement)[0]
            out.append(_Compiled(_URLPattern(quoted), len(quoted), state, r))
        out.sort(key=lambda c: c.priority, reverse=True)
        return out

    @staticmethod
    def _longest(rules: list[_Compiled], path: str) -> tuple[State, UsageRule | None]:
        """The longest matching rules (sorted longest first) and their combined state."""
        matched: list[_Compiled] = []
        for c in rules:
            if matched and c.priority < matched[0].priority:
                break
            if c.pattern.match(path):
                matched.append(c)
        if not matched:
            return "unknown", None
        state = combine([c.state for c in matched])
        return state, next(c.rule for c in matched if c.state == state or state == "unknown")

    def patterns(self) -> list[_URLPattern]:
        """Every pattern a judgement can depend on: the group's Allow/Disallow rules (protego's
        own, including the ones it derives) and the usage rules."""
        matched = self.parser._get_matching_rule_set(self.crawler)
        rules = [r.value for r in matched._rules] if matched is not None else []
        return rules + [c.pattern for c in (*self._usage, *self._signal)]

    def judge(self, path: str) -> PathJudgement:
        """``path`` is a URL's path and query (``/a/b?c``)."""
        if not self.parser.can_fetch(path, self.crawler):
            return PathJudgement(False, "unknown", None, "unknown", None)
        quoted = _quote_path(path)
        usage, usage_rule = self._longest(self._usage, quoted)
        signal, signal_rule = self._longest(self._signal, quoted)
        return PathJudgement(True, usage, usage_rule, signal, signal_rule)


def summary(text: str, vocab: Vocabulary) -> dict[str, Any]:
    """What is stored as an observation's parsed form: each group's usage rules, read."""
    groups = {}
    for ua, rules in sorted(extract_usage_rules(text).items()):
        groups[ua] = [
            {
                "directive": r.directive,
                "path": r.path,
                "statement": r.statement,
                "line": r.line,
                **(
                    parse_statement(r.statement.encode(), vocab).as_json()
                    if r.directive == CONTENT_USAGE
                    else {"ai-train": _signal_state(r.statement)[0]}
                ),
            }
            for r in rules
        ]
    return {"groups": groups}
