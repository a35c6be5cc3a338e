"""Lineage in the formats data teams already run (docs/lineage.md).

* ``openlineage``: OpenLineage run events (START, COMPLETE, FAIL, ABORT) for every run, built
  with ``openlineage-python`` and sent after the transaction commits, to the transports the
  settings name (a file, the console, HTTP).
* ``model_card``: a Hugging Face model card for weights, through ``huggingface_hub``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from registry.db.models import TrainingRun


def configured() -> bool:
    """Whether any OpenLineage consumer is configured (a file, the console or a URL)."""
    s = get_settings()
    return bool(s.openlineage_url or s.openlineage_file or s.openlineage_console)


def run_changed(session: Session, run: TrainingRun, state: str) -> None:
    """Queue the OpenLineage event of ``run`` entering ``state`` (START, COMPLETE, FAIL, ABORT);
    sent after the commit. ``openlineage-python`` is imported only when a consumer is
    configured: it costs about a second of start-up."""
    if not configured():
        return
    from openlineage.client.event_v2 import RunState

    from registry.lineage.openlineage import emit_after_commit

    emit_after_commit(session, run, RunState(state))
