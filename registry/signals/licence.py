"""The source's licence as a signal: a licence flagged ``no_ai_training`` forbids AI training.

An SPDX expression offers a choice with ``OR`` and combines terms with ``AND``: training is
disallowed when every choice holds a licence that forbids it (``X OR Y`` is disallowed only if
both do; ``X AND Y`` if either does). Parsed with ``license-expression``, as the policy does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import license_expression as lx

from registry.signals.vocab import State


def _forbidding(node: Any, no_ai: Mapping[str, bool]) -> frozenset[str] | None:
    """The licence ids that forbid training on every choice, or None if one choice allows it."""
    if isinstance(node, lx.LicenseWithExceptionSymbol):
        node = node.license_symbol
    if isinstance(node, lx.LicenseSymbol):
        return frozenset({node.key}) if no_ai.get(node.key, False) else None
    parts = [_forbidding(arg, no_ai) for arg in node.args]
    if isinstance(node, lx.OR):
        if any(p is None for p in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    hits = [p for p in parts if p is not None]
    return frozenset().union(*hits) if hits else None


def licence_state(expression: str, no_ai: Mapping[str, bool]) -> tuple[State, list[str]]:
    """("disallow", the forbidding ids) or ("unknown", []): a licence that does not forbid
    training says nothing about a site's preferences, so it never allows."""
    parsed = lx.get_spdx_licensing().parse(expression)
    if parsed is None:
        return "unknown", []
    ids = _forbidding(parsed, no_ai)
    return ("disallow", sorted(ids)) if ids else ("unknown", [])
