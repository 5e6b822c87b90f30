"""The in-process client of server_support: apps reused across tests start with nothing.

``client`` may hand a test an app (routes, middleware) that an earlier test used; what
the app keeps between requests must then be new: engine and store, tokens, sessions.
"""

from __future__ import annotations

import server_support
from server_support import ADMIN_TOKEN, PRINCIPALS, auth, client, lending_apps, open_case, seed


def test_a_reused_app_has_a_new_engine_store_and_session_table() -> None:
    """An app taken after a test is done with it answers as a new one: no case, no session."""
    with lending_apps():
        first = client()
        assert open_case(first, seed(first), "c-1").status_code == 201
        session = first.app.state.web.sessions.open(PRINCIPALS[ADMIN_TOKEN])  # type: ignore[attr-defined]
        assert first.get("/cases", headers=auth(ADMIN_TOKEN)).json()["cases"] != []
    with lending_apps():
        again = client()
        assert again.app is first.app
        assert again.get("/cases", headers=auth(ADMIN_TOKEN)).json()["cases"] == []
        assert again.app.state.web.sessions.get(session.id) is None  # type: ignore[attr-defined]


def test_two_clients_of_one_test_never_share_an_app() -> None:
    """Within a test every client has its own app, and other options mean another app."""
    with lending_apps():
        client()
        client(max_body=1024)
    with lending_apps():
        one, two, small = client(), client(), client(max_body=1024)
        assert len({id(one.app), id(two.app), id(small.app)}) == 3


def test_an_app_made_outside_a_test_is_never_lent() -> None:
    """A module's client (made at import, or by a wider fixture) is not handed to a test."""
    outer, server_support._LENT = server_support._LENT, None
    try:
        kept = client()
    finally:
        server_support._LENT = outer
    with lending_apps():
        taken = [client() for _ in range(5)]
    assert all(other.app is not kept.app for other in taken)
