"""Minimal request dependencies for the disclosure routes (the API branch has the full module:
at merge keep its ``api/deps.py``; it provides the same ``get_session`` and ``SessionDep``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from registry.db import transaction


def get_session(request: Request) -> Iterator[Session]:
    """The request's one transaction over ``app.state.engine``; reads only."""
    with transaction(request.app.state.engine, actor="anonymous", write=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
