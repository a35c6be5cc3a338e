"""Property-based requests from the OpenAPI schema against a live server (schemathesis).

Bounded: ``EXAMPLES`` valid and ``EXAMPLES`` invalid requests per operation (about 300 in all)
with an admin token. Every default check of ``call_and_validate`` must pass: no 5xx, documented
status codes and content types, bodies that match the schema, invalid input rejected. Except
one: ``positive_data_acceptance`` wants every schema-valid request accepted, but the services
check more than a JSON schema can say (an SPDX expression, a source kind, an opaque cursor), so
a schema-valid request may rightly get a 422 problem.

Schemathesis' pytest plugin does not run under pytest 9 yet, so this drives its strategies with
Hypothesis directly.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.api.conftest import LiveServer, Tokens

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

EXAMPLES = 15


def test_api_conforms_to_its_schema(server: LiveServer, api_tokens: Tokens) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = api_tokens.auth("admin")
    # Configured on the schema (not per call), so the checks know the token is the caller's and
    # do not count a negative case that "drops" Authorization as accepted invalid data.
    schema.config.update(headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    authorised: list[int] = []  # statuses of operations that need a token
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
                if case.operation.path != "/healthz":
                    authorised.append(response.status_code)

            try:
                run()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid request to make.
                assert mode is GenerationMode.NEGATIVE, operation.label

    # The configured token reached the server: most requests got past authentication.
    assert sum(1 for s in authorised if s != 401) > 0.9 * len(authorised), authorised
