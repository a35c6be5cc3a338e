"""Which process a run's trainer is, and whether it is gone (issue 19, defect 12).

A run records the host and pid of the process training it, when it opens or resumes and with
every heartbeat. A resume on that same host can then ask the kernel: if the pid is gone, the
run was killed (SIGKILL, a crash), and it may resume at once instead of waiting for its
heartbeat to go stale. Anywhere else, nothing can be known about that pid, and the heartbeat
stays the only evidence.

"Host" means where a pid names the same process: the host name, and on Linux the pid namespace
too (two containers may share a host name, not their pids). A pid that is alive (reused, or
owned by someone else) counts as alive: the check only shortens the wait when the kernel says
the process exited (no such pid, or a zombie waiting for its parent).
"""

from __future__ import annotations

import os
import socket
from functools import cache


@cache
def this_host() -> str:
    """This machine's host name, with its pid namespace where the kernel has one."""
    name = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return name
    return f"{name} {namespace}"


def this_process() -> tuple[str, int]:
    """(host, pid) of the calling process, as a run records them."""
    return this_host(), os.getpid()


def is_gone(host: str | None, pid: int | None) -> bool:
    """Whether the process ``pid`` on ``host`` has certainly exited (only this host can tell)."""
    if host is None or pid is None or host != this_host() or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited and is waiting for its parent to collect it (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].startswith(b"Z")
