"""A JSON tree that never changes, copied afresh for every record that holds it.

Some parts of a record are the same for every record of a procedure version: the
rule set and its choices in each ``case.opened`` record, the params of each action
call in each ``event.applied`` record. A sealed record is handed to the caller, who
may change it, so each record needs its own copy — but only of the dicts and lists:
strings, integers, booleans and None cannot be changed, and sharing them is safe.

``ConstantTree`` keeps its own deep copy of the tree and a plan of where its
containers are (parent, key, container), worked out once. A copy is then one C-level
shallow copy (``dict.copy``, ``list.copy``) per container, each put in place in its
new parent: no call per container, no look at the scalars, no new strings. Decoding
the tree from its JSON bytes (``orjson.loads``), as the rule set was copied before,
makes every string anew (the choices are mostly Chinese text) and cost several
times more per ``case.opened`` record (callgrind instruction counts on
``bench/engine_bench.py``'s open).
"""

from __future__ import annotations

from typing import Any

Container = dict[str, Any] | list[Any]


class ConstantTree:
    """Fresh copies of one JSON tree (dicts, lists and scalars) that nothing changes.

    Args:
        tree: a dict or list of plain JSON values; it is copied here, so a later
            change to it does not reach the copies.

    Raises:
        TypeError: when the tree holds anything but dicts, lists, tuples, strings,
            integers, floats, booleans and None (a set, say, which sharing would leak).
    """

    __slots__ = ("_plan", "_root")

    def __init__(self, tree: Container) -> None:
        self._root: Container = _own_copy(tree)
        plan: list[tuple[int, Any, Container]] = []

        def walk(node: Container, index: int) -> None:
            pairs = node.items() if type(node) is dict else enumerate(node)
            for key, child in pairs:
                if type(child) is dict or type(child) is list:
                    plan.append((index, key, child))
                    walk(child, len(plan))  # its copy's place: after the root, in plan order

        walk(self._root, 0)
        self._plan = tuple(plan)

    def copy(self) -> Any:
        """A deep copy of the tree: new dicts and lists, the same (immutable) scalars."""
        made: list[Any] = [self._root.copy()]
        append = made.append
        for parent, key, source in self._plan:
            child = source.copy()
            made[parent][key] = child
            append(child)
        return made[0]


_SCALARS = (str, int, float, bool, type(None))


def _own_copy(value: Any) -> Any:
    """A deep copy of plain JSON (tuples become lists, as a record holds them)."""
    if isinstance(value, dict):
        return {key: _own_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_own_copy(item) for item in value]
    if isinstance(value, _SCALARS):
        return value
    raise TypeError(f"{type(value).__name__} is not plain JSON: a copy could not share it")


__all__ = ["ConstantTree"]
