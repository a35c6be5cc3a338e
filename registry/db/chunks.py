"""Chunked ``IN (...)`` queries: one chunk size that both databases accept, written once.

SQLite (3.32+) takes up to 32,766 bound parameters a statement and PostgreSQL 65,535; a chunk
of 5,000 keeps every ``IN`` list well inside both, with room for the statement's other
parameters, and large enough that a million ids cost 200 round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

CHUNK = 5_000


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Yield ``items`` in consecutive lists of at most ``size`` (the last may be shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
