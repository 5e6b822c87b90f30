"""The ``margin`` guard (差额, R6): candidates exceed seats by at least a fraction of the seats.

``candidates - seats >= fraction × seats``, tested by cross-multiplication like a
threshold, and explained with the margin and its bound:
``7 candidates for 5 seats: margin 2 ≥ 1/5 × 5 (1): met``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from engine.errors import SourceLocation
from engine.guards.arithmetic import SYMBOLS, Bound, show_ratio
from engine.guards.checks import Count, Env, GuardResult, InputError, failed
from engine.guards.kind import (
    LABEL_SCHEMA,
    BuildContext,
    CompileContext,
    CountRef,
    GuardKind,
    Path,
    count_schema,
    entry_schema,
    fraction_schema,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginGuard:
    """差额 margin (R6): ``candidates - seats >= fraction × seats``."""

    candidates: CountRef
    seats: CountRef
    fraction: Fraction
    label: str = ""
    location: SourceLocation
    kind: Literal["margin"] = "margin"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginCheck:
    """差额 (R6): ``candidates - seats >= fraction × seats``."""

    candidates: Count
    seats: Count
    fraction: Fraction
    label: str = ""
    kind: Literal["margin"] = "margin"
    _bound: Bound = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_bound", Bound.of("at_least", self.fraction))

    def describe(self) -> str:
        text = (
            f"candidates ({self.candidates.text}) exceed seats ({self.seats.text}) "
            f"by at least {self._bound.fraction_text} of the seats"
        )
        return f"{self.label}: {text}" if self.label else text

    def words(self) -> str:
        return self.describe()

    def evaluate(self, env: Env) -> GuardResult:
        try:
            candidates = self.candidates.value(env)
            seats = self.seats.value(env)
        except InputError as exc:
            return failed("margin", self.label, self.describe(), str(exc))
        bound = self._bound
        margin = candidates - seats
        met = bound.met(margin, seats)
        fraction = bound.fraction_text
        verdict = "met" if met else "not met"
        text = (
            f"{candidates} candidates for {seats} seats: margin {margin} "
            f"{SYMBOLS['at_least']} {fraction} × {seats} "
            f"({show_ratio(*bound.bound(seats))}): {verdict}"
        )
        return GuardResult(
            kind="margin",
            label=self.label,
            passed=met,
            inputs={"candidates": candidates, "seats": seats, "fraction": fraction},
            explanation=f"{self.label}: {text}" if self.label else text,
        )


def build(ctx: BuildContext, path: Path, raw: Mapping[str, Any]) -> MarginGuard:
    """``{margin: {candidates, seats, at_least, label}}`` as a model guard."""
    body = raw["margin"]
    fraction = ctx.fraction((*path, "margin", "at_least"), body["at_least"])
    return MarginGuard(
        candidates=ctx.count((*path, "margin", "candidates"), body["candidates"]),
        seats=ctx.count((*path, "margin", "seats"), body["seats"]),
        fraction=fraction,
        label=body.get("label", ""),
        location=ctx.locate(path),
    )


def compile_guard(guard: MarginGuard, ctx: CompileContext) -> MarginCheck:
    """The check; a count whose expression is unusable is reported by the context."""
    return MarginCheck(
        candidates=ctx.count(guard.candidates),
        seats=ctx.count(guard.seats),
        fraction=guard.fraction,
        label=guard.label,
    )


KIND = GuardKind(
    name="margin",
    schema=entry_schema(
        "margin",
        "Candidate margin (差额, R6): candidates exceed seats by at least a fraction of the seats.",
        {
            "type": "object",
            "description": "The margin check.",
            "additionalProperties": False,
            "properties": {
                "candidates": count_schema("Number of candidates."),
                "seats": count_schema("Number of seats."),
                "at_least": fraction_schema(
                    'Smallest margin as a fraction of seats ("1/5" means 20 %).'
                ),
                "label": LABEL_SCHEMA,
            },
            "required": ["candidates", "seats", "at_least"],
        },
    ),
    build=build,
    compile=compile_guard,
)
