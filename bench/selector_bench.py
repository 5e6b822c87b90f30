"""How fast a transition is selected and its guards judged, as ratios measured in one run.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/selector_bench.py [--events N]

Why this exists: choosing the transition is the part of an event that the engine
does itself, and two decisions rest on its figures:

* **selector vs transitions**: the engine selects with ``Selector.select``
  (engine/runtime/selector.py) rather than through a ``transitions`` ``Machine``.
  Both sides here judge the same compiled guards of bench/engine_bench.py's event
  (四议两公开 ``propose`` with 2 of 5 present: the first candidate's three guards fail,
  the second's one holds); the ``transitions`` side is built the way its docs
  recommend for many cases (one ``Machine(model=None)``, ``auto_transitions=False``,
  ``send_event=True``), each transition's guards given through the public
  ``add_transition(..., conditions=[...])``, the results kept on the per-event model.
  A third line gives ``transitions`` with trivial conditions: what it costs alone.
* **prepared guards vs Fraction arithmetic**: the event's three threshold guards
  judged by the prepared checks (integer cross-multiplication, words prepared at
  compile time) against the same judgement written with ``threshold()`` and
  ``explain_threshold()`` (a ``Fraction`` per bound), which is how the checks worked
  before. Both give the same record (checked).

Figures are CPU time, best of several interleaved rounds, so that other work on the
machine disturbs both sides of a ratio alike; ratios, never pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transitions import Machine  # noqa: E402

from engine.definition.compile import CompiledProcedure, CompiledTransition  # noqa: E402
from engine.definition.loader import load_procedure  # noqa: E402
from engine.guards.arithmetic import explain_threshold, threshold  # noqa: E402
from engine.guards.checks import Env, GuardResult  # noqa: E402
from engine.guards.kinds.threshold import ThresholdCheck  # noqa: E402
from engine.runtime.attempt import make_env  # noqa: E402
from engine.runtime.selector import Selector  # noqa: E402
from engine.runtime.types import Actor  # noqa: E402

PROCEDURE = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
DATA = {"matter": "村内主干道硬化", "branch_committee_members": 5, "reconvened": 0}
PAYLOAD = {"present": 2, "yes": 2}
SECRETARY = Actor(id="张书记", roles=("branch_secretary",))
AT = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
ROUNDS = 5

clock = time.process_time


class _Draft:
    """The per-event model transitions moves: the state, and the guards judged on the way."""

    __slots__ = ("env", "judged", "state")

    def __init__(self, state: str, env: Env) -> None:
        self.state = state
        self.env = env
        self.judged: list[tuple[CompiledTransition, tuple[GuardResult, ...]]] = []


def _judge(item: CompiledTransition) -> Callable[[Any], bool]:
    def condition(event_data: Any) -> bool:
        draft: _Draft = event_data.model
        results = tuple(guard.evaluate(draft.env) for guard in item.guards)
        draft.judged.append((item, results))
        return all(result.passed for result in results)

    return condition


def transitions_machine(compiled: CompiledProcedure, *, trivial: bool = False) -> Machine:
    """One detached Machine with each transition's guards as a public-API condition."""
    procedure = compiled.procedure
    machine = Machine(
        model=None,
        states=list(procedure.states),
        initial=procedure.initial,
        auto_transitions=False,
        send_event=True,
    )
    verdicts = {0: False, 1: True}
    for event_id, items in compiled.transitions.items():
        for item in items:
            t = item.transition
            if trivial:
                verdict = verdicts.get(t.index, True) if event_id == "propose" else True
                condition: Callable[[Any], bool] = lambda _e, v=verdict: v  # noqa: E731
            else:
                condition = _judge(item)
            machine.add_transition(event_id, list(t.sources), t.target, conditions=[condition])
    return machine


def envs(count: int) -> list[Env]:
    """Fresh bindings per event, as each attempt has (CEL contexts are built per attempt)."""
    return [make_env(DATA, PAYLOAD, SECRETARY, AT) for _ in range(count)]


def time_transitions(machine: Machine, bindings: list[Env]) -> float:
    trigger = machine.events["propose"].trigger
    start = clock()
    for env in bindings:
        draft = _Draft("drafting", env)
        trigger(draft)
    elapsed = clock() - start
    assert draft.state == "drafting"  # the second candidate (a self-loop) ran
    return elapsed


def time_selector(selector: Selector, bindings: list[Env]) -> float:
    select = selector.select
    start = clock()
    for env in bindings:
        selection = select("propose", "drafting", env)
    elapsed = clock() - start
    assert selection.chosen is not None and selection.chosen.transition.index == 1
    return elapsed


def fraction_way(check: ThresholdCheck, env: Env) -> dict[str, Any]:
    """A threshold judged the way the checks did before: a Fraction bound, then words."""
    count, base = check.count.value(env), check.base.value(env)
    outcome = threshold(count, check.operator, check.fraction, base)
    words = ("present", "expected") if check.kind == "quorum" else ("", check.base_words)
    return {
        "kind": check.kind,
        "label": check.label,
        "inputs": outcome.inputs(),
        "result": outcome.met,
        "explanation": explain_threshold(
            outcome, count_words=words[0], base_words=words[1] or "in the base", label=check.label
        ),
    }


def time_guards(checks: list[ThresholdCheck], env: Env, count: int, *, prepared: bool) -> float:
    start = clock()
    if prepared:
        for _ in range(count):
            for check in checks:
                check.evaluate(env).record()
    else:
        for _ in range(count):
            for check in checks:
                fraction_way(check, env)
    return clock() - start


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per round")
    args = parser.parse_args()

    compiled = load_procedure(PROCEDURE)
    selector = Selector(compiled)
    machine = transitions_machine(compiled)
    bare = transitions_machine(compiled, trivial=True)
    candidates = compiled.transitions["propose"]
    checks = [g for c in candidates for g in c.guards if isinstance(g, ThresholdCheck)]
    env = make_env(DATA, PAYLOAD, SECRETARY, AT)
    for check in checks:  # the two ways must say the same before their speed means anything
        assert check.evaluate(env).record() == fraction_way(check, env)
    draft = _Draft("drafting", make_env(DATA, PAYLOAD, SECRETARY, AT))
    machine.events["propose"].trigger(draft)
    chosen = selector.select("propose", "drafting", make_env(DATA, PAYLOAD, SECRETARY, AT))
    assert [(item, [g.record() for g in results]) for item, results in draft.judged] == [
        (judged.candidate, [g.record() for g in judged.guards]) for judged in chosen.judged
    ]

    sides: dict[str, list[float]] = {k: [] for k in ("selector", "machine", "bare", "new", "old")}
    for _ in range(ROUNDS):
        bindings = envs(args.events)
        sides["selector"].append(time_selector(selector, bindings))
        bindings = envs(args.events)
        sides["machine"].append(time_transitions(machine, bindings))
        sides["bare"].append(time_transitions(bare, envs(args.events)))
        sides["new"].append(time_guards(checks, env, args.events, prepared=True))
        sides["old"].append(time_guards(checks, env, args.events, prepared=False))
    us = {k: min(v) / args.events * 1e6 for k, v in sides.items()}

    print(f"events per round: {args.events}; CPU time, best of {ROUNDS} rounds")
    print(f"select, Selector.select          : {us['selector']:8.2f} µs/event (4 guards judged)")
    print(f"select, through transitions      : {us['machine']:8.2f} µs/event (the same guards)")
    print(f"  transitions alone (trivial)    : {us['bare']:8.2f} µs/event")
    print(f"  ratio transitions / selector   : {us['machine'] / us['selector']:8.2f}")
    print(f"3 thresholds, prepared checks    : {us['new']:8.2f} µs/event")
    print(f"3 thresholds, Fraction arithmetic: {us['old']:8.2f} µs/event")
    print(f"  ratio Fraction / prepared      : {us['old'] / us['new']:8.2f}")


if __name__ == "__main__":
    main()
