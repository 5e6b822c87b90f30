"""A static upper bound on what evaluating a CEL expression can cost.

The CEL core has no cost limit and cannot be interrupted: an evaluation holds the
interpreter until it ends, so seven nested ``all`` over ten elements froze a
server for seconds. yishi therefore bounds every expression before it can run:
each macro (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) runs its body
once per element, and the number of elements is bounded by the schema of what it
iterates (``maxItems`` of an array, ``maxProperties`` or the closed ``properties``
of an object). The bound, in *units* (about one step of the CEL interpreter):

* every token costs 1 per evaluation of the code around it, i.e. the product of
  the sizes of the macros whose bodies contain it;
* inside a macro, ``x in c`` costs the size N of ``c`` more, and so does reading a
  collection through the element a macro binds (``b.marks``: the core copies it);
  fields of ``data`` and ``payload`` read inside a macro are bound once per
  evaluation (``CelExpression.hoisted``), so reading them costs nothing more;
* ``map`` and ``filter`` cost N² more: the core rebuilds its result list per
  element.

A macro over a collection whose size the schema does not bound has no bound, and
``validate`` refuses it, naming the field to give ``maxItems``. The payload and the
case data are checked against their schemas before any guard runs and after every
action, so the bound holds for every evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import CostProblem as CostProblem
from engine.guards.cel_syntax import MacroCall, enclosing, macro_calls, matching

MAX_EXPRESSION_COST = 1_000_000
"""The most units one expression may cost (measured by bench/cel_bench.py: about 0.1 s)."""

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+|&&|\|\||[=!<>]=|\S")
_PATH = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\s*\.\s*[A-Za-z_]\w*(?!\s*\()|\s*\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\.\s*([A-Za-z_]\w*)|\[([^\[\]]*)\]")
_IN_BEFORE = re.compile(r"\bin\s*$")
_KEYWORDS = frozenset({"in", "true", "false", "null"})


@dataclass(frozen=True, slots=True)
class _Resolved:
    """What a receiver or path is: its written name, schema, and size bound (None: none)."""

    name: str
    schema: Mapping[str, Any] | None
    size: int | None


def cost_bound(code: str, data_schema: Mapping[str, Any], payload_schema: Mapping[str, Any]) -> int:
    """The cost bound of an expression, in units.

    Args:
        code: the expression with string literals blanked (same offsets as the source).
        data_schema: the case data's JSON Schema.
        payload_schema: the event's payload JSON Schema ({} for action expressions
            outside an event).

    Raises:
        CostProblem: when a macro's collection has no size bound, or the bound is above
            ``MAX_EXPRESSION_COST``; ``offset`` is where in the expression.
    """
    analysis = _Analysis(code, {"data": data_schema, "payload": payload_schema})
    return analysis.total()


class _Analysis:
    def __init__(self, code: str, roots: dict[str, Mapping[str, Any]]) -> None:
        self.code = code
        self.roots = roots
        self.calls = macro_calls(code)
        self.sizes: dict[MacroCall, int] = {}
        self.elements: dict[MacroCall, Mapping[str, Any] | None] = {}
        for call in self.calls:  # source order: outer receivers resolve first
            resolved = self.receiver(call)
            if resolved.size is None:
                raise CostProblem(_unbounded(call, resolved), call.dot + 1)
            self.sizes[call] = resolved.size
            self.elements[call] = _element(resolved.schema)

    def multiplier(self, offset: int) -> int:
        product = 1
        for call in enclosing(self.calls, offset):
            product *= self.sizes[call]
        return product

    def receiver(self, call: MacroCall) -> _Resolved:
        start, end = call.receiver
        text = self.code[start:end].strip()
        if text.startswith("[") and matching(self.code, start) == end - 1:
            return _Resolved(name=text, schema=None, size=_literal_length(text))
        if text.endswith(")"):
            inner = next((c for c in self.calls if c.close == start + len(text) - 1), None)
            if inner is not None and inner.name in ("filter", "map"):
                schema = self.elements[inner] if inner.name == "filter" else None
                items = {"type": "array", "items": schema} if schema is not None else None
                return _Resolved(name=text, schema=items, size=self.sizes[inner])
            return _Resolved(name=text, schema=None, size=None)
        return self.path(text, start)

    def path(self, text: str, offset: int) -> _Resolved:
        match = _PATH.fullmatch(text)
        if match is None:
            return _Resolved(name=text, schema=None, size=None)
        root, rest = match.group(1), match.group(2)
        binder = next((c for c in reversed(enclosing(self.calls, offset)) if c.var == root), None)
        schema: Mapping[str, Any] | None
        if binder is not None:
            schema = self.elements[binder]
        elif root in self.roots:
            schema = self.roots[root]
        else:
            schema = None
        for field, _index in _SEGMENT.findall(rest):
            schema = _child(schema, field or None)
        name = root + re.sub(r"\s+", "", rest)
        return _Resolved(name=name, schema=schema, size=_size(schema))

    def total(self) -> int:
        units = 0
        for match in _TOKEN.finditer(self.code):
            units += self.multiplier(match.start())
        for call in self.calls:
            outer = self.multiplier(call.dot)
            size = self.sizes[call]
            units += outer * size  # one step per element
            if call.name in ("map", "filter"):
                units += outer * size * size
        for match in _PATH.finditer(self.code):
            root = match.group(1)
            if root in _KEYWORDS or not match.group(2):
                continue
            offset = match.start()
            inside = enclosing(self.calls, offset)
            if not inside:
                continue  # read once: linear in the (schema-checked) input
            rebound = any(call.var == root for call in inside)
            if not rebound and not _IN_BEFORE.search(self.code, 0, offset):
                continue  # bound once per evaluation (CelExpression.hoisted): no copy
            resolved = self.path(match.group(0), offset)
            if resolved.schema is None or not _is_collection(resolved.schema):
                continue
            if resolved.size is None:
                raise CostProblem(
                    f"{resolved.name} is read inside {inside[-1].name}() but its schema sets "
                    f"no {_limit_word(resolved.schema)}, so the expression has no cost bound; "
                    f"add {_limit_word(resolved.schema)} to {resolved.name}",
                    offset,
                )
            units += self.multiplier(offset) * resolved.size
        if units > MAX_EXPRESSION_COST:
            first = self.calls[0].dot + 1 if self.calls else 0
            raise CostProblem(
                f"the expression may cost up to {units:,} units, more than the "
                f"{MAX_EXPRESSION_COST:,} allowed: lower maxItems of what its macros iterate "
                "or nest fewer macros",
                first,
            )
        return units


def _unbounded(call: MacroCall, resolved: _Resolved) -> str:
    if resolved.schema is None:
        return (
            f"cannot bound how many elements {resolved.name}.{call.name}() visits: iterate "
            "over a field of data or payload whose schema sets maxItems"
        )
    word = _limit_word(resolved.schema)
    return (
        f"{resolved.name}.{call.name}() has no cost bound: {resolved.name} sets no {word}; "
        f"add {word} to {resolved.name}"
    )


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def _is_collection(schema: Mapping[str, Any]) -> bool:
    return bool(_types(schema) & {"array", "object"})


def _limit_word(schema: Mapping[str, Any]) -> str:
    return "maxProperties" if "object" in _types(schema) else "maxItems"


def _size(schema: Mapping[str, Any] | None) -> int | None:
    """The most elements (array) or keys (object) a value of ``schema`` can have."""
    if schema is None:
        return None
    types = _types(schema)
    bounds: list[int | None] = []
    if "array" in types:
        limit = schema.get("maxItems")
        bounds.append(limit if isinstance(limit, int) else None)
    if "object" in types:
        limit = schema.get("maxProperties")
        props = schema.get("properties")
        closed = schema.get("additionalProperties") is False and not schema.get("patternProperties")
        if isinstance(limit, int):
            bounds.append(limit)
        elif closed and isinstance(props, Mapping):
            bounds.append(len(props))
        else:
            bounds.append(None)
    if not bounds or None in bounds:
        return None
    return max(b for b in bounds if b is not None)


def _element(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The schema of what a macro binds: an array's items, an object's keys (strings)."""
    if schema is None:
        return None
    types = _types(schema)
    if types == {"array"}:
        items = schema.get("items")
        return items if isinstance(items, Mapping) else None
    if types == {"object"}:
        return {"type": "string"}
    return None


def _child(schema: Mapping[str, Any] | None, field: str | None) -> Mapping[str, Any] | None:
    """The schema of ``schema.field`` (``field`` None: of an index ``schema[…]``)."""
    if schema is None:
        return None
    types = _types(schema)
    if field is None and "array" in types:
        items = schema.get("items")
        return items if isinstance(items, Mapping) else None
    props = schema.get("properties")
    if field is not None and isinstance(props, Mapping) and field in props:
        found = props[field]
        return found if isinstance(found, Mapping) else None
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _literal_length(text: str) -> int:
    inner = text[1:-1]
    if not inner.strip():
        return 0
    depth, commas = 0, 0
    for char in inner:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            commas += 1
    return commas + 1
