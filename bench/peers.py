"""yishi against other Python state-machine libraries on one workflow, ratios in one run.

Why this exists: the design sets goals for the engine relative to its peers (yishi ≥ 2.5 ×
sismic and ≥ 3.5 × python-statemachine in events/s), and a goal stated as a ratio can only be
checked by running every side on the same machine, the same workflow and the same moment.

Run from the repository root with the project's interpreter::

    .venv/bin/pip install ".[bench]"        # the peers; none is needed by yishi itself
    .venv/bin/python bench/peers.py [--cases 1000] [--events 23000] [--rounds 3]

A peer that is not installed is reported with the command that installs it; the others run.

The workflow (bench/monthly-village-affairs-disclosure.yaml, which ``yishi validate`` accepts): a
village's monthly disclosure ledger (村务公开), twelve month states m01 … m12 in a cycle and the
final 已归档 state (the validator requires a final state; no event reaches it here). Each
``disclose`` event carries ``items``; the month's one transition to the next month has one
guard, ``items >= 1``. ``--cases`` live cases are set up, then ``--events`` events go round
robin over them (each case moves ``events / cases`` months, always with a guard that holds);
every side is checked to end with each case in the same month.

What each side does per event (and, for a fair reading of the ratios, what it does not):

* **yishi** (``Engine.fire`` on the in-memory store, one compiled procedure shared by every
  case): checks the actor's role, validates the payload against the event's JSON Schema,
  selects the transition and evaluates the CEL guard keeping its explanation, applies the
  transition, builds the audit record (actor, payload, guards with their verdicts, states,
  time), hashes it into the case's sha256 chain and appends it to the store, and returns an
  ``Outcome``. Everything it did can be verified and replayed later.
* **transitions** (one shared ``Machine(model=None)``; each case is a model object added with
  ``add_model``, the library's documented way to drive many objects from one machine): looks
  up the event on the model, runs the condition (a Python callable given ``items``) and sets
  the model's state. No payload schema, no roles, no record, no history.
* **sismic** (one ``Statechart`` loaded from YAML, one ``Interpreter`` per case, which is how
  sismic runs a statechart): queues the event with its ``items`` parameter and runs one macro
  step: evaluates the guard (Python code compiled by its ``PythonEvaluator``), exits and
  enters states, and returns the ``MacroStep`` describing them. No schema, roles, or durable
  record; the steps are not kept unless a listener keeps them.
* **python-statemachine** (one ``StateMachine`` class, one instance per case, as the library
  is designed): ``send("disclose", items=1)`` resolves the transition, calls the ``cond``
  method with the keyword arguments it asks for, and changes the configuration. No schema,
  roles or record.
* **SpiffWorkflow** (the BPMN engine; one parsed process spec shared by every case, one
  ``BpmnWorkflow`` per case): each month is a manual task followed by an exclusive gateway
  whose condition is ``items >= 1`` (the default flow returns to the same month). An event
  completes the ready task with ``items`` in its data and runs the engine steps up to the next
  month's task; the gateway's condition is evaluated by its Python script engine. The task
  tree keeps every completed task (its own kind of history, in memory) but nothing is hashed
  or checked against a schema or a role.

Figures (CPU time, best of ``--rounds`` interleaved rounds so that other work on the machine
disturbs every side of a ratio alike; ratios, never pass/fail):

* **events/s** over the fire loop only;
* **setup µs per case**: creating ``--cases`` live cases in their first state (yishi opens a
  case: schema check of its data, the opening record and its hash);
* **memory per case**: bytes traced by ``tracemalloc`` that the live cases hold after setup
  (measured in a separate pass, since tracing slows the code it traces);
* **yishi ÷ peer** events/s, and the design's goals as met or missed.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROCEDURE = ROOT / "bench" / "monthly-village-affairs-disclosure.yaml"
MONTHS = [f"m{n:02d}" for n in range(1, 13)]
EVENT = "disclose"
ITEMS = 1
INSTALL = 'pip install ".[bench]"'
# The design's goals: yishi's events/s at least this many times the peer's.
GOALS = {"sismic": 2.5, "python-statemachine": 3.5}

clock = time.process_time


def month_after(moves: int) -> str:
    """The month a case opened in January is in after ``moves`` disclosures."""
    return MONTHS[moves % len(MONTHS)]


@dataclass
class Side:
    """One library under test: how to set up cases, fire events and read a case's state."""

    name: str
    package: str
    setup: Callable[[int], list[Any]]
    fire: Callable[[list[Any], int, int], None]
    state_of: Callable[[Any], str]
    # what the library raises when no transition's guard holds (None: it stays quietly)
    refusal: type[Exception] | None = None


# -- yishi ------------------------------------------------------------------------------------


def yishi_side() -> Side:
    """The in-memory Engine over the bench procedure."""
    from engine.definition.loader import load_procedure
    from engine.runtime.clock import FixedClock
    from engine.runtime.engine import Engine
    from engine.runtime.types import Actor
    from engine.storage.memory import MemoryStore

    compiled = load_procedure(PROCEDURE)
    start = datetime(2024, 1, 31, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    committee = Actor(id="柳树村村委会", roles=("village_committee",))

    def setup(cases: int) -> list[Any]:
        engine = Engine(store=MemoryStore(), clock=FixedClock(start))
        for index in range(cases):
            engine.open_case(
                compiled, f"c{index}", {"village": "柳树村"}, actor=committee, at=start
            )
        return [(engine, f"c{index}") for index in range(cases)]

    def fire(handles: list[Any], moves: int, items: int) -> None:
        # every handle holds the one engine: the cases live in its store
        engine = handles[0][0]
        ids = [case_id for _, case_id in handles]
        payload = {"items": items}
        # Times are made before the loop: time per case only moves forward, a day apart.
        times = [start + timedelta(days=n + 1) for n in range(moves)]
        engine_fire = engine.fire
        for at in times:
            for case_id in ids:
                engine_fire(case_id, EVENT, actor=committee, payload=payload, at=at)

    def state_of(handle: Any) -> str:
        engine, case_id = handle
        return str(engine.case(case_id).state)

    return Side("yishi", "yishi", setup, fire, state_of)


# -- transitions ------------------------------------------------------------------------------


def transitions_side() -> Side:
    """One shared transitions Machine driving a model object per case."""
    from transitions import Machine

    def enough(items: int) -> bool:
        return items >= 1

    machine = Machine(
        model=None, states=[*MONTHS, "archived"], initial="m01", auto_transitions=False
    )
    for index, month in enumerate(MONTHS):
        machine.add_transition(EVENT, month, month_after(index + 1), conditions=[enough])
    machine.add_transition("archive", MONTHS, "archived")

    class Ledger:
        """A case: transitions sets ``state`` and the trigger methods on it."""

    def setup(cases: int) -> list[Any]:
        ledgers = [Ledger() for _ in range(cases)]
        machine.add_model(ledgers)
        return ledgers

    def fire(ledgers: list[Any], moves: int, items: int) -> None:
        for _ in range(moves):
            for ledger in ledgers:
                ledger.disclose(items=items)

    return Side("transitions", "transitions", setup, fire, lambda ledger: str(ledger.state))


# -- sismic -----------------------------------------------------------------------------------


def sismic_statechart_yaml() -> str:
    """The workflow in sismic's YAML statechart format."""
    lines = [
        "statechart:",
        "  name: monthly village affairs disclosure",
        "  root state:",
        "    name: ledger",
        "    initial: m01",
        "    states:",
    ]
    for index, month in enumerate(MONTHS):
        lines += [
            f"      - name: {month}",
            "        transitions:",
            f"          - target: {month_after(index + 1)}",
            f"            event: {EVENT}",
            "            guard: event.items >= 1",
            "          - target: archived",
            "            event: archive",
        ]
    lines += ["      - name: archived", "        type: final"]
    return "\n".join(lines) + "\n"


def sismic_side() -> Side:
    """One sismic statechart, one Interpreter per case."""
    from sismic.interpreter import Interpreter
    from sismic.io import import_from_yaml

    statechart = import_from_yaml(sismic_statechart_yaml())

    def setup(cases: int) -> list[Any]:
        interpreters = []
        for _ in range(cases):
            interpreter = Interpreter(statechart)
            interpreter.execute_once()  # enters the initial state
            interpreters.append(interpreter)
        return interpreters

    def fire(interpreters: list[Any], moves: int, items: int) -> None:
        for _ in range(moves):
            for interpreter in interpreters:
                interpreter.queue(EVENT, items=items)
                interpreter.execute_once()

    def state_of(interpreter: Any) -> str:
        return str(interpreter.configuration[-1])

    return Side("sismic", "sismic", setup, fire, state_of)


# -- python-statemachine ----------------------------------------------------------------------


def statemachine_side() -> Side:
    """One python-statemachine class, one instance per case."""
    from statemachine import State, StateMachine
    from statemachine.exceptions import TransitionNotAllowed

    months = {month: State(month, initial=month == "m01") for month in MONTHS}
    archived = State("archived", final=True)
    disclose = None
    archive = None
    for index, month in enumerate(MONTHS):
        step = months[month].to(months[month_after(index + 1)], cond="enough")
        disclose = step if disclose is None else disclose | step
        leave = months[month].to(archived)
        archive = leave if archive is None else archive | leave

    def enough(self: Any, items: int) -> bool:
        return items >= 1

    # The class statement written out with type(), because the twelve states are generated.
    namespace: dict[str, Any] = {**months, "archived": archived, EVENT: disclose}
    namespace.update(archive=archive, enough=enough)
    ledger = type("MonthlyDisclosure", (StateMachine,), namespace)

    def setup(cases: int) -> list[Any]:
        return [ledger() for _ in range(cases)]

    def fire(machines: list[Any], moves: int, items: int) -> None:
        for _ in range(moves):
            for machine in machines:
                machine.send(EVENT, items=items)

    def state_of(machine: Any) -> str:
        return ",".join(str(state.id) for state in machine.configuration)

    return Side(
        "python-statemachine", "python-statemachine", setup, fire, state_of, TransitionNotAllowed
    )


# -- SpiffWorkflow ----------------------------------------------------------------------------


def spiff_bpmn() -> str:
    """The workflow as a BPMN process: a manual task and an exclusive gateway per month."""
    ns = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    parts = [
        f'<bpmn:definitions {ns} id="defs" targetNamespace="yishi-bench">',
        '<bpmn:process id="ledger" isExecutable="true">',
        '<bpmn:startEvent id="start"/>',
        '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="m01"/>',
    ]
    for index, month in enumerate(MONTHS):
        gate, following = f"g_{month}", month_after(index + 1)
        parts += [
            f'<bpmn:manualTask id="{month}" name="{month}"/>',
            f'<bpmn:sequenceFlow id="f_{month}" sourceRef="{month}" targetRef="{gate}"/>',
            f'<bpmn:exclusiveGateway id="{gate}" default="stay_{month}"/>',
            f'<bpmn:sequenceFlow id="next_{month}" sourceRef="{gate}" targetRef="{following}">'
            "<bpmn:conditionExpression>items &gt;= 1</bpmn:conditionExpression>"
            "</bpmn:sequenceFlow>",
            f'<bpmn:sequenceFlow id="stay_{month}" sourceRef="{gate}" targetRef="{month}"/>',
        ]
    parts += ["</bpmn:process>", "</bpmn:definitions>"]
    return "\n".join(parts)


def spiff_side() -> Side:
    """One parsed BPMN spec, one BpmnWorkflow per case."""
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_str(spiff_bpmn().encode(), filename="peers-ledger.bpmn")
    spec = parser.get_spec("ledger")

    def setup(cases: int) -> list[Any]:
        workflows = []
        for _ in range(cases):
            workflow = BpmnWorkflow(spec)
            workflow.do_engine_steps()  # runs the start event up to January's task
            workflows.append(workflow)
        return workflows

    def fire(workflows: list[Any], moves: int, items: int) -> None:
        for _ in range(moves):
            for workflow in workflows:
                task = workflow.get_next_task(state=TaskState.READY, manual=True)
                task.data["items"] = items
                task.run()
                workflow.do_engine_steps()

    def state_of(workflow: Any) -> str:
        task = workflow.get_next_task(state=TaskState.READY, manual=True)
        return str(task.task_spec.name)

    return Side("SpiffWorkflow", "SpiffWorkflow", setup, fire, state_of)


# -- measuring --------------------------------------------------------------------------------


SIDES: list[tuple[str, str, Callable[[], Side]]] = [
    ("yishi", "yishi", yishi_side),
    ("transitions", "transitions", transitions_side),
    ("sismic", "sismic", sismic_side),
    ("python-statemachine", "python-statemachine", statemachine_side),
    ("SpiffWorkflow", "SpiffWorkflow", spiff_side),
]


def one_round(side: Side, cases: int, moves: int) -> tuple[float, float]:
    """Seconds to set up ``cases`` cases and seconds to fire ``moves`` events at each."""
    gc.collect()
    started = clock()
    live = side.setup(cases)
    set_up = clock() - started
    started = clock()
    side.fire(live, moves, ITEMS)
    fired = clock() - started
    expected = month_after(moves)
    states = {side.state_of(handle) for handle in live}
    assert states == {expected}, f"{side.name}: cases ended in {states}, expected {expected}"
    return set_up, fired


def guard_refuses(side: Side) -> None:
    """A disclosure of no items leaves a case in January: each side's guard really runs."""
    live = side.setup(1)
    try:
        side.fire(live, 1, 0)
    except Exception as error:
        if side.refusal is None or not isinstance(error, side.refusal):
            raise
    states = {side.state_of(handle) for handle in live}
    assert states == {MONTHS[0]}, f"{side.name}: a guard that fails moved the case to {states}"


def memory_per_case(side: Side, cases: int) -> float:
    """Bytes per live case right after setup, traced by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        live = side.setup(cases)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del live
    return (after - before) / cases


def load_sides() -> list[Side]:
    """Every side whose library imports; a missing one is reported with how to install it."""
    sides = []
    for name, package, make in SIDES:
        try:
            sides.append(make())
        except ImportError as error:
            print(f"{name}: not installed ({error.name}); install the peers with: {INSTALL}")
            print(f"  (or only this one: pip install {package})")
    return sides


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000, help="live cases per side")
    parser.add_argument("--events", type=int, default=23_000, help="events per side and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best kept)")
    args = parser.parse_args()
    moves = args.events // args.cases if args.cases > 0 else 0
    if args.cases < 1 or moves < 1 or args.rounds < 1:
        parser.error("need --cases ≥ 1, --events ≥ --cases and --rounds ≥ 1")
    if moves % len(MONTHS) == 0:
        # the end-state check could not tell a full year of moves from no move at all
        parser.error("--events / --cases must not be a multiple of 12")
    events = moves * args.cases

    sides = load_sides()
    for side in sides:
        guard_refuses(side)
    setups: dict[str, list[float]] = {side.name: [] for side in sides}
    fires: dict[str, list[float]] = {side.name: [] for side in sides}
    for _ in range(args.rounds):  # interleaved: a busy moment slows every side of its round
        for side in sides:
            set_up, fired = one_round(side, args.cases, moves)
            setups[side.name].append(set_up)
            fires[side.name].append(fired)
    memory = {side.name: memory_per_case(side, args.cases) for side in sides}

    print(
        f"{args.cases} live cases, {events} events per side ({moves} per case), "
        f"CPU time, best of {args.rounds} rounds"
    )
    print(f"{'':20} {'events/s':>10} {'µs/event':>9} {'setup µs/case':>14} {'memory B/case':>14}")
    rates = {}
    for side in sides:
        rate = events / min(fires[side.name])
        rates[side.name] = rate
        setup_us = min(setups[side.name]) / args.cases * 1e6
        print(
            f"{side.name:20} {rate:10,.0f} {1e6 / rate:9.1f} {setup_us:14.1f} "
            f"{memory[side.name]:14,.0f}"
        )
    if "yishi" not in rates:
        return
    print("yishi ÷ peer (events/s):")
    for name, rate in rates.items():
        if name == "yishi":
            continue
        ratio = rates["yishi"] / rate
        goal = GOALS.get(name)
        verdict = f"  goal ≥ {goal}: {'met' if ratio >= goal else 'missed'}" if goal else ""
        print(f"  {name:20} {ratio:8.3f}{verdict}")
    for name, goal in GOALS.items():
        if name not in rates:
            print(f"  {name:20} not measured (not installed): goal ≥ {goal} unchecked")


if __name__ == "__main__":
    main()
