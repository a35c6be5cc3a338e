"""What routes depend on: one transaction per request, and who is asking.

- ``SessionDep``: the request's one transaction. It commits after the route returns and before
  the response is sent (``scope="function"``), and rolls back on any error, so a failed request
  changes nothing and a 2xx means the write is durable.
- ``require(*roles)``: the caller's token, which must have one of ``roles``; ``admin`` passes
  every check. No token gives 401, a wrong role 403. The ``*Dep`` aliases below name the rules.

- ``bare_require(*roles)``: the same check without a session, for ``async def`` routes that do
  their database work in one ``run_in_threadpool`` call (streamed uploads, cached documents).

Route functions that touch the database are plain ``def``: FastAPI runs them, and the session
dependency, in its thread pool, so a blocking database call never stalls the event loop. The
role check is ``async``: a token seen in the last ``TOKEN_TTL_S`` seconds is answered from
``api.caches.TokenCache`` without a thread-pool hop or a query; a miss looks it up in the thread
pool (on the request's session where there is one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.caches import TokenCache
from registry import auth
from registry.db.engine import transaction
from registry.entities.auth import TokenOut
from registry.errors import NotPermitted

ANONYMOUS = "anonymous"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Who may do what (admin may do everything; see registry/tokens.py for the roles).
READ_ROLES = ("curator", "trainer", "reader")
WRITE_REGISTRY_ROLES = ("curator",)  # contributors, sources, datasets, shards, manifests
TRAIN_ROLES = ("trainer",)  # open runs, report consumption

bearer = HTTPBearer(auto_error=False, description="a provreg token: `provreg token create`")
"""The ``Authorization: Bearer`` credentials of a request, or None (``await bearer(request)``)."""


def get_session(request: Request) -> Iterator[Session]:
    """The request's transaction; write requests take SQLite's write lock up front."""
    engine = request.app.state.engine
    write = request.method not in READ_METHODS
    with transaction(engine, actor=ANONYMOUS, write=write) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def _lookup(engine: Engine, plaintext: str) -> TokenOut | None:
    with transaction(engine, actor=ANONYMOUS, write=False) as session:
        return auth.authenticate(session, plaintext)


async def authenticate(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    session: Session | None = None,
) -> TokenOut:
    """The live token the request carries: from the cache, else looked up in the thread pool
    (``api.bodies`` calls this before a body is read; the role dependencies below, after).

    Raises:
        HTTPException: 401 without a token or with an unknown or revoked one.
    """
    if credentials is None:
        raise _unauthorized("this needs a token: send Authorization: Bearer <token>")
    plaintext = credentials.credentials
    cache: TokenCache = request.app.state.token_cache
    key = auth.token_hash(plaintext)
    token = cache.get(key)
    if token is None and plaintext.startswith(auth.PREFIX):
        if session is not None:
            token = await run_in_threadpool(auth.authenticate, session, plaintext)
        else:
            token = await run_in_threadpool(_lookup, request.app.state.engine, plaintext)
        if token is not None:
            cache.put(key, token)
    if token is None:
        raise _unauthorized("the token is unknown or revoked", "invalid_token")
    return token


def _check_role(token: TokenOut, allowed: frozenset[str], wanted: str) -> None:
    if token.role not in allowed:
        raise NotPermitted(f"token {token.name!r} has role {token.role!r}; this needs {wanted}")


def _roles(roles: tuple[str, ...]) -> tuple[frozenset[str], str]:
    allowed = frozenset(roles) | {"admin"}
    return allowed, " or ".join(sorted(allowed))


def require(*roles: str) -> Callable[..., Awaitable[TokenOut]]:
    """A dependency that authenticates the caller and checks their role.

    The audit log names the token for every write made in the request.
    """
    allowed, wanted = _roles(roles)

    async def check(request: Request, session: SessionDep, credentials: Credentials) -> TokenOut:
        if credentials is None:
            raise _unauthorized(
                f"this needs a token ({wanted}): send Authorization: Bearer <token>"
            )
        token = await authenticate(request, credentials, session)
        _check_role(token, allowed, wanted)
        session.info["actor"] = token.name
        return token

    check.__name__ = f"require_{'_or_'.join(sorted(allowed))}"
    check.provreg_roles = allowed  # type: ignore[attr-defined]  # api.bodies: needs a token
    return check


def bare_require(*roles: str) -> Callable[..., Awaitable[TokenOut]]:
    """``require`` without a session: for ``async def`` routes; the route names the actor."""
    allowed, wanted = _roles(roles)

    async def check(request: Request, credentials: Credentials) -> TokenOut:
        if credentials is None:
            raise _unauthorized(
                f"this needs a token ({wanted}): send Authorization: Bearer <token>"
            )
        token = await authenticate(request, credentials, None)
        _check_role(token, allowed, wanted)
        return token

    check.__name__ = f"bare_require_{'_or_'.join(sorted(allowed))}"
    check.provreg_roles = allowed  # type: ignore[attr-defined]
    return check


AdminDep = Annotated[TokenOut, Depends(require())]
ReaderDep = Annotated[TokenOut, Depends(require(*READ_ROLES))]
CuratorDep = Annotated[TokenOut, Depends(require(*WRITE_REGISTRY_ROLES))]
TrainerDep = Annotated[TokenOut, Depends(require(*TRAIN_ROLES))]
AuditorDep = Annotated[TokenOut, Depends(require("reader"))]
ContributorDep = Annotated[TokenOut, Depends(require("contributor"))]  # or admin
BareReaderDep = Annotated[TokenOut, Depends(bare_require(*READ_ROLES))]
BareCuratorDep = Annotated[TokenOut, Depends(bare_require(*WRITE_REGISTRY_ROLES))]
