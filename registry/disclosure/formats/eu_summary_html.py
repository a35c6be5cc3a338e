"""The EU public summary of training content as one self-contained HTML page.

Same content as ``eu_summary`` (one builder for both), laid out by the template's numbering.
"""

from __future__ import annotations

from typing import Any

from registry.disclosure.facts import NOT_PROVIDED, DisclosureFacts, DisclosureInputs
from registry.disclosure.formats._page import esc, page, table
from registry.disclosure.formats.eu_summary import TEMPLATE, summary


def _value(value: Any) -> str:
    if value == NOT_PROVIDED:
        return f'<span class="np">{esc(NOT_PROVIDED)}</span>'
    if isinstance(value, list) and value and isinstance(value[0], dict):
        headers = list(value[0])
        return table(headers, [[row.get(h, "") for h in headers] for row in value])
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{esc(v)}</li>" for v in value) + "</ul>"
    return esc(value)


def _section(node: dict[str, Any], depth: int) -> str:
    tag = f"h{min(depth, 4)}"
    out = [f"<{tag}>{esc(node['id'])}. {esc(node['title'])}</{tag}>"]
    if "fields" in node:
        out.append(
            "<dl>"
            + "".join(
                f"<dt>{esc(f['label'])}</dt><dd>{_value(f['value'])}</dd>" for f in node["fields"]
            )
            + "</dl>"
        )
    for child in node.get("subsections", ()):
        out.append(_section(child, depth + 1))
    return "".join(out)


def render(facts: DisclosureFacts, inputs: DisclosureInputs) -> bytes:
    data = summary(facts, inputs)
    title = "Public summary of training content"
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">Following the {esc(TEMPLATE)}. Subject: {esc(facts.subject_kind)} '
        f'<span class="hash">{esc(facts.subject)}</span>, as of {esc(facts.as_of)}. Fields marked '
        f'<span class="np">{esc(NOT_PROVIDED)}</span> were not stated by the provider and are '
        "not known to the registry.</p>",
        *(_section(s, 2) for s in data["sections"]),
    ]
    return page(title, body)
