"""engine.runtime.selector: one function decides which transition an event takes.

Firing (``attempt``) and explaining (``Engine.explain``) call the same selector:
candidates from the case's state in file order, every guard of a candidate
evaluated, the first candidate whose guards all hold chosen. An attempt stops
there; an explanation judges every candidate. One selector per procedure
version, shared by every case.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
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

from engine.definition.loader import load_source
from engine.runtime.selector import Selector

ENGINE_DIR = Path(__file__).resolve().parent.parent / "engine"


def _env(payload: dict[str, Any]) -> dict[str, Any]:
    return {"data": dict(FOUR_DATA), "payload": payload, "actor": SECRETARY.record(), "now": T0}


def test_one_selector_per_procedure_version_reused_across_cases() -> None:
    """Selector: every case of a procedure version is fired through the same Selector object."""
    engine, _ = new_engine()
    open_four(engine, "a", state="reviewed")
    runner = engine._runners.get(four().procedure.sha256)
    assert runner is not None
    selector = runner.selector

    for case_id in ("b", "c", "d"):
        open_four(engine, case_id, state="resolution_disclosed")
    engine.tick(T0 + timedelta(days=30))

    assert len(engine._runners) == 1
    again = engine._runners.get(four().procedure.sha256)
    assert again is not None and again.selector is selector


def test_each_procedure_version_gets_its_own_selector() -> None:
    """Selector: two procedure versions (different sha256) have two selectors."""
    engine, _ = new_engine()
    changed = load_source(
        TOY_SOURCE.replace('version: "1.0.0"', 'version: "1.0.1"'), "<toy2>", toy().registry
    )
    engine.open_case(toy(), "t1", TOY_DATA, actor=CLERK, at=T0)
    engine.open_case(changed, "t2", TOY_DATA, actor=CLERK, at=T0)
    engine.open_case(four(), "f", FOUR_DATA, actor=SECRETARY, at=T0)

    versions = (toy(), changed, four())
    runners = [engine._runners.get(c.procedure.sha256) for c in versions]
    selectors = [r.selector for r in runners if r is not None]

    assert len({id(s) for s in selectors}) == 3


def test_candidates_are_the_events_transitions_from_the_state_in_file_order() -> None:
    """Selector: the candidates of (event, state) are the transitions leaving it, in file order."""
    selector = Selector(four())

    candidates = selector.candidates("propose", "drafting")

    assert [c.transition.index for c in candidates] == [0, 1, 2]
    assert [c.transition.target for c in candidates] == ["proposed", "drafting", "drafting"]
    assert selector.candidates("propose", "proposed") == ()
    assert selector.candidates("no-such-event", "drafting") == ()


def test_an_attempt_stops_at_the_first_candidate_whose_guards_all_hold() -> None:
    """Selector: the first ready candidate is chosen and no later candidate is judged."""
    selection = Selector(four()).select("propose", "drafting", _env({"present": 4, "yes": 3}))

    assert selection.chosen is not None
    assert selection.chosen.transition.index == 0
    assert [j.candidate.transition.index for j in selection.judged] == [0]
    assert [g.passed for g in selection.judged[0].guards] == [True, True, True]


def test_every_guard_of_a_candidate_is_evaluated_even_after_one_fails() -> None:
    """Selector: a candidate's guards are all evaluated, so a refusal names everything lacking."""
    selection = Selector(four()).select("propose", "drafting", _env({"present": 2, "yes": 2}))

    first = selection.judged[0]
    assert first.ready is False
    assert [g.passed for g in first.guards] == [True, False, False]
    assert selection.chosen is not None and selection.chosen.transition.index == 1
    assert [j.candidate.transition.index for j in selection.judged] == [0, 1]


def test_no_ready_candidate_judges_them_all_and_chooses_none() -> None:
    """Selector: when no candidate's guards all hold, each was judged and none is chosen."""
    selection = Selector(four()).select("propose", "drafting", _env({"present": 3, "yes": 4}))

    assert selection.chosen is None
    assert [j.candidate.transition.index for j in selection.judged] == [0, 1, 2]
    assert {r["transition"] for r in selection.guard_records()} == {0, 1, 2}
    assert selection.failing() == [
        g.explanation for j in selection.judged for g in j.guards if not g.passed
    ]


def test_every_judges_all_candidates_and_still_chooses_the_first_ready() -> None:
    """Selector: ``every=True`` (an explanation) judges past the chosen candidate."""
    env = _env({"present": 2, "yes": 2})
    selector = Selector(four())

    stopping = selector.select("propose", "drafting", env)
    every = selector.select("propose", "drafting", env, every=True)

    assert [j.candidate.transition.index for j in every.judged] == [0, 1, 2]
    assert [j.ready for j in every.judged] == [False, True, True]
    assert every.chosen is stopping.chosen
    assert every.judged[: len(stopping.judged)] == stopping.judged


@pytest.mark.parametrize(
    "payload", [{"present": 4, "yes": 3}, {"present": 2, "yes": 2}, {"present": 3, "yes": 4}]
)
def test_fire_records_exactly_what_the_selector_judged(payload: dict[str, Any]) -> None:
    """attempt: the record's guards are the selector's results, in order, each naming its
    transition; the state it enters is the chosen candidate's target."""
    engine, _ = new_engine()
    when = open_four(engine)
    case = engine.case("c1", history=False)
    runner = engine._runners.get(four().procedure.sha256)
    assert runner is not None
    selection = runner.selector.select(
        "propose", "drafting", {**_env(payload), "data": dict(case.data)}
    )

    outcome = engine.fire(
        "c1", "propose", actor=SECRETARY, payload=payload, at=when + timedelta(hours=1)
    )

    assert list(outcome.guards) == selection.guard_records()
    expected = selection.chosen.transition.target if selection.chosen else "drafting"
    assert outcome.to_state == expected
    assert outcome.applied is (selection.chosen is not None)


@pytest.mark.parametrize(
    "payload", [{"present": 4, "yes": 3}, {"present": 2, "yes": 2}, {"present": 3, "yes": 4}]
)
def test_explain_and_fire_agree(payload: dict[str, Any]) -> None:
    """explain and fire use one selector: explain's first ready transition is the one fire
    takes, and the guards fire records are explain's, up to the chosen transition."""
    engine, _ = new_engine()
    when = open_four(engine)

    explained = engine.explain("c1", "propose", actor=SECRETARY, payload=payload, at=when)
    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload=payload, at=when)

    ready = [t for t in explained.transitions if t.ready]
    assert explained.allowed is outcome.applied
    if ready:
        assert outcome.to_state == ready[0].target
        upto = explained.transitions[: explained.transitions.index(ready[0]) + 1]
    else:
        upto = explained.transitions
    recorded = [{"transition": t.index, **g} for t in upto for g in t.guards]
    assert list(outcome.guards) == recorded


def test_only_the_selector_imports_transitions() -> None:
    """Layering: ``transitions`` declares the machine in the selector and nowhere else; no
    other engine module reaches for it (the old adapter's round trip is gone)."""
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
    assert importers == ["runtime/selector.py"]


class _Model:
    def __init__(self) -> None:
        self.state = ""


@pytest.mark.parametrize(
    "payload", [{"present": 4, "yes": 3}, {"present": 2, "yes": 2}, {"present": 3, "yes": 4}]
)
def test_the_declared_transitions_machine_chooses_what_the_selector_chooses(
    payload: dict[str, Any],
) -> None:
    """Rule: ``transitions`` declares the procedure's machine through its public API (each
    transition's guards as its condition) and the selector reads its candidates from it;
    fired on its own with the same env, that machine takes the transition the selector
    chooses (or none when the selector chooses none)."""
    selector = Selector(four())
    env = _env(payload)
    selection = selector.select("propose", "drafting", env)
    model = _Model()
    selector.machine.add_model(model, initial="drafting")
    try:
        took = selector.machine.events["propose"].trigger(model, env=env)
    finally:
        selector.machine.remove_model(model)

    assert took is (selection.chosen is not None)
    expected = selection.chosen.transition.target if selection.chosen else "drafting"
    assert model.state == expected
