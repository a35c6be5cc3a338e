"""Fetching signals from an origin with ``httpx``: its robots.txt, its tdmrep.json, and the
response of given URLs (their signal header fields and, for HTML, the page). For machines with
network; what comes back is recorded like an imported file (``via="signals fetch"``).

Only a successful response is evidence of a statement: a 404 robots.txt or tdmrep.json is
reported and nothing is recorded (the evaluator then knows no rule from that file).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from registry import limits
from registry.signals import headers, tdmrep
from registry.signals.evaluate import HEADER, HTML, ROBOTS, TDMREP


@dataclass(frozen=True)
class Fetched:
    """One response: ``kind`` and ``raw`` to record, or ``raw`` None with why not (``note``)."""

    kind: str
    url: str
    status: int | None
    raw: bytes | None
    note: str = ""


def _get(client: httpx.Client, url: str) -> tuple[httpx.Response | None, str]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return None, f"unreachable: {exc}"
    return response, ""


def fetch_origin(
    origin: str, urls: list[str], *, user_agent: str, timeout: float = 10.0
) -> list[Fetched]:
    """GET the origin's files and each URL; never raises for what a server does."""
    out: list[Fetched] = []
    with httpx.Client(
        timeout=timeout, follow_redirects=True, headers={"User-Agent": user_agent}
    ) as client:
        for kind, path in ((ROBOTS, "/robots.txt"), (TDMREP, tdmrep.WELL_KNOWN)):
            response, note = _get(client, origin + path)
            if response is None or response.status_code != 200:
                status = response.status_code if response is not None else None
                out.append(Fetched(kind, origin + path, status, None, note or f"HTTP {status}"))
            else:
                out.append(
                    Fetched(kind, origin + path, 200, response.content[: limits.SIGNAL_BYTES])
                )
        for url in urls:
            response, note = _get(client, url)
            if response is None:
                out.append(Fetched(HEADER, url, None, None, note))
                continue
            lines = [
                f"{name}: {response.headers[name]}"
                for name in headers.FIELDS
                if name in response.headers
            ]
            if lines:
                out.append(Fetched(HEADER, url, response.status_code, "\r\n".join(lines).encode()))
            else:
                out.append(
                    Fetched(HEADER, url, response.status_code, None, "no signal header fields")
                )
            if "html" in response.headers.get("content-type", ""):
                body = response.content[: limits.SIGNAL_BYTES]
                if tdmrep.from_html(body).reservation is not None:
                    out.append(Fetched(HTML, url, response.status_code, body))
    return out
