"""OpenLineage run events for training runs, through ``openlineage-python``.

Job ``provreg/train`` in the registry's namespace; its input is the manifest as a dataset (name =
the manifest hash) with the ``provreg_manifest`` facet (schema: ``FACET_SCHEMA_URL``, shipped as
``registry/data/ProvregManifestDatasetFacet.json``); on COMPLETE its output is the weights, a
MODEL dataset whose version is their SHA-256; continued training carries a ``parent`` facet.

Events are queued on the session and sent only after its transaction commits (a rolled-back
run emits nothing). A consumer that is down never fails a run: the error is logged.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.base import DatasetFacet
from openlineage.client.generated.dataset_type_dataset import DatasetTypeDatasetFacet
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.parent_run import Job as ParentJob
from openlineage.client.generated.parent_run import ParentRunFacet
from openlineage.client.generated.parent_run import Run as ParentRun
from sqlalchemy import event, select
from sqlalchemy.orm import Session

import registry
from registry.config import get_settings
from registry.db.models import Attestation, Manifest, TrainingRun, Weights
from registry.db.types import utcnow

log = logging.getLogger(__name__)

JOB_NAME = "provreg/train"
FACET_SCHEMA_URL = (
    "https://provreg.dev/spec/facets/1-0-0/ProvregManifestDatasetFacet.json"
    "#/$defs/ProvregManifestDatasetFacet"
)
_QUEUE = "provreg.lineage"
_LISTENING = "provreg.lineage.listening"


def producer() -> str:
    return f"https://provreg.dev/provreg/{registry.__version__}"


def namespace() -> str:
    return f"provreg://{get_settings().registry_id}"


@attr.define
class ProvregManifestDatasetFacet(DatasetFacet):
    """The manifest a run trained on: what makes the input dataset verifiable."""

    manifest: str
    merkleRoot: str
    treeSize: int
    licences: list[str]
    intendedUse: str
    attestation: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def _run_uuid(run_id: str) -> str:
    return str(uuid.UUID(hex=run_id))  # run ids are UUID4 hex: the spec wants the UUID form


def run_event(session: Session, run: TrainingRun, state: RunState) -> RunEvent:
    """The event for ``run`` entering ``state``, from the registry's rows."""
    ns, made_by = namespace(), producer()
    manifest = session.get_one(Manifest, run.manifest_hash)
    document_licences = sorted({lic for lic in _licences(manifest)})
    signed = session.scalars(
        select(Attestation.digest).where(
            Attestation.subject_kind == "manifest", Attestation.subject == manifest.hash
        )
    ).first()
    manifest_facet = ProvregManifestDatasetFacet(
        manifest=manifest.hash,
        merkleRoot=manifest.merkle_root,
        treeSize=manifest.shard_count,
        licences=document_licences,
        intendedUse=manifest.intended_use,
        attestation=signed,
        producer=made_by,
    )
    inputs = [
        InputDataset(
            namespace=ns,
            name=manifest.hash,
            facets={
                "provreg_manifest": manifest_facet,
                "datasetVersion": DatasetVersionDatasetFacet(
                    datasetVersion=manifest.hash, producer=made_by
                ),
            },
        )
    ]
    outputs = []
    if state == RunState.COMPLETE:
        for w in session.scalars(
            select(Weights).where(Weights.run_id == run.id).order_by(Weights.created_at)
        ):
            outputs.append(
                OutputDataset(
                    namespace=ns,
                    name=f"weights/{os.path.basename(w.path) or w.sha256}",
                    facets={
                        "datasetType": DatasetTypeDatasetFacet(
                            datasetType="MODEL", producer=made_by
                        ),
                        "datasetVersion": DatasetVersionDatasetFacet(
                            datasetVersion=w.sha256, producer=made_by
                        ),
                    },
                )
            )
    facets: dict[str, Any] = {}
    if run.parent_run_id is not None:
        facets["parent"] = ParentRunFacet(
            run=ParentRun(runId=_run_uuid(run.parent_run_id)),
            job=ParentJob(namespace=ns, name=JOB_NAME),
            producer=made_by,
        )
    if state == RunState.FAIL and run.error:
        facets["errorMessage"] = ErrorMessageRunFacet(
            message=run.error, programmingLanguage="python", producer=made_by
        )
    return RunEvent(
        eventType=state,
        eventTime=utcnow().isoformat(),
        run=Run(runId=_run_uuid(run.id), facets=facets),
        job=Job(namespace=ns, name=JOB_NAME),
        inputs=inputs,
        outputs=outputs,
        producer=made_by,
    )


def _licences(manifest: Manifest) -> list[str]:
    import json

    return [lic["expression"] for lic in json.loads(manifest.document)["licences"]]


# --- sending ---------------------------------------------------------------------------------


def transport_config() -> dict[str, Any] | None:
    """The client configuration the settings name, or None when no consumer is configured."""
    settings = get_settings()
    transports: list[dict[str, Any]] = []
    if settings.openlineage_url:
        # a couple of quick retries: a consumer that is down must not hold a finished run up
        retry = {"total": 2, "backoff_factor": 0.2}
        transports.append(
            {"type": "http", "url": settings.openlineage_url, "timeout": 5, "retry": retry}
        )
    if settings.openlineage_file:
        transports.append(
            {"type": "file", "log_file_path": settings.openlineage_file, "append": True}
        )
    if settings.openlineage_console:
        transports.append({"type": "console"})
    if not transports:
        return None
    if len(transports) == 1:
        return {"transport": transports[0]}
    return {
        "transport": {"type": "composite", "transports": transports, "continue_on_failure": True}
    }


def emit_after_commit(session: Session, run: TrainingRun, state: RunState) -> None:
    """Queue the run's event; it is sent when ``session``'s transaction commits."""
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _send_queued)
        event.listen(session, "after_rollback", _drop_queued)
    session.info.setdefault(_QUEUE, []).append(run_event(session, run, state))


def _drop_queued(session: Session) -> None:
    session.info.pop(_QUEUE, None)


def _send_queued(session: Session) -> None:
    events = session.info.pop(_QUEUE, [])
    config = transport_config()
    if not events or config is None:
        return
    client = OpenLineageClient(config=config)
    for ev in events:
        try:
            client.emit(ev)
        except Exception as exc:  # a lineage consumer being down must not fail a committed run
            log.warning("provreg: OpenLineage event for run %s not sent: %s", ev.run.runId, exc)
