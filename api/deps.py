"""What routes depend on: one transaction per request, and who is asking.

- ``SessionDep``: the request's one transaction. It commits after the route returns and before
  the response is sent (``scope="function"``), and rolls back on any error, so a failed request
  changes nothing and a 2xx means the write is durable.
- ``require(*roles)``: the caller's token, which must have one of ``roles``; ``admin`` passes
  every check. No token gives 401, a wrong role 403. The ``*Dep`` aliases below name the rules.

Route functions that touch the database are plain ``def``: FastAPI runs them, and these
dependencies, in its thread pool, so a blocking database call never stalls the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from registry import tokens
from registry.db import transaction
from registry.errors import NotPermitted
from registry.tokens import TokenOut

ANONYMOUS = "anonymous"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Who may do what (admin may do everything; see registry/tokens.py for the roles).
READ_ROLES = ("curator", "trainer", "reader")
WRITE_REGISTRY_ROLES = ("curator",)  # contributors, sources, datasets, shards, manifests
TRAIN_ROLES = ("trainer",)  # open runs, report consumption

_bearer = HTTPBearer(auto_error=False, description="a provreg token: `provreg token create`")


def get_session(request: Request) -> Iterator[Session]:
    """The request's transaction; write requests take SQLite's write lock up front."""
    engine = request.app.state.engine
    write = request.method not in READ_METHODS
    with transaction(engine, actor=ANONYMOUS, write=write) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def require(*roles: str) -> Callable[[SessionDep, Credentials], TokenOut]:
    """A dependency that authenticates the caller and checks their role.

    The audit log names the token for every write made in the request.
    """
    allowed = frozenset(roles) | {"admin"}
    wanted = " or ".join(sorted(allowed))

    def check(session: SessionDep, credentials: Credentials) -> TokenOut:
        if credentials is None:
            raise _unauthorized(
                f"this needs a token ({wanted}): send Authorization: Bearer <token>"
            )
        token = tokens.authenticate(session, credentials.credentials)
        if token is None:
            raise _unauthorized("the token is unknown or revoked", "invalid_token")
        if token.role not in allowed:
            raise NotPermitted(f"token {token.name!r} has role {token.role!r}; this needs {wanted}")
        session.info["actor"] = token.name
        return token

    check.__name__ = f"require_{'_or_'.join(sorted(allowed))}"
    return check


AdminDep = Annotated[TokenOut, Depends(require())]
ReaderDep = Annotated[TokenOut, Depends(require(*READ_ROLES))]
CuratorDep = Annotated[TokenOut, Depends(require(*WRITE_REGISTRY_ROLES))]
TrainerDep = Annotated[TokenOut, Depends(require(*TRAIN_ROLES))]
AuditorDep = Annotated[TokenOut, Depends(require("reader"))]
