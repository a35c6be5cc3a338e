"""Renderers: one module per format, each a pure ``render(facts, inputs) -> bytes``.

``FORMATS`` is the registry of formats (media type, renderer, whether it lists shard files);
``render`` and ``check_format`` are the way in. The renderers import only
``registry.disclosure.facts`` and their own helpers (``_encoding`` for JSON, ``_page`` for
HTML), never the services that call them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from registry.disclosure.facts import DisclosureFacts, DisclosureInputs
from registry.disclosure.formats import croissant, eu_summary, eu_summary_html, html, spdx
from registry.disclosure.formats import json as json_format
from registry.errors import InvalidInput


class Format(NamedTuple):
    media_type: str
    render: Callable[[DisclosureFacts, DisclosureInputs], bytes]
    with_shards: bool  # lists every shard file: the facts must be built ``with_shards``


FORMATS: dict[str, Format] = {
    "html": Format("text/html; charset=utf-8", html.render, False),
    "json": Format("application/json", json_format.render, False),
    "croissant": Format("application/ld+json", croissant.render, True),
    "eu-summary": Format("application/json", eu_summary.render, False),
    "eu-summary-html": Format("text/html; charset=utf-8", eu_summary_html.render, False),
    "spdx": Format("application/ld+json", spdx.render, False),
}


def check_format(fmt: str) -> str:
    """Raises: InvalidInput: an unknown format."""
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown disclosure format {fmt!r}: expected one of {', '.join(FORMATS)}"
        )
    return fmt


def render(facts: DisclosureFacts, fmt: str, inputs: DisclosureInputs | None = None) -> bytes:
    """The disclosure's bytes in ``fmt``; the same facts and inputs give the same bytes.

    Raises:
        InvalidInput: an unknown format.
    """
    return FORMATS[check_format(fmt)].render(facts, inputs or DisclosureInputs())
