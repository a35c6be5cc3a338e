"""How ``provreg serve`` runs the API under uvicorn: which protocol, and every connection limit.

uvicorn times out a keep-alive connection that is idle between requests (``timeout_keep_alive``)
but not one that never finishes sending its request line and headers: a client that opens a
connection and sends nothing, or a header a byte at a time, holds it for ever. Neither
httptools nor uvicorn bounds the size of the headers either. ``HeaderDeadlineProtocol`` is
uvicorn's httptools protocol with both bounds (``api.limits``: ``header_timeout_s``,
``max_header_bytes``): a connection that has not sent a whole request head in time is closed;
one whose head is too large gets a 431 and is closed. Slow bodies are ``api.bodies``'s job.
"""

from __future__ import annotations

import asyncio
from typing import Any

from api.limits import Limits, get_limits

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] installs httptools
    HttpToolsProtocol = None


if HttpToolsProtocol is not None:

    class HeaderDeadlineProtocol(HttpToolsProtocol):  # type: ignore[misc,valid-type]
        """httptools, with a deadline and a size limit on each request's head."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            limits = get_limits()  # the environment's, cached: read once a process
            self._head_timeout = limits.header_timeout_s
            self._max_head = limits.max_header_bytes
            self._head_bytes = 0
            self._head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def _count(self, n: int) -> None:
            self._head_bytes += n
            if self._head_bytes > self._max_head and not self.transport.is_closing():
                self._disarm()
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # the first request's head is due from now

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()  # each request's head is due from its first byte

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()


def uvicorn_options(limits: Limits | None = None) -> dict[str, Any]:
    """The keyword arguments ``uvicorn.run`` and ``uvicorn.Config`` get from ``provreg serve``
    (the tests run the same): the protocol and the connection limits."""
    limits = limits or get_limits()
    http: Any = HeaderDeadlineProtocol if HttpToolsProtocol is not None else "h11"
    return {
        "http": http,
        "timeout_keep_alive": limits.keep_alive_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,  # when h11 is used
    }
