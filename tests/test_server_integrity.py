"""Specification: the HTTP API refuses another text under an existing id and version (409),
changing nothing."""

from __future__ import annotations

from server_support import ADMIN_TOKEN, auth, client, procedure_text, register


def test_registering_another_text_under_a_taken_version_is_409_naming_both_hashes() -> None:
    """Rule: POST /procedures with a changed text under the same id and version answers 409
    procedure-version-taken, naming both sha256; the listing keeps the first text only."""
    http = client()
    first = register(http)
    laxer = procedure_text().replace('more_than: "1/2"', 'more_than: "1/4"', 1)
    assert laxer != procedure_text()
    answer = http.post(
        "/procedures",
        content=laxer.encode("utf-8"),
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["code"] == "procedure-version-taken"
    assert first in body["detail"]
    listed = http.get("/procedures", headers=auth(ADMIN_TOKEN)).json()
    shas = [item["sha256"] for item in listed["procedures"]]
    assert shas == [first]


def test_the_listing_says_how_many_cases_pin_each_version() -> None:
    """Rule: GET /procedures gives each version's id, version, sha256 and case count."""
    from server_support import open_case

    http = client()
    sha = register(http)
    assert open_case(http, sha, "c-1").status_code == 201
    listed = http.get("/procedures", headers=auth(ADMIN_TOKEN)).json()["procedures"]
    assert [(item["sha256"], item["cases"]) for item in listed] == [(sha, 1)]
