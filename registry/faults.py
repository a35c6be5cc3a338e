"""Crash points for the fault suite: named places where a test can make the process die.

Production code calls ``crash_point("ingest.before_commit")`` at the moments where a hard crash
(SIGKILL, power loss) is most dangerous. Nothing happens unless the environment variable
``PROVREG_CRASH_AT`` names that point: ``NAME`` kills the process the first time it is reached,
``NAME:N`` the N-th time (``train.after_step:13`` dies right after step 13 is reported). The
suite in ``tests/faults/`` uses it to prove that a kill at each point leaves the registry
consistent. It is the only test switch in production code, and it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "PROVREG_CRASH_AT"

_reached: Counter[str] = Counter()


def crash_at(name: str, n: int = 1) -> dict[str, str]:
    """The environment entry that makes ``crash_point(name)`` kill the process the n-th time."""
    return {ENV: name if n == 1 else f"{name}:{n}"}


def crash_point(name: str) -> None:
    """SIGKILL this process here when ``PROVREG_CRASH_AT`` names this point (and count)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == (int(count) if count else 1):
        os.kill(os.getpid(), signal.SIGKILL)
