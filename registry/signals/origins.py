"""Origins and URLs as the signals see them: ``scheme://host[:port]``, lowercase, default port
dropped, and the path-and-query a rule is matched against."""

from __future__ import annotations

from urllib.parse import urlsplit

from registry import limits
from registry.errors import InvalidInput

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(text: str, what: str) -> tuple[str, str, str]:
    if not isinstance(text, str) or not text or len(text) > limits.URI:
        raise InvalidInput(f"{what} must be an http(s) URL of at most {limits.URI} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in text):
        raise InvalidInput(f"{what} {text!r} contains whitespace or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{what} {text!r} is not a URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidInput(f"{what} {text!r} is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{what} {text!r} carries credentials; give the URL without them")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    origin = f"{scheme}://{host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    path = parts.path or "/"
    if parts.query or text.split("#", 1)[0].endswith("?"):
        path += f"?{parts.query}"
    return origin, path, parts.fragment


def parse_origin(text: str) -> str:
    """The normal form of an origin (``https://Example.com:443/`` -> ``https://example.com``).

    Raises:
        InvalidInput: not ``http(s)://host[:port]`` (a path, query or fragment is refused).
    """
    origin, path, fragment = _split(text, "an origin")
    if path != "/" or fragment:
        raise InvalidInput(
            f"an origin is scheme://host[:port] with no path, query or fragment, got {text!r}",
            field="signals.origin",
        )
    return origin


def parse_url(text: str) -> tuple[str, str]:
    """(origin, path-and-query) of an absolute http(s) URL; the fragment is dropped.

    Raises:
        InvalidInput: not an absolute http(s) URL.
    """
    origin, path, _ = _split(text, "a URL")
    return origin, path
