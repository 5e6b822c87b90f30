"""Replay, as properties: for random attempt sequences on 四议两公开, replay reproduces every
record; editing any field of an attempt record diverges at that seq; ``as_of`` equals the
live engine's state at that seq.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from runtime_support import SECRETARY, T0, four, new_engine
from strategies_runtime import TAMPERABLE, Tick, case_data, json_values, step_for

from engine.definition.compile import CompiledProcedure
from engine.errors import Forbidden
from engine.runtime.engine import IdempotencyMismatch
from engine.runtime.replay import replay_records

SETTINGS = settings(
    max_examples=50,
    deadline=None,  # no wall-clock limits in tests
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CASE = "随机-1"


def _lookup(sha256: str) -> CompiledProcedure | None:
    return four() if sha256 == four().procedure.sha256 else None


@dataclass(frozen=True, slots=True)
class Run:
    """A case run live: its records, and its state and data after each seq."""

    records: list[dict[str, Any]]
    live: dict[int, tuple[str, dict[str, Any]]]


def run_random_case(data: st.DataObject, max_steps: int = 40) -> Run:
    """Open a case with random data and take up to ``max_steps`` random steps."""
    engine, _ = new_engine()
    engine.open_case(four(), CASE, data.draw(case_data(), label="data"), actor=SECRETARY, at=T0)
    live: dict[int, tuple[str, dict[str, Any]]] = {}

    def note() -> tuple[str, dict[str, Any]]:
        view = engine.case(CASE, history=False)
        live[view.seq] = (view.state, copy.deepcopy(dict(view.data)))
        return live[view.seq]

    state, current = note()
    now = T0
    for _ in range(data.draw(st.integers(min(5, max_steps), max_steps), label="steps")):
        step = data.draw(step_for(state, current))
        now += step.advance
        if isinstance(step, Tick):
            engine.tick(now)
        else:
            # A key reused for another request, and an actor with no role in the procedure
            # (refused at the door), are refused before anything is recorded.
            with contextlib.suppress(IdempotencyMismatch, Forbidden):
                engine.fire(
                    CASE,
                    step.event,
                    actor=step.actor,
                    payload=step.payload,
                    at=now,
                    idempotency_key=step.idempotency_key,
                )
        state, current = note()
    return Run(records=engine.records(CASE), live=live)


@SETTINGS
@given(st.data())
def test_replay_reproduces_every_record(data: st.DataObject) -> None:
    """Replay: every record of a random run is reproduced, and the final case matches."""
    run = run_random_case(data)

    event(f"final state: {run.live[len(run.records)][0]}")
    event(f"timers fired: {sum(r['kind'] == 'timer.fired' for r in run.records)}")

    report = replay_records(run.records, _lookup)

    assert report.divergence is None, str(report.divergence)
    assert report.records == len(run.records)
    (snapshot,) = report.snapshots
    assert (snapshot.state, dict(snapshot.data)) == run.live[len(run.records)]


@SETTINGS
@given(st.data())
def test_editing_any_field_of_an_attempt_diverges_at_that_seq(data: st.DataObject) -> None:
    """Replay: changing, adding or removing any field of an attempt record (seq >= 2) makes
    replay diverge exactly at that record's seq."""
    run = run_random_case(data, max_steps=12)
    assume(len(run.records) > 1)
    index = data.draw(st.integers(1, len(run.records) - 1), label="index")
    records = copy.deepcopy(run.records)
    target = records[index]
    field = data.draw(st.sampled_from(TAMPERABLE), label="field")
    if field in target and data.draw(st.booleans(), label="remove"):
        del target[field]
    else:
        value = data.draw(json_values().filter(lambda v: v != target.get(field, object())))
        target[field] = value
    assert target != run.records[index]

    report = replay_records(records, _lookup)

    assert report.divergence is not None
    assert (report.divergence.case, report.divergence.seq) == (CASE, index + 1)


@SETTINGS
@given(st.data())
def test_moving_a_record_by_case_or_seq_is_detected(data: st.DataObject) -> None:
    """Replay: a record given another seq or case makes replay diverge somewhere."""
    run = run_random_case(data, max_steps=12)
    records = copy.deepcopy(run.records)
    index = data.draw(st.integers(0, len(records) - 1), label="index")
    if data.draw(st.booleans(), label="seq?"):
        records[index]["seq"] = data.draw(
            st.integers(-2, len(records) + 3).filter(lambda s: s != index + 1), label="seq"
        )
    else:
        records[index]["case"] = data.draw(st.sampled_from(["别的案子", "", CASE + "x"]))

    report = replay_records(records, _lookup)

    assert report.divergence is not None


@SETTINGS
@given(st.data())
def test_as_of_equals_the_live_state_at_that_seq(data: st.DataObject) -> None:
    """Replay --as-of SEQ: the rebuilt case equals the live engine's state after that seq."""
    run = run_random_case(data)
    seq = data.draw(st.integers(1, len(run.records)), label="as_of")

    report = replay_records(run.records, _lookup, as_of=seq)

    assert report.divergence is None
    (snapshot,) = report.snapshots
    assert snapshot.seq == seq
    assert (snapshot.state, dict(snapshot.data)) == run.live[seq]
