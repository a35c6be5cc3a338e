"""Crash points for the fault suite: named places where a test can make the process die.

Production code calls ``crash_point("ingest.before_commit")`` at the moments where a hard crash
(SIGKILL, power loss) is most dangerous. Nothing happens unless the environment variable
``PROVREG_CRASH_AT`` names that point: ``NAME`` kills the process the first time it is reached,
``NAME:N`` the N-th time (``train.after_step:13`` dies right after step 13 is reported). The
suite in ``tests/faults/`` uses it to prove that a kill at each point leaves the registry
consistent. ``PROVREG_CRASH_SIGNAL`` (``TERM``, ``INT``) sends another signal instead of
SIGKILL, to check what a catchable stop cleans up. It is the only test switch in production
code, and it costs one dict lookup.

The points: ``ingest.after_files`` (shard files written, none in place),
``ingest.before_commit`` (placed and registered, not committed), ``ingest.after_commit`` (in
the CLI, before it reports), ``train.after_step``, ``train.during_checkpoint`` (the checkpoint
written to its temporary name, not renamed), ``settle.before_commit``, ``takedown.after_files``
(replacement shards written, none in place), ``takedown.before_commit`` (placed, revoked,
registered, audited, not committed).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "PROVREG_CRASH_AT"
SIGNAL_ENV = "PROVREG_CRASH_SIGNAL"

_reached: Counter[str] = Counter()


def crash_at(name: str, n: int = 1, *, signal_name: str = "KILL") -> dict[str, str]:
    """The environment entries that make ``crash_point(name)`` kill the process the n-th time
    (with SIGKILL, or the signal named)."""
    env = {ENV: name if n == 1 else f"{name}:{n}"}
    return env | ({SIGNAL_ENV: signal_name} if signal_name != "KILL" else {})


def crash_point(name: str) -> None:
    """SIGKILL this process here when ``PROVREG_CRASH_AT`` names this point (and count).

    A catchable signal (``PROVREG_CRASH_SIGNAL``) is delivered to this thread before
    ``os.kill`` returns, so its handler runs here, as if it had come at this point."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == (int(count) if count else 1):
        sig = getattr(signal, "SIG" + os.environ.get(SIGNAL_ENV, "KILL"))
        os.kill(os.getpid(), sig)
