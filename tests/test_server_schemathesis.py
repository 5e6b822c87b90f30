"""Specification: schemathesis, driven by ``/openapi.json``, finds no server error (in process).

Every operation gets a bounded number of generated requests (valid and invalid)
with an admin token, against an app over an in-memory store that already holds
the bundled procedure and an open case, so that generated requests can reach
the engine as well as the validators. The run takes seconds.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from server_support import ADMIN_TOKEN, auth, client, open_case, seed

_http = client()
open_case(_http, seed(_http), "2024-001")
schema = schemathesis.openapi.from_asgi("/openapi.json", _http.app)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case) -> None:
    """Whatever schemathesis sends to an operation, the answer is never a 5xx."""
    case.call_and_validate(headers=auth(ADMIN_TOKEN), checks=[not_a_server_error])
