"""Compiled guards evaluate deterministically and explain themselves."""

from __future__ import annotations

from engine.guards.cel import Bindings, compile_cel
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
