"""Errors as RFC 9457 problem details (``application/problem+json``).

Services raise ``registry.errors`` exceptions; one handler per kind of exception turns them into
the same shape, so a client reads every failure the same way. ``ERRORS`` and friends document
those responses on each route, so the OpenAPI schema lists every status a route can answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from registry.errors import PolicyViolation, ProvregError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("provreg.api")


class FieldError(BaseModel):
    """One invalid field of a request."""

    pointer: str = Field(
        description="JSON pointer into the request, e.g. /body/licence or /query/limit"
    )
    loc: list[str | int] = Field(
        description="where the field is: body, query, path or header first"
    )
    detail: str = Field(description="what is wrong with it")


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` and ``violations`` appear where they apply."""

    type: str = Field(description="URI naming the kind of problem; about:blank for plain HTTP ones")
    title: str = Field(description="short, the same for every problem of this type")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong with this request, precisely")
    instance: str = Field(description="the path of the request that failed")
    errors: list[FieldError] | None = Field(
        default=None, description="each invalid field, for validation errors"
    )
    violations: list[str] | None = Field(
        default=None, description="each policy rule broken, for policy violations"
    )


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body = Problem(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        **extra,
    )
    return ProblemResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _provreg_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ProvregError)
    extra: dict[str, Any] = {}
    if isinstance(exc, PolicyViolation):
        extra["violations"] = exc.violations
    return problem(
        request,
        exc.status,
        exc.title,
        exc.detail,
        type_=f"urn:provreg:problem:{_kebab(type(exc).__name__)}",
        **extra,
    )


def _pointer(loc: Iterable[str | int]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if isinstance(p, str | int)]
        errors.append(FieldError(pointer=_pointer(loc), loc=loc, detail=str(err.get("msg", ""))))
    detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.detail}" for e in errors)
    return problem(
        request,
        422,
        "Invalid request",
        detail or "the request is invalid",
        type_="urn:provreg:problem:validation-error",
        errors=errors,
    )


def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else None
    return problem(request, exc.status_code, title, detail, headers=headers)


def _integrity_error(request: Request, exc: Exception) -> ProblemResponse:
    # Two requests raced past a service's uniqueness check; the database kept one of them.
    return problem(
        request,
        409,
        "Conflict",
        "the request conflicts with a write made at the same time; retry it",
        type_="urn:provreg:problem:conflict",
    )


def _data_error(request: Request, exc: Exception) -> ProblemResponse:
    # A value the schema admits but the database cannot store (PostgreSQL refuses NUL bytes in
    # text, or a number out of a column's range): the request is invalid, and nothing was kept.
    orig = getattr(exc, "orig", None)
    reason = str(orig).strip().splitlines()[0] if orig else "a value cannot be stored"
    return problem(
        request,
        422,
        "Invalid input",
        f"a value in the request cannot be stored: {reason}",
        type_="urn:provreg:problem:invalid-input",
    )


def _database_error(request: Request, exc: Exception) -> ProblemResponse:
    log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        503,
        "Database unavailable",
        "the registry database could not complete the request; retry later",
        type_="urn:provreg:problem:database-unavailable",
    )


def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "Internal server error", "an unexpected error; it was logged")


def install(app: FastAPI) -> None:
    """Register the handlers; each maps one family of exceptions to a problem response."""
    app.add_exception_handler(ProvregError, _provreg_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answered with a ``Problem``."""
    return {
        s: {"model": Problem, "description": HTTPStatus(s).phrase} for s in sorted(set(statuses))
    }


def as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the OpenAPI schema so that error responses are ``application/problem+json``."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[MEDIA_TYPE] = content.pop("application/json")
    return schema
