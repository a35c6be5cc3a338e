"""The fault suite, API fuzz (issue 19): Hypothesis-driven requests from the OpenAPI schema
(schemathesis' strategies), over every route, as every kind of caller, against a real server.

For each operation and both generation modes (schema-valid and schema-invalid requests), a few
derandomized examples are made, and each is sent as every credential: a token of every role, a
revoked token, a malformed one, and none. Every response must be below 500 and hold no traceback text, and a refused
request (4xx) must leave the database exactly as it was (``snapshot``). The registry holds a
contributor, a source, a dataset with shards, a manifest and a run, so that lookups can hit.
``tests/api/test_schemathesis.py`` checks schema conformance with an admin token; this checks
robustness as every caller. Bounded: about 1,500 requests a database, under a minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from sqlalchemy import Engine

from registry import manifests, runs
from tests.api.conftest import LiveServer, Tokens, api_tokens, server, store_dir  # noqa: F401
from tests.conftest import snapshot
from tests.registry import factories as f
from tests.registry.runs.conftest import SHAPE

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

pytestmark = pytest.mark.faults

EXAMPLES = 2  # per operation and mode, each sent as every credential
TRACEBACK_TEXT = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.")


@pytest.fixture
def world(session_factory: Callable[..., Any]) -> None:
    with session_factory() as s:
        src = f.source(s, "stdlib", licence="MIT")
        f.shards(s, src, "code", 3)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
        )
        runs.open_run(s, manifest_ref=m.hash, config=SHAPE, seed=0, tokenizer="t", code_version="c")


def test_no_request_from_any_caller_is_a_5xx_or_changes_what_it_refuses(
    server: LiveServer,  # noqa: F811
    api_tokens: Tokens,  # noqa: F811
    engine: Engine,
    world: None,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40, len(operations)
    credentials: dict[str, dict[str, str]] = {
        role: api_tokens.auth(role) for role in sorted(api_tokens.by_role)
    }
    credentials["revoked"] = {"Authorization": f"Bearer {api_tokens.revoked}"}
    credentials["malformed"] = {"Authorization": "Bearer not-a-token\u00e9"}
    credentials["none"] = {}
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    state = {"before": snapshot(engine)}
    http = requests.Session()  # one keep-alive connection: the server's cost, not TCP set-up

    def check(case: Any, who: str, headers: dict[str, str], reads: bool) -> None:
        response = case.call(session=http, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        label = f"{who} {case.operation.label} -> {response.status_code}"
        if response.status_code >= 500:
            problems.append(f"{label}: {response.text[:300]}")
        if any(t in response.text for t in TRACEBACK_TEXT):
            problems.append(f"{label}: traceback text: {response.text[:300]}")
        if reads:
            return  # checked once after the batch: a read must change nothing at all
        after = snapshot(engine)
        if 400 <= response.status_code < 500 and after != state["before"]:
            problems.append(f"{label}: a refused request changed the database")
        state["before"] = after

    for operation in operations:
        reads = operation.method.upper() in ("GET", "HEAD")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for case in _cases(operation, mode):
                for who, headers in credentials.items():
                    check(case, who, headers, reads)
            if reads and snapshot(engine) != state["before"]:  # a read never writes
                problems.append(f"{operation.label}: a read changed the database")
                state["before"] = snapshot(engine)

    sent = sum(statuses.values())
    print(
        f"fault suite: {sent} requests fuzzed over {len(operations)} operations as "
        f"{len(credentials)} callers; statuses {dict(sorted(statuses.items()))}; "
        f"{sum(n for s, n in statuses.items() if s >= 500)} 5xx, {len(problems)} problems"
    )
    assert sent >= len(operations) * len(credentials) * 2
    assert not problems, "\n".join(problems[:20])


def _cases(operation: Any, mode: Any) -> list[Any]:
    """``EXAMPLES`` derandomized cases of ``operation`` in ``mode`` (none where the mode has
    nothing to make: an operation without inputs has no invalid request)."""
    cases: list[Any] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        if case.headers:
            case.headers.pop("Authorization", None)
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label
    return cases
