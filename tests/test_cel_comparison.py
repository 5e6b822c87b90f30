"""A guard that compares two integers is judged without the CEL core, with the core's answer.

``CelExpression.comparison`` lets a CEL guard such as ``payload.items >= 1`` be judged in
Python when both sides are integers; for anything else (a missing field, a bool, a string,
an integer CEL cannot hold) the core decides. Either way the guard's result must be the
one the core alone gives: verdict, explanation, error and quoted inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.guards.cel import ATTEMPT_BUDGET, Bindings, compile_cel
from engine.guards.kinds.cel import CelCheck

EXPRESSIONS = [
    "payload.items >= 1",
    "payload.yes <= payload.present",
    "data.members == payload.present",
    "payload.present != 0",
    "payload.yes > data.members",
    " payload . yes<-2 ",
    "0 < payload.items",
]

VALUES = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1]),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
FIELDS = ("items", "yes", "present", "members")


def _judge(check: CelCheck, data: dict[str, Any], payload: dict[str, Any]) -> Any:
    env = Bindings.fresh(data=data, payload=payload, actor={"id": "a", "roles": []})
    return check.evaluate(env)


def _checks(source: str) -> tuple[CelCheck, CelCheck]:
    # A cost as the procedure's compilation sets it (``compile_cel`` alone leaves 0).
    expression = dataclasses.replace(compile_cel(source), cost=10)
    assert expression.comparison is not None, source
    by_core = dataclasses.replace(expression, comparison=None)
    return CelCheck(expression=expression, explain="至少一项"), CelCheck(
        expression=by_core, explain="至少一项"
    )


@pytest.mark.parametrize("source", EXPRESSIONS)
@given(
    data=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=2),
    payload=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=3),
)
def test_a_comparison_is_judged_as_the_core_judges_it(
    source: str, data: dict[str, Any], payload: dict[str, Any]
) -> None:
    quick, core = _checks(source)
    assert _judge(quick, data, payload) == _judge(core, data, payload)


@pytest.mark.parametrize(
    "source",
    [
        "payload.a < 1u",
        "payload.a + 1 > 2",
        "payload.a > 0x10",
        "payload.a >= 1 && payload.b >= 1",
        "payload.a >= size(payload.b)",
        "actor.id == payload.a",
    ],
)
def test_only_a_lone_comparison_of_fields_and_integers_skips_the_core(source: str) -> None:
    """An unsigned or hex literal, arithmetic, a conjunction, a call or a field outside
    data and payload leaves the expression to the CEL core."""
    assert compile_cel(source).comparison is None


def test_a_deep_field_is_still_a_field_of_a_comparison() -> None:
    """``payload.a >= data.b.c.d`` compares two fields, however deep: it is judged quickly."""
    assert compile_cel("payload.a >= data.b.c.d").comparison is not None


def test_the_budget_is_charged_before_a_comparison_is_judged() -> None:
    quick, core = _checks("payload.items >= 1")
    results = []
    for check in (quick, core):
        env = Bindings.fresh(data={}, payload={"items": 3}, actor={"id": "a", "roles": []})
        env.charge(ATTEMPT_BUDGET, "earlier expressions")
        results.append(check.evaluate(env))
    assert results[0] == results[1]
    assert results[0].passed is False
    assert "cost budget exceeded" in results[0].explanation
