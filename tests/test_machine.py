"""engine.runtime.machine: the transitions adapter, used the way transitions' FAQ recommends.

One detached ``Machine`` per procedure version (``model=None``, no automatic
``to_<state>`` events, ``send_event=True``), reused by every case; cases are
never attached with ``add_model``.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from runtime_support import (
    CLERK,
    FOUR_DATA,
    SECRETARY,
    T0,
    TOY_DATA,
    TOY_SOURCE,
    four,
    new_engine,
    open_four,
    toy,
)
from transitions import Machine

from engine.definition.loader import load_source
from engine.runtime.machine import AttemptTrace, Draft, GuardsCondition, build_machine, fire

ENGINE_DIR = Path(__file__).resolve().parent.parent / "engine"


def test_one_machine_per_procedure_version_reused_across_cases() -> None:
    """Machine: every case of a procedure version is fired through the same Machine object."""
    engine, _ = new_engine()
    open_four(engine, "a", state="reviewed")
    machine = engine._runners[four().procedure.sha256].machine

    for case_id in ("b", "c", "d"):
        open_four(engine, case_id, state="resolution_disclosed")
    engine.tick(T0 + timedelta(days=30))

    assert len(engine._runners) == 1
    assert engine._runners[four().procedure.sha256].machine is machine


def test_no_model_is_ever_added() -> None:
    """Machine: cases are never attached (no add_model): ``machine.models`` stays empty."""
    engine, _ = new_engine()
    for index in range(20):
        open_four(engine, f"c{index}", state="resolution_disclosed")
    engine.tick(T0 + timedelta(days=30))

    machine = engine._runners[four().procedure.sha256].machine

    assert machine.models == []


def test_each_procedure_version_gets_its_own_machine() -> None:
    """Machine: two procedure versions (different sha256) have two machines."""
    engine, _ = new_engine()
    changed = load_source(
        TOY_SOURCE.replace('version: "1.0.0"', 'version: "1.0.1"'), "<toy2>", toy().registry
    )
    engine.open_case(toy(), "t1", TOY_DATA, actor=CLERK, at=T0)
    engine.open_case(changed, "t2", TOY_DATA, actor=CLERK, at=T0)
    engine.open_case(four(), "f", FOUR_DATA, actor=SECRETARY, at=T0)

    machines = [r.machine for r in engine._runners.values()]

    assert len(machines) == 3
    assert len({id(m) for m in machines}) == 3


def test_the_machine_is_detached_without_auto_transitions_and_sends_events() -> None:
    """Machine: model=None, auto_transitions=False, send_event=True; events are the procedure's."""
    machine = build_machine(four())

    assert isinstance(machine, Machine)
    assert type(machine).__name__ == "Machine"  # not a LockedMachine: the store handles concurrency
    assert machine.models == []
    assert machine.auto_transitions is False
    assert machine.send_event is True
    assert set(machine.events) == set(four().procedure.events)
    assert not any(name.startswith("to_") for name in machine.events)
    assert set(machine.states) == set(four().procedure.states)


def test_each_transition_has_one_guards_condition_in_file_order() -> None:
    """Machine: each candidate transition carries one GuardsCondition, in the order of the file."""
    machine = build_machine(four())

    candidates = machine.events["propose"].transitions["drafting"]

    assert [t.dest for t in candidates] == ["proposed", "drafting", "drafting"]
    for index, transition in enumerate(candidates):
        assert len(transition.conditions) == 1
        condition = transition.conditions[0]
        assert isinstance(condition, GuardsCondition)
        assert condition.compiled.transition.index == index


def test_fire_sets_only_the_draft_state_and_records_every_guard() -> None:
    """Machine: firing a draft moves ``draft.state`` and traces each tried guard; nothing else."""
    machine = build_machine(four())
    env = {
        "data": dict(FOUR_DATA),
        "payload": {"present": 4, "yes": 3},
        "actor": SECRETARY.record(),
        "now": T0,
    }
    draft = Draft(state="drafting")
    trace = AttemptTrace(env=env)

    fired = fire(machine, "propose", draft, trace)

    assert fired is True
    assert draft.state == "proposed"
    assert trace.chosen is not None
    assert trace.chosen.transition.index == 0
    assert [g["result"] for g in trace.guards] == [True, True, True]
    assert machine.models == []


def test_fire_with_no_passing_transition_leaves_the_draft() -> None:
    """Machine: when every candidate's guards fail, the draft keeps its state and none is chosen."""
    machine = build_machine(four())
    env = {
        "data": dict(FOUR_DATA),
        "payload": {"present": 3, "yes": 4},
        "actor": SECRETARY.record(),
        "now": T0,
    }
    draft = Draft(state="drafting")
    trace = AttemptTrace(env=env)

    fired = fire(machine, "propose", draft, trace)

    assert fired is False
    assert draft.state == "drafting"
    assert trace.chosen is None
    assert {g["transition"] for g in trace.guards} == {0, 1, 2}


def test_the_same_machine_serves_interleaved_drafts() -> None:
    """Machine: the machine keeps no per-case state; interleaved drafts do not interfere."""
    machine = build_machine(four())
    payload_yes = {"present": 4, "yes": 3}
    env = {"data": dict(FOUR_DATA), "payload": payload_yes, "actor": {}, "now": T0}
    one, two = Draft(state="drafting"), Draft(state="proposed")

    fire(machine, "propose", one, AttemptTrace(env=env))
    fire(machine, "deliberate", two, AttemptTrace(env={**env, "payload": {"present": 9, "yes": 8}}))

    assert (one.state, two.state) == ("proposed", "deliberated")


def test_only_the_adapter_imports_transitions() -> None:
    """Layering: engine/runtime/machine.py is the only module that imports transitions."""
    importers = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "transitions" or n.startswith("transitions.") for n in names):
                importers.append(path.relative_to(ENGINE_DIR).as_posix())
    assert sorted(set(importers)) == ["runtime/machine.py"]


def test_add_model_is_never_called_in_the_engine_sources() -> None:
    """Machine: no engine module calls add_model (75-240 µs per case, and unbounded growth)."""
    offenders = [
        path.relative_to(ENGINE_DIR).as_posix()
        for path in ENGINE_DIR.rglob("*.py")
        if "add_model(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
