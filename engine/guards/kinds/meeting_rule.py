"""The ``meeting_rule`` guard: a meeting's rule stated once, applied by name.

A procedure states each meeting's quorum (its parts, all or any one) and its
adoption once, under ``rule_set.choices.meetings``; the guard names the meeting
and gives only the counts. Each bound is a threshold check labelled with its
part, so its record and explanation read like any other threshold's.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from engine.errors import SourceLocation
from engine.guards.arithmetic import Operator
from engine.guards.checks import Env, GuardResult
from engine.guards.kind import (
    LABEL_SCHEMA,
    BuildContext,
    CompileContext,
    CountRef,
    GuardKind,
    Path,
    count_schema,
)
from engine.guards.kinds.threshold import ThresholdCheck


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingPart:
    """One bound of a meeting's stated rule with the counts a guard gives it."""

    name: str
    count: CountRef
    base: CountRef
    operator: Operator
    fraction: Fraction
    base_words: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingRuleGuard:
    """A meeting's rule from ``rule_set.choices.meetings``, applied by name.

    The fractions and operators come from the stated rule, so the rule is written once;
    the guard gives only the counts: per quorum part ``present`` and ``expected``, and
    for the adoption ``yes`` and ``of``.
    """

    meeting: str
    meeting_label: str
    quorum: tuple[MeetingPart, ...] = ()
    combine: Literal["all", "any"] = "all"
    adoption: MeetingPart | None = None
    label: str = ""
    location: SourceLocation
    kind: Literal["meeting_rule"] = "meeting_rule"


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

    def words(self) -> str:
        return self.describe()

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


def build(ctx: BuildContext, path: Path, raw: Mapping[str, Any]) -> MeetingRuleGuard:
    """Apply a meeting's stated rule: its fractions come from the rule set's choices."""
    location = ctx.locate(path)
    path = (*path, "meeting_rule")
    body = raw["meeting_rule"]
    meetings = ctx.meetings()
    name = body["meeting"]
    stated = meetings.get(name)
    if stated is None:
        close = difflib.get_close_matches(name, list(meetings), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        listed = ", ".join(meetings) or "none"
        ctx.report(
            (*path, "meeting"),
            f"no meeting {name!r} is stated under rule_set.choices.meetings "
            f"(stated: {listed}){hint}",
            "meeting.unknown",
        )
        stated = {"label": name}
    rule_path: Path = ("rule_set", "choices", "meetings", name)
    given = body.get("quorum", {})
    quorum = dict(stated.get("quorum", {}))
    combine = quorum.pop("combine", "all")
    for part in sorted(set(quorum) ^ set(given)):
        where = "the stated rule" if part in quorum else "this guard"
        ctx.report(
            (*path, "quorum") if part in quorum else (*path, "quorum", part),
            f"the quorum of {name} has the parts {sorted(quorum)}; {part!r} is only in "
            f"{where}: give present and expected for each stated part, and no other",
            "meeting.quorum-parts",
        )
    parts = tuple(
        _part(
            ctx, part, rule_path=(*rule_path, "quorum", part), rule=quorum[part],
            path=(*path, "quorum", part), count=given[part]["present"],
            base=given[part]["expected"],
        )
        for part in quorum
        if part in given
    )  # fmt: skip
    adoption = None
    if "adoption" in body:
        if "adoption" not in stated:
            ctx.report(
                (*path, "adoption"),
                f"{name} states no adoption rule under rule_set.choices.meetings",
                "meeting.adoption",
            )
        else:
            given_adoption = body["adoption"]
            adoption = _part(
                ctx, "adoption", rule_path=(*rule_path, "adoption"), rule=stated["adoption"],
                path=(*path, "adoption"), count=given_adoption["yes"], base=given_adoption["of"],
            )  # fmt: skip
    return MeetingRuleGuard(
        meeting=name,
        meeting_label=str(stated.get("label", name)),
        quorum=parts,
        combine="any" if combine == "any" else "all",
        adoption=adoption,
        label=body.get("label", ""),
        location=location,
    )


def _part(
    ctx: BuildContext,
    name: str,
    *,
    rule_path: Path,
    rule: Mapping[str, Any],
    path: Path,
    count: str | int,
    base: str | int,
) -> MeetingPart:
    operator, fraction = ctx.operator(rule_path, rule)
    count_key, base_key = ("yes", "of") if name == "adoption" else ("present", "expected")
    return MeetingPart(
        name=name,
        count=ctx.count((*path, count_key), count),
        base=ctx.count((*path, base_key), base),
        operator=operator,
        fraction=fraction,
        base_words=str(rule.get("of", "")),
    )


def compile_guard(guard: MeetingRuleGuard, ctx: CompileContext) -> MeetingRuleCheck:
    """The check: each stated bound as a threshold check labelled with its part's name."""

    def part(part: MeetingPart, kind: Literal["quorum", "threshold"]) -> ThresholdCheck:
        return ThresholdCheck(
            kind=kind,
            count=ctx.count(part.count),
            base=ctx.count(part.base),
            operator=part.operator,
            fraction=part.fraction,
            base_words=part.base_words,
            label=part.name,
        )

    return MeetingRuleCheck(
        meeting=guard.meeting,
        meeting_label=guard.meeting_label,
        quorum=tuple(part(p, "quorum") for p in guard.quorum),
        combine=guard.combine,
        adoption=part(guard.adoption, "threshold") if guard.adoption else None,
        label=guard.label,
    )


KIND = GuardKind(
    name="meeting_rule",
    schema={
        "type": "object",
        "description": (
            "A meeting's rule stated once under rule_set.choices.meetings, applied by name: its "
            "quorum (every part, or any one) and its adoption, with the operators and fractions "
            "stated there. The guard gives only the counts."
        ),
        "additionalProperties": False,
        "required": ["meeting_rule"],
        "properties": {
            "meeting_rule": {
                "type": "object",
                "description": "The meeting rule check.",
                "additionalProperties": False,
                "required": ["meeting"],
                "properties": {
                    "meeting": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The meeting's key under rule_set.choices.meetings.",
                    },
                    "quorum": {
                        "type": "object",
                        "description": (
                            "For each part of the meeting's stated quorum, its counts; every "
                            "stated part and no other."
                        ),
                        "additionalProperties": {
                            "type": "object",
                            "description": "The counts of one quorum part.",
                            "additionalProperties": False,
                            "required": ["present", "expected"],
                            "properties": {
                                "present": count_schema(
                                    "How many of this part are present (实到)."
                                ),
                                "expected": count_schema(
                                    "How many of this part are expected (应到): the base N."
                                ),
                            },
                        },
                    },
                    "adoption": {
                        "type": "object",
                        "description": "The counts for the meeting's stated adoption rule.",
                        "additionalProperties": False,
                        "required": ["yes", "of"],
                        "properties": {
                            "yes": count_schema("The yes votes."),
                            "of": count_schema(
                                "The base N the stated adoption rule names in words."
                            ),
                        },
                    },
                    "label": LABEL_SCHEMA,
                },
            }
        },
    },
    build=build,
    compile=compile_guard,
)
