"""Compiled guards evaluate deterministically and explain themselves."""

from __future__ import annotations

from typing import Any

import pytest

from engine.guards.cel import Bindings, compile_cel
from engine.guards.checks import Count, InputError
from engine.guards.kinds.weights import WeightsCheck


def test_weights_from_a_map_are_recorded_in_key_order() -> None:
    """A map of weights is read by key: CEL returns maps in an order that varies between
    processes, and the recorded inputs must not (replay compares them)."""
    check = WeightsCheck(expression=compile_cel("data.weights"))
    weights = {"d": "1/5", "a": "3/10", "c": "1/5", "b": "1/5", "trust": "1/10"}
    env = Bindings(data={"weights": weights}, payload={}, actor={"id": "x", "roles": []}, now=None)
    result = check.evaluate(env)
    assert result.passed
    assert result.inputs["weights"] == ["3/10", "1/5", "1/5", "1/5", "1/10"]
    assert result.explanation == "weights 3/10 + 1/5 + 1/5 + 1/5 + 1/10 = 1: met"


def test_weights_that_do_not_sum_to_one_fail_with_the_sum() -> None:
    """Weights must sum to exactly one (docs/rules.md, 三票制); the explanation shows the sum."""
    check = WeightsCheck(expression=compile_cel("data.weights"))
    env = Bindings(data={"weights": ["3/10", "1/5", "1/5", "1/5"]}, payload={}, actor={}, now=None)
    result = check.evaluate(env)
    assert not result.passed
    assert result.explanation == "weights 3/10 + 1/5 + 1/5 + 1/5 = 0.9: not met (must be 1)"


@pytest.mark.parametrize(
    ("payload", "reads", "missing"),
    [
        ({"present": 3}, 3, None),
        ({}, None, "present"),
        ({"present": None}, None, None),
        ({"meeting": "全体"}, None, "present"),
        ({"meeting": ["a"]}, None, "present"),
        ({"meeting": {"yes": 1}}, None, "present"),
        ({"meeting": {"present": 4}}, 4, None),
    ],
)
def test_a_count_read_from_a_field_path_names_the_part_it_misses(
    payload: dict[str, Any], reads: int | None, missing: str | None
) -> None:
    """A count written as a field path is read by subscripts; a part that is absent (or
    under a value that is not an object) fails with that part named, and a null fails as
    not an integer."""
    path = "payload.meeting.present" if "meeting" in payload else "payload.present"
    count = Count(expression=compile_cel(path), path=tuple(path.split(".")))
    env = Bindings(data={}, payload=payload, actor={}, now=None)
    if reads is not None:
        assert count.value(env) == reads
        return
    with pytest.raises(InputError) as caught:
        count.value(env)
    expected = f": no value for {missing!r}" if missing else " gave None, not an integer"
    assert str(caught.value) == f"{path}{expected}"
