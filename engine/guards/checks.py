"""Compiled guards: each evaluates against an environment and explains itself.

An environment is the plain dict CEL sees: ``data``, ``payload``, ``actor``
(``{"id": …, "roles": […]}``) and ``now`` (the attempt's recorded time). A guard
never reads anything else, so the same recorded inputs always give the same
result, which is what makes replay possible.

Every evaluation returns a ``GuardResult`` carrying its inputs, its result and
an explanation in words; a guard whose inputs are missing or of the wrong type
fails with the reason instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from engine.guards.arithmetic import (
    SYMBOLS,
    WORDS,
    Operator,
    explain_threshold,
    parse_fraction,
    show_number,
    threshold,
)
from engine.guards.cel import CelExpression, CelRuntimeError

Env = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardResult:
    """One guard's verdict, with its inputs and an explanation (recorded in the audit)."""

    kind: str
    label: str
    passed: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    explanation: str
    error: str | None = None

    def record(self) -> dict[str, Any]:
        """The JSON-ready form stored in audit records."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "inputs": self.inputs,
            "result": self.passed,
            "explanation": self.explanation,
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    def record_for(self, transition: int) -> dict[str, Any]:
        """The form stored in an attempt's record: ``record()`` naming its transition first."""
        out: dict[str, Any] = {
            "transition": transition,
            "kind": self.kind,
            "label": self.label,
            "inputs": self.inputs,
            "result": self.passed,
            "explanation": self.explanation,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


class _InputError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Count:
    """A count in a guard: an integer literal or a compiled CEL expression.

    When the expression is a bare field path (``payload.present``), ``path`` holds its
    parts and the value is read directly, without a round trip through CEL.
    """

    literal: int | None = None
    expression: CelExpression | None = None
    path: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return str(self.literal) if self.expression is None else self.expression.source

    def value(self, env: Env) -> int:
        if self.expression is None:
            return int(self.literal or 0)
        if self.path:
            result = _read_path(env, self.path, self.expression.source)
        else:
            try:
                result = self.expression.evaluate(env)
            except CelRuntimeError as exc:
                raise _InputError(f"{self.expression.source}: {exc.message}") from exc
        if isinstance(result, bool) or not isinstance(result, int):
            raise _InputError(f"{self.expression.source} gave {result!r}, not an integer")
        return result


def _read_path(env: Env, path: tuple[str, ...], source: str) -> Any:
    node: Any = env
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise _InputError(f"{source}: no value for {part!r}")
        node = node[part]
    return node


@dataclass(frozen=True, slots=True, kw_only=True)
class CelCheck:
    """A CEL expression that must be true."""

    expression: CelExpression
    explain: str = ""
    label: str = ""
    kind: Literal["cel"] = "cel"

    def describe(self) -> str:
        return self.explain or f"{self.expression.source} holds"

    def evaluate(self, env: Env) -> GuardResult:
        inputs = {"expression": self.expression.source, "reads": _reads(self.expression, env)}
        try:
            value = self.expression.evaluate(env)
        except CelRuntimeError as exc:
            return GuardResult(
                kind="cel",
                label=self.label,
                passed=False,
                inputs=inputs,
                explanation=f"{self.describe()}: cannot be evaluated ({exc.message})",
                error=exc.message,
            )
        if not isinstance(value, bool):
            message = f"gave {value!r}, not true or false"
            return GuardResult(
                kind="cel",
                label=self.label,
                passed=False,
                inputs=inputs,
                explanation=f"{self.describe()}: {message}",
                error=message,
            )
        verdict = "holds" if value else "does not hold"
        return GuardResult(
            kind="cel",
            label=self.label,
            passed=value,
            inputs=inputs,
            explanation=f"{self.describe()}: {verdict}",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdCheck:
    """``count <operator> fraction × base``; a quorum when ``kind == "quorum"``."""

    kind: Literal["threshold", "quorum"]
    count: Count
    base: Count
    operator: Operator
    fraction: Fraction
    base_words: str = ""
    label: str = ""

    def _words(self) -> tuple[str, str]:
        if self.kind == "quorum":
            return "present", "expected"
        return "", self.base_words or "in the base"

    def describe(self) -> str:
        count_words, base_words = self._words()
        fraction = f"{self.fraction.numerator}/{self.fraction.denominator}"
        text = (
            f"{count_words or 'count'} ({self.count.text}) {WORDS[self.operator]} {fraction} "
            f"of {base_words} ({self.base.text})"
        )
        return f"{self.label}: {text}" if self.label else text

    def evaluate(self, env: Env) -> GuardResult:
        try:
            count = self.count.value(env)
            base = self.base.value(env)
        except _InputError as exc:
            return _failed(self.kind, self.label, self.describe(), str(exc))
        outcome = threshold(count, self.operator, self.fraction, base)
        count_words, base_words = self._words()
        return GuardResult(
            kind=self.kind,
            label=self.label,
            passed=outcome.met,
            inputs=outcome.inputs(),
            explanation=explain_threshold(
                outcome, count_words=count_words, base_words=base_words, label=self.label
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginCheck:
    """差额 (R6): ``candidates - seats >= fraction × seats``."""

    candidates: Count
    seats: Count
    fraction: Fraction
    label: str = ""
    kind: Literal["margin"] = "margin"

    def describe(self) -> str:
        fraction = f"{self.fraction.numerator}/{self.fraction.denominator}"
        text = (
            f"candidates ({self.candidates.text}) exceed seats ({self.seats.text}) "
            f"by at least {fraction} of the seats"
        )
        return f"{self.label}: {text}" if self.label else text

    def evaluate(self, env: Env) -> GuardResult:
        try:
            candidates = self.candidates.value(env)
            seats = self.seats.value(env)
        except _InputError as exc:
            return _failed("margin", self.label, self.describe(), str(exc))
        outcome = threshold(candidates - seats, "at_least", self.fraction, seats)
        fraction = f"{self.fraction.numerator}/{self.fraction.denominator}"
        verdict = "met" if outcome.met else "not met"
        text = (
            f"{candidates} candidates for {seats} seats: margin {candidates - seats} "
            f"{SYMBOLS['at_least']} {fraction} × {seats} ({show_number(outcome.bound)}): {verdict}"
        )
        return GuardResult(
            kind="margin",
            label=self.label,
            passed=outcome.met,
            inputs={"candidates": candidates, "seats": seats, "fraction": fraction},
            explanation=f"{self.label}: {text}" if self.label else text,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsCheck:
    """A list or map of fraction strings that must sum to exactly one."""

    expression: CelExpression
    label: str = ""
    kind: Literal["weights"] = "weights"

    def describe(self) -> str:
        text = f"the weights ({self.expression.source}) sum to exactly 1"
        return f"{self.label}: {text}" if self.label else text

    def evaluate(self, env: Env) -> GuardResult:
        try:
            value = self.expression.evaluate(env)
        except CelRuntimeError as exc:
            return _failed("weights", self.label, self.describe(), exc.message)
        # Maps come back from CEL in an order that changes from process to process;
        # read them by key so the recorded weights (and so replay) are deterministic.
        items = [value[key] for key in sorted(value)] if isinstance(value, dict) else value
        if not isinstance(items, list):
            return _failed("weights", self.label, self.describe(), f"gave {value!r}, not a list")
        try:
            fractions = [parse_fraction(item) for item in items]
        except ValueError as exc:
            return _failed("weights", self.label, self.describe(), str(exc))
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


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingRuleCheck:
    """A meeting's stated rule: its quorum parts (all, or any one) and its adoption."""

    meeting: str
    meeting_label: str
    quorum: tuple[ThresholdCheck, ...] = ()
    combine: Literal["all", "any"] = "all"
    adoption: ThresholdCheck | None = None
    label: str = ""
    kind: Literal["meeting_rule"] = "meeting_rule"

    def describe(self) -> str:
        parts = [q.describe() for q in self.quorum]
        joined = (" and " if self.combine == "all" else " or ").join(parts)
        text = f"{self.meeting_label}: " + "; ".join(
            [p for p in (joined, self.adoption.describe() if self.adoption else "") if p]
        )
        return f"{self.label}: {text}" if self.label else text

    def evaluate(self, env: Env) -> GuardResult:
        quorum = [q.evaluate(env) for q in self.quorum]
        met = [r.passed for r in quorum]
        quorum_ok = (all(met) if self.combine == "all" else any(met)) if quorum else True
        adoption = self.adoption.evaluate(env) if self.adoption else None
        passed = quorum_ok and (adoption is None or adoption.passed)
        lines = [r.explanation for r in quorum]
        if quorum and self.combine == "any":
            lines.append("quorum: one condition is enough: " + ("met" if quorum_ok else "not met"))
        if adoption is not None:
            lines.append(adoption.explanation)
        errors = [r.error for r in [*quorum, adoption] if r is not None and r.error]
        return GuardResult(
            kind=self.kind,
            label=self.label or self.meeting_label,
            passed=passed,
            inputs={
                "meeting": self.meeting,
                "combine": self.combine,
                "quorum": [r.record() for r in quorum],
                "adoption": adoption.record() if adoption else None,
            },
            explanation=f"{self.meeting_label}: " + "; ".join(lines),
            error="; ".join(errors) if errors else None,
        )


GuardCheck = CelCheck | ThresholdCheck | MarginCheck | WeightsCheck | MeetingRuleCheck


def _failed(kind: str, label: str, described: str, reason: str) -> GuardResult:
    return GuardResult(
        kind=kind,
        label=label,
        passed=False,
        inputs={},
        explanation=f"{described}: cannot be evaluated ({reason})",
        error=reason,
    )


def _reads(expression: CelExpression, env: Env) -> dict[str, Any]:
    """The values of the fields an expression reads, for the audit record."""
    out: dict[str, Any] = {}
    for dotted in expression.fields:
        node: Any = env
        for part in dotted.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                node = None
                break
        if node is None or isinstance(node, str | int | bool):
            out[dotted] = node
    return out
