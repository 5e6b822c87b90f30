"""Specification: time never runs backwards within a case (engine, timers, verify, import).

A record's ``at`` is evidence of when something happened; a trail whose times go
backwards is either a forgery or a clock error, and neither may pass silently.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from runtime_support import (
    FOUR_DATA,
    SECRETARY,
    SUPERVISOR,
    T0,
    four,
    new_engine,
    open_four,
)

from engine.audit.canonical import canonical_bytes
from engine.audit.jsonl import encode_line
from engine.audit.verify import verify_bytes, verify_records
from engine.errors import AuditError
from engine.runtime.clock import format_time, normalise
from engine.runtime.engine import TimeWentBackwards
from engine.runtime.transfer import import_log


def test_an_event_before_the_last_record_is_refused_and_nothing_is_recorded() -> None:
    """Rule: fire with ``at`` one second before the case's last record raises
    TimeWentBackwards naming both times; the case is unchanged."""
    engine, _clock = new_engine()
    engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)
    earlier = T0 - timedelta(seconds=1)
    with pytest.raises(TimeWentBackwards) as caught:
        engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=earlier)
    # Records hold instants in UTC, and so does the message.
    assert format_time(normalise(earlier)) in str(caught.value)
    assert format_time(normalise(T0)) in str(caught.value)
    assert engine.case("c1").seq == 1


def test_an_event_at_the_same_instant_as_the_last_record_is_accepted() -> None:
    """Rule (boundary): the same instant is not backwards, even written in another offset."""
    engine, _clock = new_engine()
    engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)
    same = T0.astimezone(UTC)
    payload = {"present": 4, "yes": 3}
    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload=payload, at=same)
    assert outcome.applied


def test_a_timer_overdue_past_a_later_record_fires_at_that_record_time() -> None:
    """Rule: a deadline that passed before a later record (a refusal) fires, when the worker
    gets to it, at that record's time, never before it."""
    engine, _clock = new_engine()
    last = open_four(engine, state="resolution_disclosed")
    refused_at = last + timedelta(days=8)  # after the 7-day disclosure deadline
    outcome = engine.fire("c1", "propose", actor=SUPERVISOR, payload={}, at=refused_at)
    assert not outcome.applied
    fired = engine.tick(last + timedelta(days=9))
    assert len(fired) == 1
    records = engine.records("c1")
    assert records[-1]["kind"] == "timer.fired"
    assert records[-1]["at"] == format_time(normalise(refused_at))
    assert verify_bytes(b"".join(encode_line(r) for r in records)).ok


def _rechained(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prev, out = records[0]["prev"], []
    for record in records:
        body = {k: v for k, v in record.items() if k != "hash"}
        body["prev"] = prev
        digest = hashlib.sha256(canonical_bytes(body)).hexdigest()
        out.append({**body, "hash": digest})
        prev = digest
    return out


def _backwards_log() -> tuple[list[dict[str, Any]], bytes]:
    engine, _clock = new_engine()
    open_four(engine, state="deliberated")
    records = [dict(r) for r in engine.records("c1")]
    records[2]["at"] = format_time(T0 - timedelta(minutes=1))  # before seq 2
    records = _rechained(records)
    return records, b"".join(encode_line(r) for r in records)


def test_verify_reports_a_record_whose_time_goes_backwards() -> None:
    """Rule: verify fails with time-backwards at the first record earlier than its
    predecessor, naming both times; records in memory are checked the same way."""
    records, log = _backwards_log()
    report = verify_bytes(log)
    assert report.failure is not None
    assert (report.failure.kind, report.failure.seq) == ("time-backwards", 3)
    assert records[1]["at"] in report.failure.message
    in_memory = verify_records(records)
    assert in_memory.failure is not None
    assert in_memory.failure.kind == "time-backwards"


def test_equal_times_in_different_offsets_verify() -> None:
    """Rule (boundary): an equal instant written with another offset is not backwards,
    though as text "00:00:00-01:00" sorts before "01:00:00Z"."""
    engine, _clock = new_engine()
    open_four(engine, state="proposed")
    records = [dict(r) for r in engine.records("c1")]
    records[0]["at"] = format_time(T0.astimezone(UTC))
    records[1]["at"] = format_time(T0.astimezone(timezone(timedelta(hours=-1))))
    assert records[1]["at"] < records[0]["at"]
    assert verify_bytes(b"".join(encode_line(r) for r in _rechained(records))).ok


def test_import_refuses_a_log_whose_time_goes_backwards() -> None:
    """Rule: case import reports the backwards record and stores nothing."""
    _records, log = _backwards_log()
    engine, _clock = new_engine()
    with pytest.raises(AuditError, match="time runs backwards"):
        import_log(engine, log.splitlines(keepends=True))
    assert engine.store.case_ids() == []
