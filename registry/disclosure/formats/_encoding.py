"""The JSON formats' encoding: the facts as JSON data, and deterministic bytes of any JSON data."""

from __future__ import annotations

from typing import Any

from manifests.canonical import compact_json
from registry.disclosure.facts import DisclosureFacts


def facts_json(facts: DisclosureFacts) -> dict[str, Any]:
    """The facts as JSON data (``schema`` first-class, shard files left out)."""
    data: dict[str, Any] = facts.model_dump(mode="json", by_alias=True, exclude={"shards"})
    if data.get("records") is None:
        data.pop("records", None)  # disclosures without record figures keep their bytes
    if data.get("signals") is None:
        data.pop("signals", None)
    if data.get("takedown") is None:
        data.pop("takedown", None)
    return data


def dumps(data: Any) -> bytes:
    """Deterministic JSON: ``compact_json`` (sorted keys, compact, UTF-8), one final newline.

    Compact because ``indent`` makes the json module fall back to its pure-Python encoder
    (10x slower on a 10,000-source disclosure); pipe through ``jq`` to read it.
    """
    return (compact_json(data) + "\n").encode("utf-8")
