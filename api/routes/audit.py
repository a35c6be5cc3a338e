"""``/audit/verify``: recompute the hash chain of the audit log (admin or reader)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import AuditorDep, SessionDep
from api.problems import responses
from registry import audit

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditReportOut(BaseModel):
    ok: bool
    rows: int
    head: str
    first_bad_id: int | None = None
    problem: str | None = None


@router.get("/verify", response_model=AuditReportOut, responses=responses(401, 403))
def verify(session: SessionDep, _: AuditorDep) -> AuditReportOut:
    """A broken chain is a 200 with ``ok: false`` naming the first bad row."""
    return AuditReportOut(**asdict(audit.verify(session)))
