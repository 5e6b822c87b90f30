"""Shared helpers for the store tests: the test procedure, a path to a timer, PostgreSQL.

PostgreSQL tests use the server the development and CI machines run on
127.0.0.1:5432 (database ``test``; ``$YISHI_TEST_PG`` overrides). Each test gets
its own schema, dropped afterwards. When the server cannot be reached the tests
are skipped on a developer's machine but FAIL when ``CI=true``: CI must never
pass by silently not testing PostgreSQL.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.audit.verify import CaseHead, verify_lines
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure
from engine.runtime.engine import Engine
from engine.runtime.types import Actor
from engine.storage.base import Store

ROOT = Path(__file__).resolve().parent.parent
PROCEDURE_PATH = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
PG_BASE = os.environ.get("YISHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=CST)

SECRETARY = Actor(id="张书记", roles=("branch_secretary",))
DIRECTOR = Actor(id="李主任", roles=("village_director",))
COMMITTEE = Actor(id="村委会", roles=("village_committee",))

DATA: dict[str, Any] = {
    "matter": "村内主干道硬化",
    "branch_committee_members": 5,
    "two_committees_members": 9,
    "voting_party_members": 41,
    "representatives": 57,
    "reconvened": 0,
}

RECONVENE: dict[str, Any] = {"present": 2, "yes": 2}
"""A ``propose`` payload that applies and stays in ``drafting`` (too few present): repeatable."""

TO_DISCLOSURE: list[tuple[str, Actor, dict[str, Any]]] = [
    ("propose", SECRETARY, {"present": 4, "yes": 3}),
    ("deliberate", SECRETARY, {"present": 9, "yes": 8}),
    ("review", SECRETARY, {"present": 30, "yes": 21}),
    ("resolve", DIRECTOR, {"present": 38, "yes": 20}),
    ("disclose_resolution", COMMITTEE, {"notice": "关于村内主干道硬化的决议"}),
]
"""From ``drafting`` to ``resolution_disclosed``, whose 7-day deadline fires a timer."""


@cache
def procedure() -> CompiledProcedure:
    """The bundled 四议两公开, compiled once."""
    return load_procedure(PROCEDURE_PATH)


def open_case(engine: Engine, case_id: str, at: datetime = T0) -> None:
    """Open a case of the test procedure."""
    engine.open_case(procedure(), case_id, DATA, actor=SECRETARY, at=at)


def to_disclosure(engine: Engine, case_id: str, at: datetime = T0) -> datetime:
    """Open a case and take it to ``resolution_disclosed``; return when its timer is due."""
    open_case(engine, case_id, at)
    when = at
    for event, actor, payload in TO_DISCLOSURE:
        when += timedelta(hours=1)
        outcome = engine.fire(case_id, event, actor=actor, payload=payload, at=when)
        assert outcome.applied, outcome.reason
    return when + timedelta(days=7)


def verify_store(store: Store) -> dict[str, int]:
    """Check every case's chain and snapshot; return each case's seq.

    Every chain must verify, and the snapshot must sit on the last record.
    """
    heads = {}
    for case_id in store.case_ids():
        lines = store.export_lines(case_id)
        report = verify_lines(lines)
        assert report.ok, f"{case_id}: {report.failure}"
        snapshot = store.get_case(case_id)
        assert snapshot is not None
        assert report.heads[0].seq == snapshot.seq == len(lines)
        assert report.heads[0].hash == snapshot.head
        heads[case_id] = snapshot.seq
    return heads


def verify_store_after(store: Store, kept: dict[str, CaseHead]) -> dict[str, CaseHead]:
    """Check what every case appended after its ``kept`` head; return each case's new head.

    The record at each kept head must still carry the kept hash; the records after it
    must continue the chain from there (``verify_lines(..., after=...)``), and the
    snapshot must sit on the last one. Records before a kept head are not re-checked:
    a caller that keeps heads across rounds runs ``verify_store`` once at the end.
    """
    heads = {}
    for case_id in store.case_ids():
        lines = store.export_lines(case_id)
        head = kept.get(case_id)
        if head is None:
            report = verify_lines(lines)
        else:
            assert len(lines) >= head.seq, f"{case_id}: seq {head.seq} was verified, then lost"
            assert json.loads(lines[head.seq - 1])["hash"] == head.hash, f"{case_id}: changed"
            report = verify_lines(lines[head.seq :], after=[head])
        assert report.ok, f"{case_id}: {report.failure}"
        snapshot = store.get_case(case_id)
        assert snapshot is not None
        assert report.heads[0].seq == snapshot.seq == len(lines)
        assert report.heads[0].hash == snapshot.head
        heads[case_id] = report.heads[0]
    return heads


@cache
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    import psycopg

    try:
        with psycopg.connect(PG_BASE, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL store URL in a fresh schema, dropped afterwards (fixture body)."""
    import psycopg
    from psycopg import sql

    problem = pg_problem()
    if problem is not None:
        message = f"PostgreSQL at {PG_BASE} is unreachable: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    schema = f"yishi_test_{uuid.uuid4().hex[:12]}"
    yield f"{PG_BASE}?schema={schema}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
