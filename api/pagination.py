"""Keyset pagination for list routes: ``?limit=&after=`` in, ``{"items", "next"}`` out.

``next`` is an opaque cursor (base64url of the last item's key as JSON): pass it back as
``after`` for the following page; it is null on the last page. Services do the keyset query
(``registry.paging.keyset``); ``paginate`` asks them for one row more than the page to learn
whether another page follows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from registry.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="pass as `after` for the next page; null on the last")


@dataclass(frozen=True)
class PageParams:
    limit: int
    after: str | None


async def page_params(  # no I/O: async keeps it off the thread pool
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="the most items to return")
    ] = DEFAULT_LIMIT,
    after: Annotated[
        str | None,
        Query(max_length=2000, description="the `next` cursor of the previous page"),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, after=after)


PageDep = Annotated[PageParams, Depends(page_params)]


def encode_cursor(key: Any) -> str:
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, key_type: Any) -> Any:
    """The key a cursor holds, as ``key_type`` (str for one column, a tuple for several).

    Raises:
        InvalidInput: the cursor was not made by this API for this list.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return TypeAdapter(key_type).validate_python(json.loads(raw))
    except (binascii.Error, ValueError, UnicodeDecodeError, ValidationError) as exc:
        raise InvalidInput(
            f"query parameter 'after' is not a cursor from this list: {cursor!r}"
        ) from exc


def paginate(
    fetch: Callable[..., Sequence[T]],
    params: PageParams,
    key: Callable[[T], Any],
    key_type: Any = str,
) -> Page[T]:
    """One page from ``fetch(after=, limit=)``, a keyset list service; ``key`` is an item's key."""
    after = decode_cursor(params.after, key_type) if params.after is not None else None
    rows = fetch(after=after, limit=params.limit + 1)
    items = list(rows[: params.limit])
    more = len(rows) > params.limit
    return Page[T](items=items, next=encode_cursor(key(items[-1])) if more and items else None)
