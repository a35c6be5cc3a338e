"""What every command shares: the engine, one transaction per command, and output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry.config import get_settings
from registry.db.engine import make_engine, transaction
from registry.db.migrate import ensure_at_head

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

JSON_HELP = "print JSON for scripts instead of text for people"


@lru_cache(maxsize=1)
def engine() -> Engine:
    """The registry's engine; refuses a database that is not at this code's schema revision."""
    eng = make_engine(get_settings().database_url)
    ensure_at_head(eng)
    return eng


@contextmanager
def tx(*, write: bool = True) -> Iterator[Session]:
    """One command, one transaction: it commits whole or leaves the registry as it was."""
    with transaction(engine(), actor=get_settings().actor, write=write) as session:
        yield session


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def emit(value: Any, as_json: bool, human: Callable[[], None]) -> None:
    """JSON for scripts, or ``human()`` for people."""
    if as_json:
        print_json(value)
    else:
        human()


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)
