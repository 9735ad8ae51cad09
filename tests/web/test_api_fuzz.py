"""An OpenAPI fuzzer (schemathesis) against the desk's API, served by the
real `datagov serve` on 127.0.0.1 over the test workspace: for every
operation the schema describes, generated paths, queries and bodies, signed
in and not, never get a 500, and every answer has the content type it claims.

Schemathesis's own pytest plugin does not load under this pytest, so each
operation's strategy is driven by Hypothesis directly."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance

CHECKS = (not_a_server_error, content_type_conformance)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def operations(live_desk):
    schema = schemathesis.openapi.from_url(f"{live_desk.url}/api/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 12, [op.label for op in found]
    return found


def test_signed_in_no_operation_fails_with_a_server_error(operations, live_desk):
    bearer = {"Authorization": f"Bearer {live_desk.token}"}

    def signed_in(case) -> None:
        response = case.call(headers=bearer)
        case.validate_response(response, checks=CHECKS)
        assert response.status_code < 500, (case.operation.label, response.status_code, response.text[:300])

    for op in operations:
        FUZZ(given(op.as_strategy())(signed_in))()


def test_signed_out_every_operation_answers_401(operations):
    def signed_out(case) -> None:
        response = case.call()
        if case.operation.path == "/api/session":  # signing in needs no session; on the DuckDB file it is refused
            assert response.status_code in (400, 422), response.text[:300]
        else:
            assert response.status_code in (401, 422), (case.operation.label, response.status_code)

    for op in operations:
        FUZZ(given(op.as_strategy())(signed_out))()
