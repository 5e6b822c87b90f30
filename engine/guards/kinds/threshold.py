"""The ``threshold`` and ``quorum`` guards: a count against a fraction of a base, exactly.

A threshold is ``count <operator> fraction × base`` with a named base (``of``, and
its words in ``base``); a quorum is the same test with those present against those
expected. Both are explained in words: ``398 present of 497 expected ≥ 4/5
(397.6): met``.

Everything that does not depend on the counts (the fraction's text, the words
around the numbers) is prepared when the procedure compiles; an evaluation reads
two integers, compares them by cross-multiplication and writes one string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from engine.errors import SourceLocation
from engine.guards.arithmetic import SYMBOLS, WORDS, Bound, Operator, show_ratio
from engine.guards.checks import Count, Env, GuardResult, InputError, failed, guard_result
from engine.guards.kind import (
    LABEL_SCHEMA,
    OPERATOR_SCHEMAS,
    BuildContext,
    CompileContext,
    CountRef,
    GuardKind,
    Path,
    count_schema,
    entry_schema,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdGuard:
    """``count <operator> fraction × base``, in exact arithmetic.

    A quorum is a threshold whose count is those present and whose base is those expected;
    ``kind`` keeps the distinction for explanations.
    """

    kind: Literal["threshold", "quorum"]
    count: CountRef
    base: CountRef
    operator: Operator
    fraction: Fraction
    base_words: str = ""
    label: str = ""
    location: SourceLocation


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
    # Prepared once from the fields above (see the module docstring).
    _bound: Bound = field(init=False, repr=False, compare=False)
    _head: str = field(init=False, repr=False, compare=False)
    _counted: str = field(init=False, repr=False, compare=False)
    _middle: str = field(init=False, repr=False, compare=False)
    _fraction: str = field(init=False, repr=False, compare=False)
    # What depends on the base alone, by base: its scaled bound p·base, the bound's
    # text and the explanation from the base on. A base is most often the case's
    # own constant (a committee's members), so an event finds it here; at most
    # _BASES are kept, whatever bases payloads send.
    _by_base: dict[int, tuple[int, str, str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        bound = Bound.of(self.operator, self.fraction)
        count_words, base_words = self._words()
        object.__setattr__(self, "_bound", bound)
        object.__setattr__(self, "_head", f"{self.label}: " if self.label else "")
        object.__setattr__(self, "_counted", f" {count_words}" if count_words else "")
        middle = f" {base_words} {SYMBOLS[self.operator]} {bound.fraction_text} ("
        object.__setattr__(self, "_middle", middle)
        object.__setattr__(self, "_fraction", bound.fraction_text)

    def _words(self) -> tuple[str, str]:
        if self.kind == "quorum":
            return "present", "expected"
        return "", self.base_words or "in the base"

    def describe(self) -> str:
        count_words, base_words = self._words()
        text = (
            f"{count_words or 'count'} ({self.count.text}) {WORDS[self.operator]} "
            f"{self._bound.fraction_text} of {base_words} ({self.base.text})"
        )
        return f"{self.label}: {text}" if self.label else text

    def words(self) -> str:
        return self.describe()

    def evaluate(self, env: Env) -> GuardResult:
        try:
            count = self.count.value(env)
            base = self.base.value(env)
        except InputError as exc:
            return failed(self.kind, self.label, self.describe(), str(exc))
        known = self._by_base.get(base)
        if known is None:
            known = self._prepare(base)
        scaled, bound_text, tail = known
        # Bound.met, inlined (each guard of each event passes here): q·count <op> p·base.
        met = self._bound.compare(self._bound.denominator * count, scaled)
        # explain_threshold's wording, with the parts that never change prepared.
        return guard_result(
            kind=self.kind,
            label=self.label,
            passed=met,
            inputs={
                "count": count,
                "base": base,
                "operator": self.operator,
                "fraction": self._fraction,
                "bound": bound_text,
            },
            explanation=f"{self._head}{count}{self._counted}{tail}{'met' if met else 'not met'}",
        )

    def _prepare(self, base: int) -> tuple[int, str, str]:
        """``p·base``, the reduced bound's text and the explanation's tail, kept for ``base``."""
        bound = self._bound
        scaled = bound.numerator * base
        numerator, denominator = bound.bound(base)
        tail = f" of {base}{self._middle}{show_ratio(numerator, denominator)}): "
        known = (scaled, f"{numerator}/{denominator}", tail)
        if len(self._by_base) >= _BASES:
            self._by_base.clear()
        self._by_base[base] = known
        return known


_BASES = 64
"""Bases kept per guard (see ``ThresholdCheck._by_base``): a procedure has a few."""


def build_quorum(ctx: BuildContext, path: Path, raw: Mapping[str, Any]) -> ThresholdGuard:
    """``{quorum: {present, expected, <operator>, label}}`` as a model guard."""
    body = raw["quorum"]
    operator, fraction = ctx.operator((*path, "quorum"), body)
    return ThresholdGuard(
        kind="quorum",
        count=ctx.count((*path, "quorum", "present"), body["present"]),
        base=ctx.count((*path, "quorum", "expected"), body["expected"]),
        operator=operator,
        fraction=fraction,
        # A quorum's base is "expected"; only a threshold names its base in words.
        base_words="",
        label=body.get("label", ""),
        location=ctx.locate(path),
    )


def build_threshold(ctx: BuildContext, path: Path, raw: Mapping[str, Any]) -> ThresholdGuard:
    """``{threshold: {count, of, base, <operator>, label}}`` as a model guard."""
    body = raw["threshold"]
    operator, fraction = ctx.operator((*path, "threshold"), body)
    return ThresholdGuard(
        kind="threshold",
        count=ctx.count((*path, "threshold", "count"), body["count"]),
        base=ctx.count((*path, "threshold", "of"), body["of"]),
        operator=operator,
        fraction=fraction,
        base_words=body.get("base", ""),
        label=body.get("label", ""),
        location=ctx.locate(path),
    )


def compile_guard(guard: ThresholdGuard, ctx: CompileContext) -> ThresholdCheck:
    """The check; a count whose expression is unusable is reported by the context."""
    return ThresholdCheck(
        kind=guard.kind,
        count=ctx.count(guard.count),
        base=ctx.count(guard.base),
        operator=guard.operator,
        fraction=guard.fraction,
        base_words=guard.base_words,
        label=guard.label,
    )


QUORUM = GuardKind(
    name="quorum",
    schema=entry_schema(
        "quorum",
        "Quorum: enough of those expected are present (docs/rules.md, R3). "
        "Name exactly one operator.",
        {
            "type": "object",
            "description": "The quorum check.",
            "additionalProperties": False,
            "properties": {
                "present": count_schema("How many are present (实到)."),
                "expected": count_schema("How many are expected (应到)."),
                **OPERATOR_SCHEMAS,
                "label": LABEL_SCHEMA,
            },
            "required": ["present", "expected"],
        },
    ),
    build=build_quorum,
    compile=compile_guard,
)

THRESHOLD = GuardKind(
    name="threshold",
    schema=entry_schema(
        "threshold",
        "Threshold: a count compared with a fraction of a named base, in exact arithmetic. "
        "Name exactly one operator.",
        {
            "type": "object",
            "description": "The threshold check.",
            "additionalProperties": False,
            "properties": {
                "count": count_schema("The count being judged (e.g. yes votes)."),
                "of": count_schema(
                    "The base N the fraction applies to (present, expected, ballots cast, …)."
                ),
                "base": {
                    "type": "string",
                    "description": (
                        "What the base is, in words (e.g. 实到会党员); shown in explanations."
                    ),
                },
                **OPERATOR_SCHEMAS,
                "label": LABEL_SCHEMA,
            },
            "required": ["count", "of"],
        },
    ),
    build=build_threshold,
    compile=compile_guard,
)
