"""Specification: schemathesis, driven by ``/openapi.json``, finds no server error (in process).

Every operation gets a bounded number of generated requests (valid and invalid)
with an admin token, against an app over an in-memory store that already holds
the bundled procedure and an open case, so that generated requests can reach
the engine as well as the validators. The run takes seconds.

The schema comes from a fixture (``schemathesis.pytest.from_fixture``), not from
module import: schemathesis then builds each operation's test, coverage examples
included, when the test runs, so only the worker that runs it pays for that, not
every worker that collects the module. Each operation still runs as its own
subtest with the same settings and check; the operations are split by method
into two tests so that neither holds one worker for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from server_support import ADMIN_TOKEN, auth, client, open_case, seed


@pytest.fixture(scope="module")
def api_schema() -> BaseSchema:
    """The app's OpenAPI schema, over a store holding the bundled procedure and a case."""
    http = client()
    open_case(http, seed(http), "2024-001")
    return schemathesis.openapi.from_asgi("/openapi.json", http.app)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis' lazy tests read and rename ``node._nodeid``, which pytest 9.2 no longer has.

    Giving the node that attribute lets them run; pytest still reports the test by
    its own id, and each operation by its subtest label.
    """
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")

generated: Callable[[Callable[..., Any]], Callable[..., Any]] = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _no_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth(ADMIN_TOKEN), checks=[not_a_server_error])


@pytest.mark.slow
@schema.include(method="GET").parametrize()
@generated
def test_no_generated_read_gets_a_server_error(case: schemathesis.Case) -> None:
    """Whatever schemathesis sends to a GET operation, the answer is never a 5xx."""
    _no_server_error(case)


@pytest.mark.slow
@schema.exclude(method="GET").parametrize()
@generated
def test_no_generated_write_gets_a_server_error(case: schemathesis.Case) -> None:
    """Whatever schemathesis sends to any other operation, the answer is never a 5xx."""
    _no_server_error(case)
