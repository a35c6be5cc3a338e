"""Training runs: their lifecycle, the consumption they record, and the weights they wrote.

Callers write ``from registry import runs`` and ``runs.open_run(session, ...)``; every name in
``__all__`` is public, the modules behind them are:

* ``lifecycle``: open and resume a run, record progress (consumption and cursor, together) and
  heartbeats, finish, complete, fail or interrupt it; read runs, their consumption, and the
  loss summary a checkpoint records.
* ``weights``: record the weights a run wrote, read a weights file's stamp (without torch), and
  verify a file offline or against the registry, in both directions.
* ``processes``: the host and pid a run records for its trainer, and whether that process has
  exited (a resume on its host need not wait for the heartbeat).
* ``_rows`` (internal): finding a run, its liveness and manifest chain, and its ``RunOut``.

The shapes that leave (``RunOut``, ``ConsumptionOut``, ``WeightsOut``, ``WeightsReport``) and the
``Progress`` report a trainer sends are ``registry.entities.runs``, re-exported here.
"""

from registry.entities.runs import ConsumptionOut, Progress, RunOut, WeightsOut, WeightsReport
from registry.runs._rows import (
    DEFAULT_HEARTBEAT_S,
    STALE_HEARTBEATS,
    heartbeat_interval,
    is_stale,
    manifest_chain,
)
from registry.runs.lifecycle import (
    complete_run,
    consumption,
    fail_run,
    finish_run,
    get_run,
    heartbeat,
    list_runs,
    loss_summary,
    mark_interrupted,
    open_run,
    record_progress,
    resume_run,
    runs_page,
)
from registry.runs.weights import (
    check_weights,
    get_weights,
    header_metadata,
    read_stamp,
    read_weights_header,
    record_weights,
    stamp_entries,
    verify_weights,
    verify_weights_offline,
)

__all__ = [
    "DEFAULT_HEARTBEAT_S",
    "STALE_HEARTBEATS",
    "ConsumptionOut",
    "Progress",
    "RunOut",
    "WeightsOut",
    "WeightsReport",
    "check_weights",
    "complete_run",
    "consumption",
    "fail_run",
    "finish_run",
    "get_run",
    "get_weights",
    "header_metadata",
    "heartbeat",
    "heartbeat_interval",
    "is_stale",
    "list_runs",
    "loss_summary",
    "manifest_chain",
    "mark_interrupted",
    "open_run",
    "read_stamp",
    "read_weights_header",
    "record_progress",
    "record_weights",
    "resume_run",
    "runs_page",
    "stamp_entries",
    "verify_weights",
    "verify_weights_offline",
]
