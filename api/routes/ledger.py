"""The ledger over HTTP: admins settle runs and read the summary; a contributor reads only their
own statement. The same services as ``provreg settle``, ``statement`` and ``ledger summary``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import AdminDep, ContributorDep, SessionDep
from api.problems import responses
from api.routes.runs import RunRef
from registry import ledger, runs
from registry.entities.auth import TokenOut
from registry.entities.ledger import LedgerSummaryOut, SettlementOut, StatementOut, UsageOut
from registry.errors import NotPermitted
from registry.names import lookup_key
from registry.shards.store import ShardStore

router = APIRouter(tags=["ledger"])
AUTH = (401, 403)


@router.post(
    "/runs/{run}/settle", response_model=SettlementOut, responses=responses(*AUTH, 404, 409, 422)
)
def settle_run(run: RunRef, request: Request, session: SessionDep, _: AdminDep) -> SettlementOut:
    """Turn a completed run's consumption into ledger entries (admin). Settling again adds
    nothing and says so (``already_settled``), so a client may retry after a lost answer."""
    store: ShardStore = request.app.state.store
    return ledger.settle_run(session, runs.get_run(session, run).id, store=store)


@router.get(
    "/contributors/{name}/statement",
    response_model=StatementOut,
    responses=responses(*AUTH, 404, 422),
)
def contributor_statement(
    name: str,
    session: SessionDep,
    token: ContributorDep,
    date_from: Annotated[
        date | None, Query(alias="from", description="first day, inclusive (UTC)")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="last day, inclusive (UTC)")
    ] = None,
) -> StatementOut:
    """One contributor's entries with per-run and per-source subtotals and totals per currency.

    An admin may read anyone's; a contributor token only its own contributor's.
    """
    _own(token, name, "statement")
    return ledger.statement(session, name, date_from=date_from, date_to=date_to)


@router.get(
    "/contributors/{name}/usage", response_model=UsageOut, responses=responses(*AUTH, 404, 422)
)
def contributor_usage(
    name: str, request: Request, session: SessionDep, token: ContributorDep
) -> UsageOut:
    """Which of the contributor's records each settled run consumed, and how many tokens.

    An admin may read anyone's; a contributor token only its own contributor's (403 otherwise,
    before anything is looked up, so nothing about another contributor leaks).
    """
    _own(token, name, "usage")
    store: ShardStore = request.app.state.store
    return ledger.usage(session, name, store=store)


def _own(token: TokenOut, name: str, what: str) -> None:
    if token.role == "contributor" and token.contributor != lookup_key(name):  # NFC, as stored
        raise NotPermitted(
            f"token {token.name!r} belongs to contributor {token.contributor!r}; "
            f"it cannot read {name!r}'s {what}"
        )


@router.get("/ledger/summary", response_model=LedgerSummaryOut, responses=responses(*AUTH))
def ledger_summary(session: SessionDep, _: AdminDep) -> LedgerSummaryOut:
    """Totals per currency, per source and per run or pool, net of reversals (admin)."""
    return ledger.ledger_summary(session)
