"""The JSON a request may carry into a case: exact values, bounded nesting.

Python's JSON reader accepts more than an audit record can hold: ``2.0`` and
``1e999`` (floats), ``NaN`` and ``Infinity``, integers beyond ±(2**53 - 1), a
lone surrogate (``"\\ud800"``) and nesting deep enough to exhaust the
interpreter's recursion. Each of those would reach the engine and fail when its
record is sealed, or when a guard binds the payload; so every ``data`` and
``payload`` member is checked here first, without recursion, and a bad value is
answered 422 ``invalid-request`` with the JSON path of every offending value.
Nothing is recorded: a value the audit cannot hold cannot be part of a refusal
either.
"""

from __future__ import annotations

import math
from typing import Any

from engine.audit.canonical import MAX_SAFE_INT

MAX_DEPTH = 64
"""The deepest nesting of objects and arrays a request value may have."""
MAX_REPORTED = 20
"""At most this many violations are listed; a count of the rest follows."""
_SHOWN = 40
"""Characters of an offending value shown in a message."""


def inexact(value: Any, where: str) -> list[dict[str, str]]:
    """The violations of exact JSON in ``value``, each with its path under ``where``.

    The walk visits each value once, in a tight loop: a path is spelt out only
    for containers and for offending values, so a 1 MiB body costs about as much
    as parsing it did.

    Args:
        value: a value from the JSON reader (dicts, lists, strings, numbers, null).
        where: the path of ``value`` itself, e.g. ``body.payload``.

    Returns:
        Up to ``MAX_REPORTED`` violations (``path`` and ``message``), then one
        saying how many more there were; empty when the value is exact.
    """
    found: list[dict[str, str]] = []
    more = 0

    def report(path: str | tuple[str, str | int], message: str | None) -> None:
        # Paths and messages are spelt out for the reported few only.
        nonlocal more
        if len(found) >= MAX_REPORTED:
            more += 1
            return
        where_ = path if isinstance(path, str) else _child_path(*path)
        found.append({"path": where_, "message": message or "not JSON"})

    deep = f"nested deeper than {MAX_DEPTH} levels"
    if type(value) not in _CONTAINERS:
        problem = _scalar_problem(value)
        return [] if problem is None else [{"path": where, "message": problem}]
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        node, path, depth = stack.pop()
        pairs: Any = node.items() if type(node) is dict else enumerate(node)
        for key, child in pairs:
            if type(key) is str and not key.isascii() and _has_surrogate(key):
                report(path, "a member name holds a lone surrogate (not UTF-8)")
                continue
            kind = type(child)
            if kind is int:
                if -MAX_SAFE_INT <= child <= MAX_SAFE_INT:
                    continue
            elif kind is str:
                if child.isascii() or not _has_surrogate(child):
                    continue
            elif kind is bool or child is None:
                continue
            elif kind in _CONTAINERS:
                if depth + 1 >= MAX_DEPTH:
                    report((path, key), deep)
                elif child:
                    stack.append((child, _child_path(path, key), depth + 1))
                continue
            report((path, key), _scalar_problem(child) if len(found) < MAX_REPORTED else None)
    if more:
        found.append({"path": where, "message": f"and {more} more values like these"})
    return found


_CONTAINERS = (dict, list)


def _child_path(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if type(key) is int else f"{path}.{_show_key(str(key))}"


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int):
        if -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
            return None
        return (
            f"integer {_shorten(str(item))} is outside ±(2**53 - 1); "
            "send it as a string to keep it exact"
        )
    if isinstance(item, float):
        shown = _shorten(repr(item))
        if not math.isfinite(item):
            return f"{shown} is not a number a record can hold; send an integer or a string"
        return (
            f"number {shown} is not an integer; records hold exact numbers only: "
            'send an integer, or a string such as "2/3" or "0.5"'
        )
    if isinstance(item, str):
        if _has_surrogate(item):
            return "a string holds a lone surrogate (not UTF-8)"
        return None
    if isinstance(item, dict | list):
        return None
    return f"a {type(item).__name__} is not JSON"  # pragma: no cover - the JSON reader makes none


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _show_key(key: str) -> str:
    if key.isidentifier() and not _has_surrogate(key):
        return key
    return repr(_shorten(key))


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def require_exact(value: Any, where: str) -> None:
    """Raise a 422 ``invalid-request`` problem unless ``value`` is exact JSON.

    Args:
        value: a request member (``data`` or ``payload``).
        where: its path in the request, e.g. ``body.payload``.

    Raises:
        ProblemError: listing where each offending value is and what is wrong.
    """
    from engine.server.problems import ProblemError

    violations = inexact(value, where)
    if violations:
        first = violations[0]
        detail = f"{first['path']}: {first['message']}"
        if len(violations) > 1:
            detail += f" (and {len(violations) - 1} more)"
        raise ProblemError(422, "invalid-request", detail, extra={"violations": violations})


def require_shallow(value: Any, where: str) -> None:
    """Raise a 422 ``invalid-request`` problem when ``value`` nests deeper than ``MAX_DEPTH``.

    A payload goes to the engine even when it holds inexact values: the engine
    refuses those itself, after checking the actor may fire the event, and
    records the refusal with the payload withheld. Only nesting is stopped here,
    because copying a 900-deep value would exhaust the interpreter's recursion.

    Raises:
        ProblemError: naming where the nesting went too deep.
    """
    from engine.server.problems import ProblemError

    stack: list[tuple[Any, int]] = [(value, 0)] if type(value) in _CONTAINERS else []
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_DEPTH:
            deep = [v for v in inexact(value, where) if v["message"].startswith("nested")]
            first = (
                deep[0]
                if deep
                else {"path": where, "message": f"nested deeper than {MAX_DEPTH} levels"}
            )
            detail = f"{first['path']}: {first['message']}"
            raise ProblemError(422, "invalid-request", detail, extra={"violations": [first]})
        children = node.values() if type(node) is dict else node
        stack.extend((child, depth + 1) for child in children if type(child) in _CONTAINERS)
