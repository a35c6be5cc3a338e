"""Public disclosures: no token needed.

- ``GET /disclosures``: the published disclosures; HTML by default, JSON with
  ``Accept: application/json``.
- ``GET /disclosures/{ref}``: ``ref`` is either
  1. the SHA-256 of a **published** disclosure: its stored bytes, exactly (the URL names the
     content: ``sha256`` of the body equals the hash). A format suffix or ``Accept`` asking for
     another format serves the newest published disclosure of the same subject in that format
     (404 if none was published); or
  2. a **manifest** (full hash or unique prefix): rendered on the fly from the registry as it
     stands, without provider inputs (EU-summary fields only the provider knows read
     "Not provided"). Header ``X-Provreg-Disclosure`` says which: ``published`` or ``live``.
  Formats: suffix ``.html``, ``.json``, ``.croissant.json``, ``.eu-summary.json``,
  ``.eu-summary.html``, ``.spdx.json``; or ``Accept``: ``application/json`` -> json,
  ``application/ld+json`` -> croissant, otherwise HTML (or, for a published hash, its own format).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import SessionDep
from api.problems import responses
from registry import disclosure
from registry.disclosure.formats._page import esc, num, page, table
from registry.entities.disclosure import DisclosureOut
from registry.errors import NotFound

router = APIRouter(prefix="/disclosures", tags=["disclosures"])

SUFFIXES = (
    (".croissant.json", "croissant"),
    (".eu-summary.json", "eu-summary"),
    (".eu-summary.html", "eu-summary-html"),
    (".spdx.json", "spdx"),
    (".json", "json"),
    (".html", "html"),
)
SUFFIX_OF = {fmt: suffix for suffix, fmt in SUFFIXES}


def _wants(request: Request) -> str | None:
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    if first == "application/json":
        return "json"
    if first == "application/ld+json":
        return "croissant"
    if first == "text/html":
        return "html"
    return None


def _split(ref: str) -> tuple[str, str | None]:
    for suffix, fmt in SUFFIXES:
        if ref.endswith(suffix):
            return ref[: -len(suffix)], fmt
    return ref, None


def _index_row(d: DisclosureOut) -> dict[str, Any]:
    return d.model_dump(mode="json") | {"url": f"/disclosures/{d.hash}"}


@router.get(
    "",
    response_class=HTMLResponse,
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def index(request: Request, session: SessionDep) -> Response:
    """Published disclosures, newest first."""
    rows = disclosure.list_published(session)
    if _wants(request) == "json":
        return JSONResponse({"items": [_index_row(d) for d in rows]})
    body = [
        "<h1>Published training-data disclosures</h1>",
        f"<p>{num(len(rows))} published. Each is immutable and addressed by the SHA-256 of its "
        "content.</p>",
        table(
            ("Disclosure", "Subject", "Format", "Bytes", "Published"),
            [
                (d.hash, f"{d.subject_kind} {d.subject}", d.format, num(d.bytes), d.created_at)
                for d in rows
            ],
            numeric=(3,),
        ),
    ]
    html = page("Disclosures", body).decode("utf-8")
    # Link each hash: the table escapes text, so links are added on the escaped hash only.
    for d in rows:
        link = (
            f'<a href="/disclosures/{esc(d.hash)}{SUFFIX_OF.get(d.format, "")}">{esc(d.hash)}</a>'
        )
        html = html.replace(f"<td>{esc(d.hash)}</td>", f"<td>{link}</td>", 1)
    return HTMLResponse(html)


def _respond(content: bytes, media_type: str, how: str) -> Response:
    digest = hashlib.sha256(content).hexdigest()
    headers = {"ETag": f'"{digest}"', "X-Provreg-Disclosure": how}
    if how == "published":
        headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return Response(content=content, media_type=media_type, headers=headers)


@router.get(
    "/{ref}",
    response_class=Response,
    responses={
        200: {
            "content": {"text/html": {}, "application/json": {}, "application/ld+json": {}},
            "description": "the disclosure",
        },
        **responses(404, 422),
    },
)
def get_disclosure(ref: str, request: Request, session: SessionDep) -> Response:
    """A published disclosure by hash, or a manifest's disclosure rendered live."""
    key, fmt = _split(ref)
    fmt = fmt or _wants(request)
    if len(key) == 64:
        try:
            published = disclosure.get_published(session, key)
        except NotFound:
            published = None
        if published is not None:
            if fmt is None or fmt == published.format:
                return _respond(published.content, published.media_type, "published")
            sibling = disclosure.published_sibling(session, published, fmt)
            if sibling is None:
                raise NotFound(
                    f"no {fmt} disclosure of {published.subject_kind} {published.subject} "
                    "has been published"
                )
            return _respond(sibling.content, sibling.media_type, "published")
    from registry.manifests import manifest_row

    manifest = manifest_row(session, key)
    fmt = disclosure.check_format(fmt or "html")
    facts = disclosure.build_facts(
        session, manifest.hash, with_shards=disclosure.FORMATS[fmt].with_shards
    )
    content = disclosure.render(facts, fmt)
    return _respond(content, disclosure.FORMATS[fmt].media_type, "live")
