"""Parameter schemas and readers shared by the governance actions.

Every governance action declares the same kinds of parameters (a CEL expression,
a count given literally or as CEL, an exact fraction, the ``data.…`` path in
``into``) and reads them the same way; this module holds those schema fragments and
readers so each action module states only its own rule. A value of the wrong type
makes the attempt refused (``ActionFailed``) with the parameter's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from engine.actions.context import ActionContext
from engine.errors import ActionFailed
from engine.guards.arithmetic import parse_fraction

PATH: dict[str, str] = {
    "type": "string",
    "pattern": r"^data(\.[A-Za-z_][A-Za-z0-9_]*)+$",
    "description": "Where to write the result, as data.<field>[.<field>…].",
}


def expr(what: str) -> dict[str, Any]:
    """The schema of a parameter holding a CEL expression that gives ``what``."""
    return {"type": "string", "minLength": 1, "description": f"A CEL expression giving {what}."}


def count_param(what: str) -> dict[str, Any]:
    """The schema of a count: an integer ≥ 0, or a CEL expression giving one."""
    return {
        "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "minLength": 1}],
        "description": f"{what}: an integer, or a CEL expression giving one.",
    }


FRACTION: dict[str, str] = {
    "type": "string",
    "pattern": "^[0-9]+/[1-9][0-9]*$",
    "description": 'An exact fraction such as "3/10".',
}


def param_value(params: Mapping[str, Any], key: str, ctx: ActionContext) -> Any:
    """The parameter ``key``: a string is a CEL expression and is evaluated, else literal."""
    raw = params[key]
    if isinstance(raw, str):
        return ctx.evaluate(raw)
    return raw


def param_int(params: Mapping[str, Any], key: str, ctx: ActionContext) -> int:
    """The parameter ``key`` as an integer (not a bool); ``ActionFailed`` otherwise."""
    value = param_value(params, key, ctx)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionFailed(f"{key} gave {value!r}, not an integer")
    return value


def param_optional_int(params: Mapping[str, Any], key: str, ctx: ActionContext) -> int | None:
    """Like ``param_int``, or None when ``key`` is not given."""
    return param_int(params, key, ctx) if key in params else None


def param_names(params: Mapping[str, Any], key: str, ctx: ActionContext) -> list[str]:
    """The parameter ``key`` as a list of names; an empty list when not given."""
    value = param_value(params, key, ctx) if key in params else []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ActionFailed(f"{key} gave {value!r}, not a list of names")
    return [str(v) for v in value]


def write(ctx: ActionContext, path: str, value: Any, *, append: bool = False) -> None:
    """Write ``value`` at ``data.…`` ``path``, creating objects on the way; or append to a list."""
    keys = path.split(".")[1:]
    node = ctx.data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ActionFailed(f"{path}: {key!r} holds {type(child).__name__}, not an object")
        node = child
    if append:
        current = node.setdefault(keys[-1], [])
        if not isinstance(current, list):
            raise ActionFailed(f"{path} holds {type(current).__name__}, not a list")
        current.append(value)
    else:
        node[keys[-1]] = value


def plain_fraction(value: Any, what: str) -> Fraction:
    """An exact fraction such as "3/10"; ``ActionFailed`` naming ``what`` otherwise."""
    try:
        return parse_fraction(value)
    except ValueError as exc:
        raise ActionFailed(f"{what}: {exc}") from exc


__all__ = [
    "FRACTION",
    "PATH",
    "count_param",
    "expr",
    "param_int",
    "param_names",
    "param_optional_int",
    "param_value",
    "plain_fraction",
    "write",
]
