"""Every CEL expression has a static cost bound, checked by validate, and attempts a budget.

The CEL core can be neither limited nor interrupted, so what an expression may cost is
bounded before it runs, from the sizes its schemas allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.definition.loader import check_source, load_source
from engine.guards.cel import ATTEMPT_BUDGET, Bindings, blank_strings, compile_cel
from engine.guards.cel_cost import MAX_EXPRESSION_COST, CostProblem, cost_bound
from engine.runtime.clock import FixedClock, parse_time
from engine.runtime.engine import Engine
from engine.runtime.types import Actor
from engine.storage.memory import MemoryStore

CLERK = Actor(id="文书", roles=("clerk",))
AT = parse_time("2024-03-01T09:00:00+08:00")


def _list(max_items: int | None, items: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items or {"type": "integer"}}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def _payload(**fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": fields}


def _cost(source: str, payload: dict[str, Any], data: dict[str, Any] | None = None) -> int:
    return cost_bound(blank_strings(source), data or {"type": "object"}, payload)


def _procedure(guards: str, payload_props: str) -> str:
    return f"""\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: costly
version: "1.0.0"
title: 计票
rule_set:
  name: test
roles:
  clerk:
    label: 文书
initial: open
states:
  open:
    label: 计票中
  done:
    label: 完成
    final: true
events:
  count:
    label: 计票
    roles: [clerk]
    payload:
      type: object
      properties:
{payload_props}
    transitions:
      - from: open
        to: done
        guards:
{guards}
"""


def test_a_macro_over_a_list_without_max_items_is_refused_with_location_and_fix() -> None:
    """validate: a macro over payload.ballots, which has no maxItems, has no cost bound; the
    problem is located at the macro (file:line:col, path) and says the fix."""
    source = _procedure(
        "          - cel: payload.ballots.all(b, b >= 0)",
        "        ballots:\n          type: array\n          items: {type: integer}",
    )

    report = check_source(source, "costly.yaml")

    (problem,) = report.errors
    assert str(problem).startswith(
        "costly.yaml:31:34: events.count.transitions[0].guards[0].cel: "
        "payload.ballots.all() has no cost bound"
    )
    assert problem.message.endswith("add maxItems to payload.ballots")
    assert report.compiled is None


def test_the_same_macro_with_max_items_validates() -> None:
    """validate: the same guard over a list with maxItems has a bound and loads."""
    source = _procedure(
        "          - cel: payload.ballots.all(b, b >= 0)",
        "        ballots:\n          type: array\n          maxItems: 1000\n"
        "          items: {type: integer}",
    )

    compiled = load_source(source, "costly.yaml")

    (expression,) = compiled.expressions.values()
    assert 0 < expression.cost <= MAX_EXPRESSION_COST


def test_the_bound_at_the_limit_passes_and_one_element_more_is_refused() -> None:
    """Edge: the largest maxItems whose bound is within MAX_EXPRESSION_COST validates; one
    more element takes the bound past it and is refused."""
    source = "payload.xs.all(x, payload.ys.exists(y, y == x))"

    def cost(n: int) -> int:
        return _cost(source, _payload(xs=_list(n), ys=_list(n)))

    low, high = 1, 10_000
    while low < high:  # the largest n within the limit (cost grows with n)
        middle = (low + high + 1) // 2
        try:
            cost(middle)
            low = middle
        except CostProblem:
            high = middle - 1

    assert cost(low) <= MAX_EXPRESSION_COST
    with pytest.raises(CostProblem) as caught:
        cost(low + 1)
    assert "more than the 1,000,000 allowed" in caught.value.message


def test_seven_nested_macros_over_ten_elements_are_refused() -> None:
    """The 10⁷-step guard that froze a server is refused at validation."""
    source = (
        "payload.xs.all(a, "
        + "".join(f"payload.xs.all({v}, " for v in "bcdefg")
        + "a + b + c + d + e + f + g >= 0"
        + ")" * 7
    )

    with pytest.raises(CostProblem) as caught:
        _cost(source, _payload(xs=_list(10)))

    assert "may cost up to" in caught.value.message


def test_nesting_multiplies_and_each_level_counts() -> None:
    """The bound grows with each level of nesting: one level over 10 costs less than two."""
    one = _cost("payload.xs.all(a, a >= 0)", _payload(xs=_list(10)))
    two = _cost("payload.xs.all(a, payload.xs.all(b, a >= b))", _payload(xs=_list(10)))

    assert 10 <= one < two
    assert two >= 100


def test_membership_in_an_unbounded_list_inside_a_macro_is_refused() -> None:
    """`x in c` scans c; inside a macro c needs a bound too, and the message names it."""
    with pytest.raises(CostProblem) as caught:
        _cost("payload.xs.all(x, x in payload.ys)", _payload(xs=_list(10), ys=_list(None)))

    assert caught.value.message.endswith("add maxItems to payload.ys")


def test_reading_an_unbounded_field_inside_a_macro_is_fine_when_bound_once() -> None:
    """Fields of payload read inside a macro without `in` are bound once per evaluation, so
    they need no bound of their own."""
    assert _cost("payload.xs.all(x, size(payload.ys) > x)", _payload(xs=_list(10), ys=_list(None)))


def test_a_map_iterates_its_keys_bounded_by_max_properties_or_closed_properties() -> None:
    """Objects: maxProperties bounds the keys; so do closed properties; an open object with
    neither has no bound and the fix names maxProperties."""
    votes = {"type": "object", "additionalProperties": {"type": "integer"}}
    closed = {"type": "object", "additionalProperties": False, "properties": {"a": {}, "b": {}}}

    assert _cost("payload.v.all(k, payload.v[k] >= 0)", _payload(v={**votes, "maxProperties": 5}))
    assert _cost("payload.v.all(k, k != '')", _payload(v=closed))
    with pytest.raises(CostProblem) as caught:
        _cost("payload.v.all(k, payload.v[k] >= 0)", _payload(v=votes))
    assert caught.value.message.endswith("add maxProperties to payload.v")


def test_macros_over_elements_and_chains_use_the_element_schema() -> None:
    """A macro over a field of the element another macro binds is bounded by that field's
    maxItems; a macro over filter(…) by the filtered list's; a literal list by its length."""
    ballot = {"type": "object", "properties": {"marks": _list(3)}}
    ballots = _payload(ballots=_list(100, ballot))

    assert _cost("payload.ballots.all(b, b.marks.all(m, m >= 0))", ballots)
    assert _cost("payload.ballots.filter(b, size(b.marks) > 0).all(b, true)", ballots)
    assert _cost("[1, 2, 3].all(x, x > 0)", {"type": "object"})
    unbounded = _payload(
        ballots=_list(100, {"type": "object", "properties": {"marks": _list(None)}})
    )
    with pytest.raises(CostProblem) as caught:
        _cost("payload.ballots.all(b, b.marks.all(m, m >= 0))", unbounded)
    assert "b.marks" in caught.value.message


def test_map_and_filter_are_charged_for_rebuilding_their_result() -> None:
    """map/filter cost N² more than all over the same list (the core rebuilds the list)."""
    payload = _payload(xs=_list(100))

    assert _cost("size(payload.xs.filter(x, x > 0)) > 0", payload) > 100 * 100
    assert _cost("payload.xs.all(x, x > 0)", payload) < 100 * 100


def test_an_attempt_past_its_budget_fails_the_guard_with_an_explanation() -> None:
    """Runtime budget: each evaluation charges its static bound; the guard that would take
    the attempt past ATTEMPT_BUDGET does not run and fails, explained and recorded."""
    near_limit = "payload.xs.all(x, payload.ys.exists(y, y == x))"
    lists = "".join(
        f"        {name}:\n          type: array\n          maxItems: 300\n"
        "          items: {type: integer}\n"
        for name in ("xs", "ys")
    )
    per_guard = _cost(near_limit, _payload(xs=_list(300), ys=_list(300)))
    count = ATTEMPT_BUDGET // per_guard + 1  # one guard more than the budget pays for
    guards = "\n".join(f"          - cel: {near_limit} || {i} == {i}" for i in range(count))
    compiled = load_source(_procedure(guards, lists.rstrip("\n")), "costly.yaml")
    engine = Engine(MemoryStore(), FixedClock(AT))
    engine.open_case(compiled, "c1", {}, actor=CLERK, at=AT)

    outcome = engine.fire("c1", "count", actor=CLERK, payload={"xs": [1], "ys": [1]}, at=AT)

    assert outcome.status == "refused"
    results = [g["result"] for g in outcome.record["guards"]]
    assert results == [True] * (count - 1) + [False]
    assert "cost budget exceeded" in outcome.record["guards"][-1]["explanation"]
    assert "cost budget exceeded" in outcome.record["reason"]["message"]


def test_the_budget_counts_per_attempt() -> None:
    """A fresh attempt (fresh bindings) starts with the whole budget."""
    expression = compile_cel("1 == 1")
    spent = Bindings(payload={})
    spent.charge(ATTEMPT_BUDGET, "earlier guards")

    with pytest.raises(Exception, match="cost budget exceeded"):
        spent.charge(1, "one more")
    assert expression.evaluate(Bindings(payload={})) is True


def test_fields_read_inside_macros_are_bound_once_and_give_the_same_answers() -> None:
    """Binding once: the rewritten program answers as the text does, and a missing field
    keeps CEL's own error (its read is left as written)."""
    expression = compile_cel("payload.xs.all(x, x in payload.ys)")

    assert [parts for _, parts in expression.hoisted] == [("payload", "ys")]
    assert expression.evaluate(Bindings(payload={"xs": [1, 2], "ys": [2, 1]})) is True
    assert expression.evaluate(Bindings(payload={"xs": [1, 3], "ys": [2, 1]})) is False
    with pytest.raises(Exception, match="ys"):
        expression.evaluate(Bindings(payload={"xs": [1]}))
    short_circuit = compile_cel("payload.xs.all(x, x > 0 || payload.missing.a)")
    assert short_circuit.evaluate(Bindings(payload={"xs": [1]})) is True


def test_has_keeps_its_field_selection() -> None:
    """has(payload.x) inside a macro is not rewritten (has needs a selection)."""
    expression = compile_cel("payload.xs.all(x, has(payload.note) || x > 0)")

    assert expression.hoisted == ()
    assert expression.evaluate(Bindings(payload={"xs": [1]})) is True


def test_actions_rebinding_data_keep_the_attempts_budget() -> None:
    """After an action changes the data, expressions read fresh bindings of the same
    attempt: what the guards spent still counts."""
    spent = Bindings(payload={}, data={})
    spent.charge(ATTEMPT_BUDGET - 1, "guards")

    after_action = spent.rebind(data={"n": 1})

    assert after_action["data"] == {"n": 1}
    with pytest.raises(Exception, match="cost budget exceeded"):
        after_action.charge(2, "an action's expression")
