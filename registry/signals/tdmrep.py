"""W3C TDMRep (TDM Reservation Protocol): the reservation of text-and-data-mining rights.

Three of its techniques are read here: the origin's ``/.well-known/tdmrep.json`` (an array of
``{"location", "tdm-reservation", "tdm-policy"}`` rules), the ``tdm-reservation`` and
``tdm-policy`` HTTP header fields, and HTML ``<meta name="tdm-reservation">``. The spec's
processing priority: the file first, a header supersedes it, in-content metadata supersedes
that, and an absent value never resets an earlier one. In the file, locations are robots.txt
patterns (``*``, a final ``$``) matched with ``protego``'s pattern code; "the most specific
match is the first in sequence", so the first matching rule decides. ``tdm-reservation`` is
``1`` (reserved: an opt-out) or ``0``; any other value is a protocol error, read as unset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from protego._urlpattern import _URLPattern
from protego._utils import _quote_path, _quote_pattern

WELL_KNOWN = "/.well-known/tdmrep.json"


def _reservation(value: Any) -> int | None:
    if type(value) is int and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


@dataclass(frozen=True)
class TdmValue:
    """A reservation (``None``: unset) with its policy URL, as one technique states it."""

    reservation: int | None
    policy: str | None = None


@dataclass(frozen=True)
class TdmRule:
    location: str
    reservation: int
    policy: str | None
    index: int


@dataclass
class TdmFile:
    """A parsed ``tdmrep.json``: its valid rules in order, and what was wrong with the rest."""

    rules: list[TdmRule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _compiled: list[tuple[_URLPattern, TdmRule]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._compiled = [(_URLPattern(_quote_pattern(r.location)), r) for r in self.rules]

    def patterns(self) -> list[_URLPattern]:
        return [p for p, _ in self._compiled]

    def lookup(self, path: str) -> tuple[TdmValue, TdmRule | None]:
        """The first rule whose location matches ``path`` (path and query)."""
        quoted = _quote_path(path)
        for pattern, rule in self._compiled:
            if pattern.match(quoted):
                return TdmValue(rule.reservation, rule.policy), rule
        return TdmValue(None), None

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [
                {"location": r.location, "tdm-reservation": r.reservation, "tdm-policy": r.policy}
                for r in self.rules
            ],
            "errors": self.errors,
        }


def parse_file(data: bytes) -> TdmFile:
    """Never raises: a file that is not a JSON array of rules has no rules and says why."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return TdmFile(errors=[f"not JSON: {exc}"])
    if not isinstance(doc, list):
        return TdmFile(errors=["not a JSON array of rules"])
    rules: list[TdmRule] = []
    errors: list[str] = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            errors.append(f"rule {i}: not an object")
            continue
        location, value = item.get("location"), _reservation(item.get("tdm-reservation"))
        policy = item.get("tdm-policy")
        if not isinstance(location, str) or not location.startswith(("/", "*")):
            errors.append(f"rule {i}: location must be a path pattern, got {location!r}")
        elif value is None:
            errors.append(
                f"rule {i}: tdm-reservation must be 0 or 1, got {item.get('tdm-reservation')!r}"
            )
        else:
            rules.append(TdmRule(location, value, policy if isinstance(policy, str) else None, i))
    return TdmFile(rules, errors)


def from_headers(headers: dict[str, str]) -> TdmValue:
    """The ``tdm-reservation`` / ``tdm-policy`` header fields (names lowercase)."""
    return TdmValue(_reservation(headers.get("tdm-reservation")), headers.get("tdm-policy"))


class _MetaReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        name = a.get("name", "").strip().lower()
        if name in ("tdm-reservation", "tdm-policy") and name not in self.meta:
            self.meta[name] = a.get("content", "").strip()


def from_html(data: bytes) -> TdmValue:
    """``<meta name="tdm-reservation" content="1">`` and ``tdm-policy`` in an HTML document."""
    reader = _MetaReader()
    reader.feed(data.decode("utf-8", errors="replace"))
    reader.close()
    return TdmValue(_reservation(reader.meta.get("tdm-reservation")), reader.meta.get("tdm-policy"))


def resolve(*values: TdmValue) -> tuple[TdmValue, int | None]:
    """The priority order: each later technique (file, header, HTML) supersedes the earlier ones
    where it states a reservation; (the value, the index of the technique that set it)."""
    current, where = TdmValue(None), None
    for i, v in enumerate(values):
        if v.reservation is not None:
            current, where = v, i
    return current, where
