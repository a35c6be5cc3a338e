"""Request bodies: authenticated before a byte is read, capped, and read against a deadline.

FastAPI reads and parses a route's JSON body before it solves the route's dependencies, so a
token check in a dependency comes after the whole body is in memory: three unauthenticated
300 MB POSTs took the server from 426 MiB to 1.9 GiB before their 401s. ``BodyGuard`` is a
pure ASGI middleware that sits on ``receive``. The first time the route asks for the body:

1. a route that needs a token (``api.deps.require``) gets it checked now: no token, or an
   unknown or revoked one, is a 401 before the body is read (the role is checked by the
   dependency as before, once at most the route's limit has been read);
2. a ``Content-Length`` over the route's limit (``api.limits``: ``max_body_bytes``, or
   ``max_bulk_body_bytes`` for routes marked ``bulk``) is a 413; a chunked body is counted as
   it arrives and refused the moment it passes the limit;
3. the body must keep arriving: after ``body_grace_s`` it must average ``min_body_rate`` bytes
   per second, else a 408.

A response sent before the body was read to its end says ``Connection: close``, so the server
does not go on reading (and discarding) the rest of an upload it refused, and a client cannot
hold the connection open by trickling a body nobody reads. The streamed shard upload
(``upload``) keeps its own size limit and gets the deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import deps
from api.limits import BODY_KIND, Limits

CLOSE = {"Connection": "close"}


def _announced(headers: Headers) -> int | None:
    """The body's announced length (-1: chunked, length unknown), or None without a body."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return -1
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > 0:
        return int(length)
    return None


def _needs_token(dependant: Dependant) -> bool:
    """Whether a route's dependencies include a role check (``api.deps.require``)."""
    return any(
        getattr(d.call, "provreg_roles", None) is not None or _needs_token(d)
        for d in dependant.dependencies
    )


class _Body:
    """One request's ``receive``, guarded as the module docstring says."""

    def __init__(self, scope: Scope, receive: Receive, length: int, limits: Limits) -> None:
        self.scope, self._receive, self.length, self.limits = scope, receive, length, limits
        self.complete = False
        self.received = 0
        self._started: float | None = None
        self._limit: int | None = None

    async def _admit(self) -> None:
        """The checks made before the first byte is read (1 and 2 of the module docstring)."""
        route = self.scope.get("route")
        extra: dict[str, Any] = getattr(route, "openapi_extra", None) or {}
        dependant = getattr(route, "dependant", None)
        if dependant is not None and _needs_token(dependant):
            request = Request(self.scope)
            credentials = await deps.bearer(request)
            await deps.authenticate(request, credentials)
        kind = extra.get(BODY_KIND)
        if kind == "upload":
            return  # the upload route checks its own limit (PROVREG_MAX_UPLOAD_BYTES)
        self._limit = self.limits.body_limit(kind)
        if self.length > self._limit:
            raise _too_large(self.length, self._limit)

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self._started is None:
            await self._admit()
            self._started = loop.time()
        grace, rate = self.limits.body_grace_s, self.limits.min_body_rate
        deadline = self._started + grace + self.received / rate
        try:
            message = await asyncio.wait_for(self._receive(), max(deadline - loop.time(), 0.001))
        except TimeoutError:
            raise HTTPException(
                408,
                f"the request body arrived too slowly ({self.received:,} bytes in "
                f"{loop.time() - self._started:.0f} s): after {grace:g} s a body must average "
                f"{rate:,} bytes per second",
                headers=CLOSE,
            ) from None
        if message["type"] != "http.request":
            self.complete = True  # the client went away
            return message
        self.received += len(message.get("body", b""))
        if self._limit is not None and self.received > self._limit:
            raise _too_large(self.received, self._limit)
        if not message.get("more_body", False):
            self.complete = True
        return message


def _too_large(size: int, limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the request body ({size:,} bytes or more) is larger than this route's limit of "
        f"{limit:,} bytes",
        headers=CLOSE,
    )


class BodyGuard:
    """ASGI middleware: every request with a body gets a guarded ``receive`` (``_Body``)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _announced(Headers(scope=scope))
        if length is None:
            await self.app(scope, receive, send)
            return
        body = _Body(scope, receive, length, self.limits)

        async def send_closing_if_unread(message: Message) -> None:
            if message["type"] == "http.response.start" and not body.complete:
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"connection", b"close")],
                }
            await send(message)

        await self.app(scope, body.receive, send_closing_if_unread)


def document_limits(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the 408 and 413 every operation with a body can answer to the OpenAPI schema."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for status, phrase in (("408", "Request Timeout"), ("413", "Content Too Large")):
                operation.setdefault("responses", {}).setdefault(
                    status,
                    {"description": phrase, "content": {"application/json": {"schema": problem}}},
                )
    return schema
