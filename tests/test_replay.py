"""engine.runtime.replay: re-execute an audit trail and find the first divergence."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest
from runtime_support import (
    CLERK,
    COMMITTEE,
    CST,
    DIRECTOR,
    FROZEN_HAPPY_PATH,
    SECRETARY,
    T0,
    TOY_DATA,
    four,
    new_engine,
    open_four,
    toy,
)

from engine.audit.chain import GENESIS, seal
from engine.definition.compile import CompiledProcedure
from engine.runtime.replay import ProcedureMissing, parse_as_of, replay_records
from engine.runtime.scenario import load_scenario, run_scenario

KNOWN = {four().procedure.sha256: four(), toy().procedure.sha256: toy()}


def _lookup(sha256: str) -> CompiledProcedure | None:
    return KNOWN.get(sha256)


def _happy() -> list[dict[str, Any]]:
    return [dict(r) for r in run_scenario(load_scenario(FROZEN_HAPPY_PATH)).records]


def _reseal(records: list[dict[str, Any]], start: int) -> None:
    """Re-chain records from index ``start`` on, as a forger who recomputes hashes would."""
    prev = records[start - 1]["hash"] if start else GENESIS
    for index in range(start, len(records)):
        records[index] = seal(records[index], prev)
        prev = records[index]["hash"]


def test_replay_reproduces_every_record_of_the_happy_path() -> None:
    """Replay: every record of a real run is reproduced exactly, timers and refusals included."""
    records = _happy()

    report = replay_records(records, _lookup)

    assert report.ok
    assert (report.cases, report.records) == (1, len(records))
    assert report.snapshots[0].state == "closed"


def test_replay_handles_interleaved_cases_and_procedures() -> None:
    """Replay: records of several cases under several procedures, interleaved, all reproduce."""
    engine, _ = new_engine()
    open_four(engine, "a", state="proposed")
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)
    open_four(engine, "b", state="resolution_disclosed")
    engine.fire("t", "note", actor=CLERK, payload={"text": "甲", "n": 3}, at=T0)
    engine.fire("a", "deliberate", actor=DIRECTOR, payload={}, at=T0 + timedelta(days=1))
    engine.tick(T0 + timedelta(days=30))
    by_case = {c: engine.records(c) for c in ("a", "b", "t")}
    mixed = [r for group in zip(*by_case.values(), strict=False) for r in group]
    mixed += by_case["a"][len(by_case["t"]) :] + by_case["b"][len(by_case["t"]) :]

    report = replay_records(mixed, _lookup)

    assert report.ok, report.divergence
    assert report.records == sum(len(v) for v in by_case.values())
    assert {s.case: s.state for s in report.snapshots} == {
        "a": "proposed",
        "b": "implementing",
        "t": "open",
    }


def test_a_changed_outcome_field_diverges_at_that_seq_naming_the_field() -> None:
    """Replay: an edited ``to`` (hash left alone) diverges at that seq, naming only ``to``."""
    records = _happy()
    records[4]["to"] = "reviewed"

    report = replay_records(records, _lookup)

    assert report.divergence is not None
    assert (report.divergence.case, report.divergence.seq) == ("2024-柳树村-道路硬化", 5)
    assert report.divergence.fields == ("to",)
    assert '-  "to": "reviewed"' in report.divergence.diff
    assert '+  "to": "proposed"' in report.divergence.diff
    assert report.records == 5


def test_a_changed_input_diverges_at_that_seq() -> None:
    """Replay: an edited payload replays to other guard results and another hash."""
    records = _happy()
    records[3]["payload"] = {"present": 4, "yes": 1}

    report = replay_records(records, _lookup)

    assert report.divergence is not None
    assert report.divergence.seq == 4
    assert "guards" in report.divergence.fields
    # The hash follows from the other fields, so it is not listed among them.
    assert "hash" not in report.divergence.fields


def test_a_consistently_resealed_forgery_is_still_caught() -> None:
    """Replay: a forger who flips a guard result and recomputes every hash passes the chain
    check but not replay, which recomputes the guard from the recorded inputs."""
    records = _happy()
    records[1]["guards"][1]["result"] = True
    _reseal(records, 1)

    report = replay_records(records, _lookup)

    assert report.divergence is not None
    assert report.divergence.seq == 2
    assert "guards" in report.divergence.fields


def test_a_malformed_record_is_a_divergence_not_a_crash() -> None:
    """Replay: a record with a field of the wrong type is reported, never raised as TypeError."""
    for field, value in [("actor", "张书记"), ("payload", [1]), ("seq", "五"), ("at", 5)]:
        records = _happy()
        records[4][field] = value

        report = replay_records(records, _lookup)

        assert report.divergence is not None, field
        assert report.divergence.fields == ("replay_error",), field
        assert f"field {field!r} must be" in report.divergence.diff


def test_an_impossible_time_is_a_divergence() -> None:
    """Replay: a well-formed but impossible time is reported as a replay error."""
    records = _happy()
    records[4]["at"] = "2024-02-30T19:00:00+08:00"

    report = replay_records(records, _lookup)

    assert report.divergence is not None
    assert report.divergence.seq == 5
    assert "day is out of range for month" in report.divergence.diff


def test_a_missing_procedure_version_raises_procedure_missing_naming_it() -> None:
    """Replay: a case whose procedure version was not given raises ProcedureMissing."""
    records = _happy()

    with pytest.raises(ProcedureMissing) as caught:
        replay_records(records, lambda sha: None)

    message = str(caught.value)
    assert "four-deliberations-two-disclosures 1.0.0" in message
    assert four().procedure.sha256 in message
    assert "--procedure" in message


def _live_states() -> tuple[list[dict[str, Any]], dict[int, tuple[str, dict[str, Any]]]]:
    """A case run live, with its state and data after each seq."""
    engine, _ = new_engine()
    seen: dict[int, tuple[str, dict[str, Any]]] = {}

    def note() -> None:
        view = engine.case("c1", history=False)
        seen[view.seq] = (view.state, copy.deepcopy(dict(view.data)))

    open_four(engine, at=T0)
    note()
    steps = [
        ("propose", SECRETARY, {"present": 2, "yes": 2}),
        ("propose", DIRECTOR, {"present": 5, "yes": 5}),
        ("propose", SECRETARY, {"present": 4, "yes": 3}),
        ("deliberate", SECRETARY, {"present": 9, "yes": 8}),
        ("review", SECRETARY, {"present": 30, "yes": 21}),
        ("resolve", DIRECTOR, {"present": 38, "yes": 20}),
        ("disclose_resolution", COMMITTEE, {"notice": "决议"}),
    ]
    at = T0
    for event, actor, payload in steps:
        at += timedelta(days=1)
        engine.fire("c1", event, actor=actor, payload=payload, at=at)
        note()
    engine.tick(at + timedelta(days=8))
    note()
    return engine.records("c1"), seen


@pytest.mark.parametrize("seq", range(1, 10))
def test_as_of_a_seq_equals_the_live_state_at_that_seq(seq: int) -> None:
    """Replay --as-of SEQ: the rebuilt case equals what the live engine held after that seq."""
    records, seen = _live_states()

    report = replay_records(records, _lookup, as_of=seq)

    assert report.ok
    (snapshot,) = report.snapshots
    assert snapshot.seq == seq
    assert (snapshot.state, dict(snapshot.data)) == seen[seq]


def test_as_of_a_time_stops_before_the_first_later_record() -> None:
    """Replay --as-of TIME: the case as it stood at that moment (records after it are ignored)."""
    records, seen = _live_states()
    moment = datetime(2024, 3, 4, 12, 0, tzinfo=CST)  # after seq 4 (03-04 09:00), before seq 5

    report = replay_records(records, _lookup, as_of=moment)

    (snapshot,) = report.snapshots
    assert snapshot.seq == 4
    assert snapshot.at == "2024-03-04T01:00:00Z"  # 09:00 in Shanghai
    assert (snapshot.state, dict(snapshot.data)) == seen[4]


def test_progress_is_reported_per_record() -> None:
    """Replay: the progress callback sees the running count of records done."""
    records = _happy()
    done: list[int] = []

    replay_records(records, _lookup, progress=done.append)

    assert done == list(range(1, len(records) + 1))


def test_parse_as_of_reads_a_seq_or_a_time() -> None:
    """Replay --as-of: digits are a seq; otherwise an RFC 3339 time with offset."""
    assert parse_as_of("7") == 7
    assert parse_as_of("2024-03-04T12:00:00+08:00") == datetime(2024, 3, 4, 12, tzinfo=CST)
    assert parse_as_of("2024-03-04T04:00:00Z") == datetime(2024, 3, 4, 12, tzinfo=CST)


@pytest.mark.parametrize("text", ["yesterday", "2024-03-04T12:00:00", "-1"])
def test_parse_as_of_rejects_anything_else_clearly(text: str) -> None:
    """Replay --as-of: a value that is neither a seq nor a time with offset is a clear error."""
    with pytest.raises(ValueError) as caught:
        parse_as_of(text)

    assert str(caught.value) == (
        f"--as-of {text!r} is neither a seq number nor an RFC 3339 time with offset"
    )


def test_an_edited_input_the_outcome_ignores_is_caught_by_the_records_own_hash() -> None:
    """Replay: a refused attempt's payload does not change its outcome (the actor may not fire
    the event), so editing it without re-sealing would replay unchanged; the record's hash no
    longer matches its content, and replay diverges there naming ``hash``."""
    engine, _clock = new_engine()
    last = open_four(engine)
    engine.fire("c1", "propose", actor=DIRECTOR, payload={"present": 4, "yes": 3}, at=last)
    records = [dict(r) for r in engine.records("c1")]
    assert records[-1]["reason"]["code"] == "not-authorised"
    records[-1]["payload"] = {"present": 4, "yes": 4}

    report = replay_records(records, _lookup)

    assert report.divergence is not None
    assert (report.divergence.seq, report.divergence.fields) == (len(records), ("hash",))
    assert "changed after it was sealed" in report.divergence.diff
