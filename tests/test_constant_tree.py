"""Specification: a ``ConstantTree`` copy equals its tree and shares no dict or list with it,
with its source, or with any other copy; only the immutable scalars are shared."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_support import four

from engine.runtime.attempt import Runner
from engine.runtime.constant_tree import ConstantTree

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=25,
)
_TREES = st.lists(_JSON, max_size=4) | st.dictionaries(st.text(max_size=4), _JSON, max_size=4)


def _containers(value: Any) -> list[Any]:
    """Every dict and list in ``value``, itself included."""
    if isinstance(value, dict):
        return [value, *(c for item in value.values() for c in _containers(item))]
    if isinstance(value, list):
        return [value, *(c for item in value for c in _containers(item))]
    return []


@given(_TREES)
@settings(max_examples=200)
def test_a_copy_is_equal_and_shares_no_container(tree: Any) -> None:
    """Rule: each copy equals the tree; no dict or list of it is one of the source's, of the
    tree's own, or of another copy's."""
    constant = ConstantTree(tree)
    first, second = constant.copy(), constant.copy()

    assert first == tree and second == tree
    ids = [{id(c) for c in _containers(v)} for v in (tree, first, second, constant.copy())]
    assert all(ids[i].isdisjoint(ids[j]) for i in range(4) for j in range(i + 1, 4))


def test_changing_a_copy_or_the_source_changes_no_later_copy() -> None:
    """Rule: the tree keeps its own copy, so neither a caller's change to a copy nor a later
    change to the source it was built from reaches the next copy."""
    source: dict[str, Any] = {"a": [1, {"b": "议"}], "c": {"d": []}}
    constant = ConstantTree(source)
    copied = constant.copy()
    copied["a"][1]["b"] = "changed"
    copied["c"]["d"].append(1)
    source["a"].append("later")

    assert constant.copy() == {"a": [1, {"b": "议"}], "c": {"d": []}}


def test_tuples_become_lists_and_scalars_are_shared() -> None:
    """Rule: a tuple is copied as the list a record holds; a string is the same object."""
    text = "".join(["村务", "公开"])
    copied = ConstantTree({"t": (1, text)}).copy()

    assert copied == {"t": [1, text]}
    assert copied["t"][1] is text


def test_a_value_that_is_not_plain_json_is_refused() -> None:
    """Rule: a set (mutable, and no JSON value) cannot be shared by the copies: TypeError."""
    with pytest.raises(TypeError, match="set is not plain JSON"):
        ConstantTree({"s": {1, 2}})


def test_each_opened_record_holds_its_own_rule_set() -> None:
    """Rule: the rule set of two ``case.opened`` records is equal and shares no container
    with the other's or with the runner's."""
    runner = Runner(four())
    first, second = runner.rule_set_copy(), runner.rule_set_copy()

    assert first == second == runner.rule_set
    kept = {id(c) for c in _containers(runner.rule_set)}
    assert {id(c) for c in _containers(first)}.isdisjoint(
        kept | {id(c) for c in _containers(second)}
    )
