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


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
