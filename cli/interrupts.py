"""SIGTERM as Ctrl-C, for the commands that write files: their cleanup runs either way.

Python's default for SIGTERM is to die at once, leaving staging directories and half-recorded
runs behind; raised as ``KeyboardInterrupt`` instead, the same ``finally`` and ``except`` blocks
that handle Ctrl-C undo an ingest or mark a run interrupted. (SIGKILL cannot be caught: what it
leaves, ``shard verify --all --gc`` and ``train --resume`` deal with.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import typer

from cli.common import err_console


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def terminate_as_interrupt(undone: str) -> Iterator[None]:
    """Inside the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread; either stop
    ends the command with one line saying what was ``undone`` (exit status 130, as for SIGINT),
    after the block's own cleanup ran."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(f"provreg: interrupted: {undone}", markup=False)
        raise typer.Exit(130) from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
