"""The action registry: named, deterministic functions that transitions run.

A procedure names actions; it never carries code. Each action declares a JSON
Schema for its parameters (checked when the procedure loads) and which of its
parameters are CEL expressions (compiled when the procedure loads). Embedding
systems add their own through the ``yishi.actions`` entry-point group; each entry
point names an ``ActionSpec``.

An action receives an ``ActionContext`` (``engine.actions.context``): a private
copy of the case data it may change, the payload, the actor and the attempt's
recorded time. It returns a JSON-ready output, recorded in the audit record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from engine.actions.context import ActionContext as ActionContext
from engine.actions.context import RuleSource as RuleSource
from engine.actions.governance import GOVERNANCE_ACTIONS
from engine.actions.spec import ActionFunction as ActionFunction
from engine.actions.spec import ActionSpec as ActionSpec
from engine.errors import ActionFailed as ActionFailed
from engine.errors import EngineError


@dataclass(slots=True)
class Registry:
    """Actions by name."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)

    def register(self, spec: ActionSpec) -> None:
        """Add an action; a name can be registered once."""
        if spec.name in self.actions:
            raise EngineError(f"action {spec.name!r} is already registered")
        self.actions[spec.name] = spec

    def __contains__(self, name: object) -> bool:
        return name in self.actions

    def __getitem__(self, name: str) -> ActionSpec:
        return self.actions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.actions))

    def names(self) -> list[str]:
        return sorted(self.actions)


def split_path(path: str) -> list[str]:
    """``data.a.b`` → ``["a", "b"]``."""
    parts = path.split(".")
    return parts[1:]


@lru_cache(maxsize=1024)
def _split(path: str) -> tuple[tuple[str, ...], str]:
    """``data.a.b.c`` → ``(("a", "b"), "c")``: a procedure's few paths, split once each."""
    keys = split_path(path)
    return tuple(keys[:-1]), keys[-1]


def _parent(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    parents, last = _split(path)
    node = data
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ActionFailed(f"{path}: {key!r} holds {type(child).__name__}, not an object")
        node = child
    return node, last


def _value(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    if "expr" in params:
        return ctx.evaluate(params["expr"])
    return params.get("value")


def _set(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    node, key = _parent(ctx.data, params["path"])
    value = _value(params, ctx)
    node[key] = value
    return {"path": params["path"], "value": value}


def _append(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    node, key = _parent(ctx.data, params["path"])
    value = _value(params, ctx)
    current = node.setdefault(key, [])
    if not isinstance(current, list):
        raise ActionFailed(f"{params['path']} holds {type(current).__name__}, not a list")
    current.append(value)
    return {"path": params["path"], "value": value, "length": len(current)}


def _increment(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    node, key = _parent(ctx.data, params["path"])
    current = node.get(key, 0)
    if isinstance(current, bool) or not isinstance(current, int):
        raise ActionFailed(f"{params['path']} holds {current!r}, not an integer")
    node[key] = current + int(params.get("by", 1))
    return {"path": params["path"], "value": node[key]}


_PATH = {
    "type": "string",
    "pattern": r"^data(\.[A-Za-z_][A-Za-z0-9_]*)+$",
    "description": "The data field, as data.<field>[.<field>…]; objects on the way are created.",
}
_VALUE_PARAMS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": _PATH,
        "value": {"description": "A literal value (instead of expr)."},
        "expr": {"type": "string", "description": "A CEL expression giving the value."},
    },
    "not": {"required": ["value", "expr"]},
}

BUILTINS: tuple[ActionSpec, ...] = (
    ActionSpec(
        name="set",
        description="set a data field to a value or to the result of an expression",
        params_schema=_VALUE_PARAMS,
        run=_set,
        expressions=("expr",),
        writes="path",
    ),
    ActionSpec(
        name="append",
        description="append a value (or an expression's result) to a list in the data",
        params_schema=_VALUE_PARAMS,
        run=_append,
        expressions=("expr",),
        writes="path",
    ),
    ActionSpec(
        name="increment",
        description="add an integer (1 by default) to a data field",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["path"],
            "properties": {
                "path": _PATH,
                "by": {"type": "integer", "description": "The integer added (1 when omitted)."},
            },
        },
        run=_increment,
        writes="path",
    ),
)


BUILTINS = (*BUILTINS, *GOVERNANCE_ACTIONS)


def default_registry() -> Registry:
    """The built-in actions plus those installed under the ``yishi.actions`` entry points."""
    registry = Registry()
    for spec in BUILTINS:
        registry.register(spec)
    for point in entry_points(group="yishi.actions"):
        loaded = point.load()
        if not isinstance(loaded, ActionSpec):
            raise EngineError(f"entry point {point.name!r} does not name an ActionSpec")
        registry.register(loaded)
    return registry
