"""How fast the in-memory engine runs, as ratios measured in one run (DESIGN.md, performance).

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/engine_bench.py [--events N] [--profile]

Figures (CPU time, best of several interleaved rounds, so that other work on the
machine disturbs both sides of a ratio alike; ratios, never pass/fail):

* **engine vs bare transitions**: events/s through ``Engine.fire`` (payload
  check, four guards with explanations, an action, the audit record and its
  hash, the memory store) against a bare detached ``transitions`` machine with
  the same states and transitions and trivial guards, firing the same path.
  The event is 四议两公开's ``propose`` with 2 of 5 present: the first
  transition's guards fail and the second ("另行召开", a self-loop) runs, so one
  case can take any number of events. The bare machine's trivial guards give
  the same verdicts (first False, second True), so it walks the same path.
  Goal ≤ 50 µs per event and ≥ 0.15 × bare transitions.
* **open a case**: µs per ``Engine.open_case`` in memory. Goal ≤ 30 µs.
* **replay vs engine**: events/s of ``replay_records`` over the records just
  written, against the engine's events/s. Goal ≥ 0.5.

``--profile`` prints the top functions of the fire path by cumulative and own
time (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transitions import Machine  # noqa: E402

from engine.definition.compile import CompiledProcedure  # noqa: E402
from engine.definition.loader import load_procedure  # noqa: E402
from engine.runtime.clock import FixedClock  # noqa: E402
from engine.runtime.engine import Engine  # noqa: E402
from engine.runtime.replay import replay_records  # noqa: E402
from engine.runtime.types import Actor  # noqa: E402
from engine.storage.memory import MemoryStore  # noqa: E402

PROCEDURE = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=CST)
SECRETARY = Actor(id="张书记", roles=("branch_secretary",))
DATA = {
    "matter": "村内主干道硬化",
    "branch_committee_members": 5,
    "two_committees_members": 9,
    "voting_party_members": 41,
    "representatives": 57,
    "reconvened": 0,
}
RECONVENE = {"present": 2, "yes": 2}
CASES = 10
ROUNDS = 5


clock = time.process_time


# -- bare transitions -------------------------------------------------------------------------


class _Model:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def bare_machine(compiled: CompiledProcedure, verdicts: dict[tuple[str, int], bool]) -> Machine:
    """The same states and transitions with trivial guards giving ``verdicts`` (True otherwise)."""
    procedure = compiled.procedure
    machine = Machine(
        model=None,
        states=list(procedure.states),
        initial=procedure.initial,
        auto_transitions=False,
        send_event=True,
    )
    for event_id, event in procedure.events.items():
        for t in event.transitions:
            verdict = verdicts.get((event_id, t.index), True)

            def guard(_event_data: Any, verdict: bool = verdict) -> bool:
                return verdict

            machine.add_transition(event_id, list(t.sources), t.target, conditions=[guard])
    return machine


def time_bare(machine: Machine, events: int) -> float:
    """Seconds to fire ``events`` reconvene events spread over ``CASES`` models."""
    models = [_Model("drafting") for _ in range(CASES)]
    trigger = machine.events["propose"].trigger
    per_case = events // CASES
    start = clock()
    for model in models:
        for _ in range(per_case):
            trigger(model)
    elapsed = clock() - start
    assert all(m.state == "drafting" for m in models)
    return elapsed


# -- the engine -------------------------------------------------------------------------------


def fresh_engine(compiled: CompiledProcedure) -> Engine:
    """An engine over a memory store with ``CASES`` cases open in drafting."""
    engine = Engine(store=MemoryStore(), clock=FixedClock(T0))
    for index in range(CASES):
        engine.open_case(compiled, f"c{index}", DATA, actor=SECRETARY, at=T0)
    return engine


def fire_all(engine: Engine, events: int) -> None:
    """Fire ``events`` reconvene events, round-robin over the cases, one minute apart."""
    per_case = events // CASES
    for index in range(CASES):
        case_id = f"c{index}"
        at = T0
        for _ in range(per_case):
            at += timedelta(minutes=1)
            outcome = engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE, at=at)
            assert outcome.applied and outcome.to_state == "drafting"


def time_engine(compiled: CompiledProcedure, events: int) -> tuple[float, Engine]:
    """Seconds to fire ``events`` through the engine, and the engine (for its records)."""
    engine = fresh_engine(compiled)
    start = clock()
    fire_all(engine, events)
    return clock() - start, engine


def time_open(compiled: CompiledProcedure, count: int) -> float:
    """Seconds to open ``count`` cases on a fresh engine (procedure already registered)."""
    engine = Engine(store=MemoryStore(), clock=FixedClock(T0))
    engine.open_case(compiled, "warm", DATA, actor=SECRETARY, at=T0)
    start = clock()
    for index in range(count):
        engine.open_case(compiled, f"o{index}", DATA, actor=SECRETARY, at=T0)
    return clock() - start


def time_replay(compiled: CompiledProcedure, records: list[dict[str, Any]]) -> float:
    """Seconds to replay ``records``; fails loudly if replay diverges."""
    known = {compiled.procedure.sha256: compiled}
    start = clock()
    report = replay_records(records, known.get)
    elapsed = clock() - start
    assert report.ok, report.divergence
    return elapsed


def profile(compiled: CompiledProcedure, events: int, top: int) -> None:
    """Print the fire path's top functions by cumulative and by own time."""
    engine = fresh_engine(compiled)
    profiler = cProfile.Profile()
    profiler.enable()
    fire_all(engine, events)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per round")
    parser.add_argument("--opens", type=int, default=5_000, help="cases opened per round")
    parser.add_argument("--procedure", type=Path, default=PROCEDURE, help="四议两公开 file")
    parser.add_argument("--profile", action="store_true", help="profile the fire path")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    args = parser.parse_args()

    compiled = load_procedure(args.procedure)
    if args.profile:
        profile(compiled, args.events, args.top)
        return

    # The real guards' verdicts for 2 of 5 present: 1st transition fails, 2nd holds.
    machine = bare_machine(compiled, {("propose", 0): False, ("propose", 1): True})
    events = args.events - args.events % CASES
    bares, fulls, opens, replays = [], [], [], []
    engine = None
    for _ in range(ROUNDS):  # interleaved: a busy moment slows every figure of its round
        bares.append(time_bare(machine, events))
        elapsed, engine = time_engine(compiled, events)
        fulls.append(elapsed)
        opens.append(time_open(compiled, args.opens))
        records = [r for i in range(CASES) for r in engine.records(f"c{i}")]
        replays.append(time_replay(compiled, records))
    bare, full, opened, replayed = min(bares), min(fulls), min(opens), min(replays)

    bare_rate = events / bare
    engine_rate = events / full
    replay_rate = len(records) / replayed
    open_us = opened / args.opens * 1e6
    print(f"events per round: {events} on {CASES} cases; CPU time, best of {ROUNDS} rounds")
    print(f"bare detached transitions : {bare_rate:12,.0f} events/s")
    print(f"engine, in memory         : {engine_rate:12,.0f} events/s  "
          f"({full / events * 1e6:.1f} µs/event)")  # fmt: skip
    print(f"  ratio engine / bare     : {engine_rate / bare_rate:12.3f}   (goal ≥ 0.15; "
          "≤ 50 µs/event)")  # fmt: skip
    print(f"open a case, in memory    : {open_us:12.1f} µs     (goal ≤ 30 µs)")
    print(f"replay                    : {replay_rate:12,.0f} records/s")
    print(f"  ratio replay / engine   : {replay_rate / engine_rate:12.3f}   (goal ≥ 0.5)")


if __name__ == "__main__":
    main()
