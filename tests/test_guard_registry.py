"""engine.guards.registry: each guard kind's schema, builder and check in one module.

The registry is the one list of guard kinds: the procedure schema's guard branches
are its kinds' branches, the builder and compiler dispatch through it, and no
module outside ``engine/guards`` asks which kind a guard is. A check prepared at
compile time (integer cross-multiplication, words prepared once) gives the very
verdict, inputs and explanation the Fraction arithmetic gives.
"""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.definition.loader import check_source
from engine.guards.arithmetic import (
    OPERATORS,
    Operator,
    explain_threshold,
    show_number,
    show_ratio,
    threshold,
)
from engine.guards.cel import compile_cel
from engine.guards.checks import Count
from engine.guards.kinds.margin import MarginCheck
from engine.guards.kinds.threshold import ThresholdCheck
from engine.guards.registry import GUARD_KINDS, guard_schema, kind_named, kind_of
from engine.reference import bundled_examples, guard_kinds
from engine.schemas import load_schema

ROOT = Path(__file__).resolve().parent.parent
ENGINE_DIR = ROOT / "engine"

SOURCE = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: one-guard
version: "1"
title: 一条守卫
rule_set:
  name: test
  choices:
    meetings:
      villagers_meeting:
        label: 村民会议
        quorum:
          combine: all
          adults: {{of: 本村十八周岁以上村民, more_than: "1/2"}}
        adoption: {{more_than: "1/2", of: 到会人员}}
roles:
  clerk: {{label: 文书}}
data:
  type: object
  properties:
    seats: {{type: integer}}
    weights: {{type: array, items: {{type: string}}}}
initial: open
states:
  open: {{label: 开}}
  done: {{label: 完, final: true}}
events:
  go:
    label: 走
    roles: [clerk]
    payload:
      type: object
      properties:
        present: {{type: integer}}
        yes: {{type: integer}}
        candidates: {{type: integer}}
        adults: {{type: integer}}
    transitions:
      - from: open
        to: done
        guards:
          - {guard}
"""

EXAMPLES = {
    "cel": '{cel: "payload.yes <= payload.present", explain: 赞成票不超过到会人数}',
    "quorum": '{quorum: {present: payload.present, expected: 9, at_least: "2/3", label: 到会}}',
    "threshold": '{threshold: {count: payload.yes, of: payload.present, more_than: "1/2"}}',
    "margin": '{margin: {candidates: payload.candidates, seats: data.seats, at_least: "1/5"}}',
    "weights": "{weights: {of: data.weights}}",
    "meeting_rule": (
        "{meeting_rule: {meeting: villagers_meeting, "
        "quorum: {adults: {present: payload.adults, expected: 100}}, "
        "adoption: {yes: payload.yes, of: payload.present}}}"
    ),
}


def test_the_schema_guard_branches_are_the_registry_kinds() -> None:
    """The shipped procedure schema's $defs.guard is exactly the kinds' branches, in order."""
    assert load_schema("procedure.schema.json")["$defs"]["guard"] == guard_schema()


def test_the_reference_documents_the_registry_kinds() -> None:
    """docs/guards.md is generated from the registry: one section per kind, in its order."""
    assert guard_kinds() == tuple(kind.name for kind in GUARD_KINDS)
    _, examples = bundled_examples(ROOT / "procedures")
    assert set(examples) <= set(guard_kinds())


@pytest.mark.parametrize("name", [kind.name for kind in GUARD_KINDS])
def test_each_kind_builds_and_compiles_through_the_registry(name: str) -> None:
    """A procedure entry of each kind is built and compiled by its own kind's module."""
    report = check_source(SOURCE.format(guard=EXAMPLES[name]), "one.yaml")

    assert [str(p) for p in report.problems] == []
    assert report.compiled is not None
    (transition,) = report.compiled.procedure.events["go"].transitions
    (model,) = transition.guards
    (compiled,) = report.compiled.transitions["go"]
    (check,) = compiled.guards
    assert model.kind == check.kind == name
    assert kind_named(name).name == name


def test_an_entry_is_of_the_kind_whose_key_it_holds() -> None:
    """kind_of: the entry's kind is the registered kind whose key it holds."""
    assert kind_of({"cel": "true", "label": "x"}).name == "cel"
    assert kind_of({"quorum": {}}).name == "quorum"
    with pytest.raises(KeyError):
        kind_of({"nothing": 1})


def test_no_module_outside_the_guards_package_asks_which_kind_a_guard_is() -> None:
    """No isinstance on a guard kind's model or check class outside engine/guards."""
    names = {
        "CelGuard", "ThresholdGuard", "MarginGuard", "WeightsGuard", "MeetingRuleGuard",
        "CelCheck", "ThresholdCheck", "MarginCheck", "WeightsCheck", "MeetingRuleCheck",
    }  # fmt: skip
    offenders = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        if path.is_relative_to(ENGINE_DIR / "guards"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance"
            if called and any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node)):
                offenders.append(f"{path.relative_to(ENGINE_DIR)}:{node.lineno}")
    assert offenders == []


# -- the prepared checks say exactly what the Fraction arithmetic says ---------------------

fractions = st.builds(
    Fraction, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=40)
).filter(lambda f: 0 < f <= 1)
counts = st.integers(min_value=-5, max_value=10**6)


def _env(count: int, base: int) -> dict[str, Any]:
    return {"payload": {"count": count, "base": base}}


def _count(name: str) -> Count:
    return Count(expression=compile_cel(f"payload.{name}"), path=("payload", name))


@given(
    count=counts,
    base=counts,
    fraction=fractions,
    operator=st.sampled_from(OPERATORS),
    kind=st.sampled_from(["threshold", "quorum"]),
    label=st.sampled_from(["", "支委会到会"]),
    base_words=st.sampled_from(["", "到会党员"]),
)
def test_a_threshold_check_says_what_the_fraction_arithmetic_says(  # noqa: PLR0917 - one per drawn value
    count: int,
    base: int,
    fraction: Fraction,
    operator: Operator,
    kind: Any,
    label: str,
    base_words: str,
) -> None:
    """ThresholdCheck: verdict, inputs and explanation equal threshold() + explain_threshold()."""
    check = ThresholdCheck(
        kind=kind, count=_count("count"), base=_count("base"), operator=operator,
        fraction=fraction, base_words=base_words, label=label,
    )  # fmt: skip
    outcome = threshold(count, operator, fraction, base)
    words = ("present", "expected") if kind == "quorum" else ("", base_words or "in the base")

    result = check.evaluate(_env(count, base))

    assert result.passed is outcome.met
    assert result.inputs == outcome.inputs()
    assert result.explanation == explain_threshold(
        outcome, count_words=words[0], base_words=words[1], label=label
    )


@given(candidates=counts, seats=counts, fraction=fractions)
def test_a_margin_check_says_what_the_fraction_arithmetic_says(
    candidates: int, seats: int, fraction: Fraction
) -> None:
    """MarginCheck: candidates - seats >= fraction × seats, the bound shown as before."""
    check = MarginCheck(candidates=_count("count"), seats=_count("base"), fraction=fraction)
    outcome = threshold(candidates - seats, "at_least", fraction, seats)

    result = check.evaluate(_env(candidates, seats))

    assert result.passed is outcome.met
    shown = f"({show_number(outcome.bound)}): {'met' if outcome.met else 'not met'}"
    assert result.explanation.endswith(shown)


@given(
    numerator=st.integers(min_value=-(10**9), max_value=10**9), denominator=st.integers(1, 10**4)
)
def test_show_ratio_is_show_number_of_the_fraction(numerator: int, denominator: int) -> None:
    """show_ratio(n, d) on the reduced fraction is show_number(Fraction(n, d))."""
    value = Fraction(numerator, denominator)
    assert show_ratio(value.numerator, value.denominator) == show_number(value)
