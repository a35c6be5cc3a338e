"""Public disclosures: what a manifest, run or weights file was trained on, in public formats.

A disclosure is deterministic: every figure is derived from the registry, it holds no "now"
(only the subject's own declared time), and the renderers are pure functions of the facts.

- ``subject``: what a disclosure is about (a manifest by hash, prefix or name; a run id; a
  stamped weights file) and the manifests that are its training content.
- ``aggregate``: the figures: per-source sums in the database, breakdowns in DuckDB, licence
  families and crawl domains.
- ``build``: ``build_facts``, the whole ``DisclosureFacts`` of a subject.
- ``facts``: the shapes (``DisclosureFacts``; ``DisclosureInputs``, what only the provider can
  state).
- ``formats``: one renderer per public format; ``FORMATS``, ``render``, ``check_format``.
- ``publishing``: ``publish`` stores the rendered bytes under their SHA-256; reading them back.

``DisclosureOut``, what publishing returns, is in ``registry.entities.disclosure``.
"""

from registry.disclosure.build import build_facts
from registry.disclosure.facts import NOT_PROVIDED, SCHEMA, DisclosureFacts, DisclosureInputs
from registry.disclosure.formats import FORMATS, check_format, render
from registry.disclosure.publishing import (
    get_published,
    list_published,
    publish,
    published_sibling,
)
from registry.disclosure.subject import resolve_subject
from registry.entities.disclosure import DisclosureOut

__all__ = [
    "FORMATS",
    "NOT_PROVIDED",
    "SCHEMA",
    "DisclosureFacts",
    "DisclosureInputs",
    "DisclosureOut",
    "build_facts",
    "check_format",
    "get_published",
    "list_published",
    "publish",
    "published_sibling",
    "render",
    "resolve_subject",
]
