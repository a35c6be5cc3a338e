"""Small in-process caches that keep the hot read path off the thread pool and the database.

- ``TokenCache``: token sha256 -> the live token, for ``TOKEN_TTL_S`` seconds. A token revoked
  elsewhere (``provreg token revoke``, another worker) keeps working here for at most that long;
  a revocation through this process's API evicts it at once. Only live tokens are cached, so an
  unknown or garbage token costs a lookup every time and cannot fill the cache.
- ``DocumentCache``: manifest hash -> its canonical bytes. Manifests are immutable and
  content-addressed, so an entry never goes stale; the cache is bounded by total bytes (LRU).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict

from registry.entities.auth import TokenOut

TOKEN_TTL_S = 2.0
MAX_TOKENS = 4096
DOCUMENT_CACHE_BYTES = 64 * 1024 * 1024


class TokenCache:
    """Token hash -> (expiry, token); at most ``max_entries`` (oldest dropped first)."""

    def __init__(self, ttl: float = TOKEN_TTL_S, max_entries: int = MAX_TOKENS) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, TokenOut]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> TokenOut | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            with self._lock:
                self._entries.pop(token_hash, None)
            return None
        return entry[1]

    def put(self, token_hash: str, token: TokenOut) -> None:
        with self._lock:
            self._entries[token_hash] = (time.monotonic() + self.ttl, token)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def evict(self, name: str) -> None:
        """Forget the token called ``name`` (it was just revoked)."""
        with self._lock:
            for key in [k for k, (_, t) in self._entries.items() if t.name == name]:
                del self._entries[key]


class DocumentCache:
    """Manifest hash -> canonical document bytes, least recently used dropped past the budget."""

    def __init__(self, max_bytes: int = DOCUMENT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        body = self._entries.get(digest)
        if body is not None:
            with contextlib.suppress(KeyError):  # dropped by another thread in between
                self._entries.move_to_end(digest)
        return body

    def put(self, digest: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if digest in self._entries:
                return
            self._entries[digest] = body
            self.size += len(body)
            while self.size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.size -= len(dropped)
