"""The ``weights`` guard: a list or map of fractions that must sum to exactly one.

Used where a procedure's scoring weights come from the case data, so a wrong
set of weights is refused before anything is scored with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from engine.errors import SourceLocation
from engine.guards.arithmetic import parse_fraction, show_number
from engine.guards.cel import CelExpression, CelRuntimeError
from engine.guards.checks import Env, GuardResult, failed
from engine.guards.kind import (
    LABEL_SCHEMA,
    BuildContext,
    CompileContext,
    GuardKind,
    Path,
    entry_schema,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsGuard:
    """A list or map of fractions that must sum to exactly one."""

    expression: str
    label: str = ""
    location: SourceLocation
    kind: Literal["weights"] = "weights"


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsCheck:
    """A list or map of fraction strings that must sum to exactly one."""

    expression: CelExpression
    label: str = ""
    kind: Literal["weights"] = "weights"

    def describe(self) -> str:
        text = f"the weights ({self.expression.source}) sum to exactly 1"
        return f"{self.label}: {text}" if self.label else text

    def words(self) -> str:
        return self.describe()

    def evaluate(self, env: Env) -> GuardResult:
        try:
            value = self.expression.evaluate(env)
        except CelRuntimeError as exc:
            return failed("weights", self.label, self.describe(), exc.message)
        # Maps come back from CEL in an order that changes from process to process;
        # read them by key so the recorded weights (and so replay) are deterministic.
        items = [value[key] for key in sorted(value)] if isinstance(value, dict) else value
        if not isinstance(items, list):
            return failed("weights", self.label, self.describe(), f"gave {value!r}, not a list")
        try:
            fractions = [parse_fraction(item) for item in items]
        except ValueError as exc:
            return failed("weights", self.label, self.describe(), str(exc))
        total = sum(fractions, Fraction(0))
        shown = " + ".join(f"{f.numerator}/{f.denominator}" for f in fractions) or "0"
        met = total == 1
        text = f"weights {shown} = {show_number(total)}: {'met' if met else 'not met (must be 1)'}"
        return GuardResult(
            kind="weights",
            label=self.label,
            passed=met,
            inputs={"weights": [str(f) for f in fractions], "sum": str(total)},
            explanation=f"{self.label}: {text}" if self.label else text,
        )


def build(ctx: BuildContext, path: Path, raw: Mapping[str, Any]) -> WeightsGuard:
    """``{weights: {of, label}}`` as a model guard."""
    body = raw["weights"]
    return WeightsGuard(
        expression=body["of"],
        label=body.get("label", ""),
        location=ctx.locate((*path, "weights", "of")),
    )


def compile_guard(guard: WeightsGuard, ctx: CompileContext) -> WeightsCheck | None:
    """The check, or None when the expression is unusable (reported by the context)."""
    expression = ctx.cel(guard.expression, guard.location)
    if expression is None:
        return None
    return WeightsCheck(expression=expression, label=guard.label)


KIND = GuardKind(
    name="weights",
    schema=entry_schema(
        "weights",
        "Weights sum to one: a list or map of fractions that must add up to exactly 1.",
        {
            "type": "object",
            "description": "The weights check.",
            "additionalProperties": False,
            "properties": {
                "of": {
                    "type": "string",
                    "description": (
                        'A CEL expression giving a list or map of fraction strings such as "3/10".'
                    ),
                },
                "label": LABEL_SCHEMA,
            },
            "required": ["of"],
        },
    ),
    build=build,
    compile=compile_guard,
)
