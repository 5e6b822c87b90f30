"""Compile a procedure's guards and action expressions, checking what they read.

Every CEL expression is compiled once, here, at load time. Besides syntax and
the security rules of ``engine.guards.cel``, this module checks each expression
against the declared schemas:

* a field it reads (``payload.yes``, ``data.members``) must be declared;
* a count in a threshold must be an integer field;
* a comparison of a field with a literal of another type can never match;
* an action must write a declared data field of a fitting type.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.actions.registry import Registry
from engine.definition.model import ActionCall, CountRef, Procedure, Transition
from engine.errors import Problem, SourceLocation
from engine.guards.cel import (
    CelCheckError,
    CelExpression,
    blank_strings,
    compile_cel,
    find_position,
)
from engine.guards.cel_cost import CostProblem, cost_bound
from engine.guards.checks import Count, GuardCheck
from engine.guards.registry import compile_guard

_BARE_PATH = re.compile(r"^\s*(data|payload)((?:\.[A-Za-z_]\w*)+)\s*$")
_COMPARISON = re.compile(
    r"(?<![\w.])((?:data|payload)(?:\.[A-Za-z_]\w*)+)\s*(==|!=|<=|>=|<|>)\s*"
    r"(\"[^\"]*\"|'[^']*'|-?\d+\b|true\b|false\b)"
)
_ACTOR_FIELDS = ("actor.id", "actor.roles")


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledTransition:
    """A transition with its guards ready to evaluate."""

    transition: Transition
    guards: tuple[GuardCheck, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledProcedure:
    """A procedure whose expressions are compiled: what the runtime runs."""

    procedure: Procedure
    transitions: Mapping[str, tuple[CompiledTransition, ...]]
    expressions: Mapping[str, CelExpression]
    registry: Registry


def compile_procedure(
    procedure: Procedure, registry: Registry
) -> tuple[CompiledProcedure, list[Problem]]:
    """Compile every guard and action expression; return the problems found."""
    compiler = _Compiler(procedure, registry)
    transitions = {
        event.id: tuple(compiler.transition(event.id, t) for t in event.transitions)
        for event in procedure.events.values()
    }
    compiled = CompiledProcedure(
        procedure=procedure,
        transitions=transitions,
        expressions=compiler.expressions,
        registry=registry,
    )
    return compiled, compiler.problems


def _line_column(source: str, offset: int) -> tuple[int, int]:
    before = source[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def schema_at(schema: Mapping[str, Any], parts: list[str]) -> Mapping[str, Any] | None:
    """The sub-schema for a dotted path, or None when the schema does not say."""
    node: Mapping[str, Any] = schema
    for part in parts:
        props = node.get("properties")
        if not isinstance(props, Mapping):
            return None
        if part not in props:
            return {}
        node = props[part]
    return node


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    return set()


class _Compiler:
    def __init__(self, procedure: Procedure, registry: Registry) -> None:
        self.procedure = procedure
        self.registry = registry
        self.problems: list[Problem] = []
        self.expressions: dict[str, CelExpression] = {}
        self.payload_schema: Mapping[str, Any] = {}
        self._lines: list[str] | None = None

    def lines(self) -> list[str]:
        """The source's lines, split once: splitting per expression made validation
        quadratic in the file's size."""
        if self._lines is None:
            self._lines = self.procedure.source.splitlines()
        return self._lines

    def report(self, location: SourceLocation, message: str, code: str) -> None:
        self.problems.append(Problem(location=location, message=message, code=code))

    def transition(self, event_id: str, transition: Transition) -> CompiledTransition:
        self.payload_schema = self.procedure.events[event_id].payload_schema
        compiled = (compile_guard(guard, self) for guard in transition.guards)
        checks = tuple(check for check in compiled if check is not None)
        for action in transition.actions:
            self.action(action)
        return CompiledTransition(transition=transition, guards=checks)

    def within(self, location: SourceLocation, line: int, column: int) -> SourceLocation:
        """Where (``line``, ``column``) of an expression written at ``location`` is in the file.

        Quoted expressions start one column after their quote; block scalars (``|``,
        ``>``) on the next line, at its indentation.
        """
        lines = self.lines()
        text = lines[location.line - 1] if 0 < location.line <= len(lines) else ""
        mark = text[location.column - 1 : location.column]
        first_line, first_column = location.line, location.column
        if mark in ("|", ">") and location.line < len(lines):
            body = lines[location.line]
            first_line, first_column = location.line + 1, len(body) - len(body.lstrip(" ")) + 1
        elif mark in ("'", '"'):
            first_column += 1
        return SourceLocation(
            file=location.file,
            line=first_line + line - 1,
            column=first_column + column - 1 if line == 1 or mark in ("|", ">") else column,
            path=location.path,
        )

    def cel(self, source: str, location: SourceLocation) -> CelExpression | None:
        """The checked, compiled expression, or None after reporting why it is unusable."""
        try:
            expression = compile_cel(source)
        except CelCheckError as exc:
            self.report(self.within(location, exc.line, exc.column), exc.message, "cel")
            return None
        try:
            cost = cost_bound(
                blank_strings(source), self.procedure.data_schema, self.payload_schema
            )
        except CostProblem as problem:
            at = self.within(location, *_line_column(source, problem.offset))
            self.report(at, problem.message, "cel.cost")
            return None
        known = self.expressions.get(source)
        # One text may sit under events with different payload schemas: keep the highest.
        expression = replace(expression, cost=max(cost, known.cost if known else 0))
        self.expressions[source] = expression
        self.check_fields(expression, location)
        return expression

    def check_fields(self, expression: CelExpression, location: SourceLocation) -> None:
        for dotted in expression.fields:
            root, *parts = dotted.split(".")
            at = self.within(location, *find_position(expression.source, dotted))
            if root == "actor":
                if dotted not in _ACTOR_FIELDS:
                    self.report(
                        at,
                        f"{dotted} is not known: an actor has id and roles",
                        "cel.actor-field",
                    )
                continue
            schema = self.procedure.data_schema if root == "data" else self.payload_schema
            self.check_declared(root, parts, schema, at)
        for path, _op, literal in _COMPARISON.findall(expression.source):
            at = self.within(location, *find_position(expression.source, path))
            self.check_comparison(path, literal, at)

    def check_declared(
        self, root: str, parts: list[str], schema: Mapping[str, Any], location: SourceLocation
    ) -> Mapping[str, Any] | None:
        node: Mapping[str, Any] = schema
        walked = root
        for part in parts:
            props = node.get("properties")
            if not isinstance(props, Mapping):
                return None
            if part not in props:
                where = "the case data schema" if root == "data" else "the event's payload schema"
                close = difflib.get_close_matches(part, list(props), n=1)
                hint = f"; did you mean {walked}.{close[0]}?" if close else ""
                self.report(
                    location,
                    f"{walked}.{part} is not declared in {where}{hint}",
                    "field.undeclared",
                )
                return None
            node = props[part]
            walked = f"{walked}.{part}"
        return node

    def check_comparison(self, path: str, literal: str, location: SourceLocation) -> None:
        root, *parts = path.split(".")
        schema = self.procedure.data_schema if root == "data" else self.payload_schema
        declared = schema_at(schema, parts)
        types = _types(declared or {})
        if not types:
            return
        if literal.startswith(("'", '"')):
            literal_type, fits = "text", {"string"}
        elif literal in ("true", "false"):
            literal_type, fits = "true/false", {"boolean"}
        else:
            literal_type, fits = "an integer", {"integer"}
        if not types & fits:
            self.report(
                location,
                f"{path} is declared {'/'.join(sorted(types))} but is compared with "
                f"{literal_type} {literal}: the two can never match",
                "cel.type-mismatch",
            )

    def count(self, ref: CountRef) -> Count:
        """A count ready to evaluate; a bare field path must be declared an integer."""
        if isinstance(ref.source, int):
            return Count(literal=ref.source)
        expression = self.cel(ref.source, ref.location)
        match = _BARE_PATH.match(ref.source)
        if expression is not None and match:
            root, rest = match.group(1), match.group(2)
            schema = self.procedure.data_schema if root == "data" else self.payload_schema
            declared = schema_at(schema, rest.strip(".").split("."))
            types = _types(declared or {})
            if types and "integer" not in types:
                self.report(
                    ref.location,
                    f"{ref.source} is declared {'/'.join(sorted(types))}; a count must be an "
                    "integer field",
                    "count.type",
                )
        path = (match.group(1), *match.group(2).strip(".").split(".")) if match else ()
        return Count(expression=expression, path=path)

    def check_rule(self, name: str, action: ActionCall) -> None:
        """An action's counting rule must be one the procedure states (and states well)."""
        if name in self.procedure.counting:
            rule = self.procedure.counting[name]
            if action.name == "decide_seat_reduction" and rule.seat_reduction is None:
                self.report(
                    action.param_locations.get("rule", action.location),
                    f"decide_seat_reduction names the counting rule {name!r}, which states no "
                    "seat_reduction; add seat_reduction: {adopt: {base: …, more_than: …}, "
                    "floor: n} to the rule",
                    "counting.no-seat-reduction",
                )
            return
        known = list(self.procedure.counting)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        stated = ", ".join(known) if known else "none"
        self.report(
            action.param_locations.get("rule", action.location),
            f"{action.name} names the counting rule {name!r}, which the procedure's "
            f"counting does not state without errors (stated: {stated}){hint}",
            "counting.unknown-rule",
        )

    def action(self, action: ActionCall) -> None:
        if action.name not in self.registry:
            return  # the schema check has reported it
        spec = self.registry[action.name]
        if spec.rule and spec.rule in action.params:
            self.check_rule(str(action.params[spec.rule]), action)
        for key in spec.expressions:
            if key in action.params:
                self.cel(str(action.params[key]), action.param_locations.get(key, action.location))
        if spec.writes and spec.writes in action.params:
            target = str(action.params[spec.writes])
            parts = target.split(".")[1:]
            where = action.param_locations.get(spec.writes, action.location)
            declared = self.check_declared("data", parts, self.procedure.data_schema, where)
            types = _types(declared or {})
            need = {"increment": "integer", "append": "array"}.get(action.name)
            if need and types and need not in types:
                self.report(
                    where,
                    f"{action.name} needs {target} to be {need}, but it is declared "
                    f"{'/'.join(sorted(types))}",
                    "action.type",
                )
