"""A counting rule as a procedure states it: the general counting vocabulary.

A procedure names its counting rules under the top-level ``counting`` key and the
``count_vote`` action applies one by name. The rule is data, so any procedure can
say how its vote is counted without borrowing another rulebook's words:

* ``form``: ``motion`` (yes/no/abstain on one question), ``approval`` (approve up to
  ``seats`` names), ``single`` (one name, for ``seats`` places), ``grades`` (each
  candidate put in one of ``grades``, e.g. 优秀/合格/基本合格/不合格);
* ``turnout``: the vote is valid only when those who voted reach a share of a base
  (``registered``, ``expected`` or ``present``);
* ``decide``: a ``threshold`` (operator and fraction of an explicit base:
  ``registered``, ``expected``, ``present``, ``voters``, ``returned``, ``valid``)
  or ``most_votes`` with an optional ``floor`` (a share of a base);
* ``findings`` (grades): a share of one grade that gives a finding (优秀 needs at
  least 1/2 of the valid votes, say);
* ``ties`` at the last seat: ``revote``, ``lot``, ``admit_all`` or ``order`` (a
  declared precedence given with the count);
* ``further_round``: after a shortfall, the further round's candidates are the
  non-elected with most votes, shortfall + ⌈shortfall × extra⌉ of them (a tie at the
  cut-off stands together); its own ``decide`` when the further round is decided
  otherwise (另行选举 by most votes with a floor, say);
* ``seat_reduction``: after a shortfall the meeting may instead reduce the seats, by
  its own adoption rule (a share of a base) and never below a ``floor``;
* ``write_ins``: ``forbidden``, ``allowed`` or ``review``; ``blank``: ``valid`` or
  ``invalid``; ``invalid_reasons``: the reasons a ballot may be set aside, with
  their words; ``proxies``: a cap on proxy votes per holder (委托投票);
* ``label``, ``basis`` and ``words``: every word the record of a count carries.

A rule may start from a ``preset`` (``counting_presets``: the party-election rules)
and override any of its keys. ``parse_rule`` turns the plain mapping into a frozen
``CountingRule`` and raises
``RuleError`` with the key path of the first thing wrong, so ``validate`` can point
at it; the JSON Schema has already checked shapes and names.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from engine.errors import RuleError as RuleError
from engine.governance.counting_presets import PRESETS, with_preset
from engine.guards.arithmetic import OPERATORS, Operator, parse_fraction

Form = Literal["motion", "approval", "single", "grades"]
FORMS: tuple[Form, ...] = ("motion", "approval", "single", "grades")
TURNOUT_BASES: tuple[str, ...] = ("registered", "expected", "present")
DECIDE_BASES: tuple[str, ...] = ("registered", "expected", "present", "voters", "returned", "valid")
TIES: tuple[str, ...] = ("revote", "lot", "admit_all", "order")
WRITE_INS: tuple[str, ...] = ("forbidden", "allowed", "review")
REDUCTION_BASES: tuple[str, ...] = ("registered", "expected", "present", "voters")

BASE_WORDS: Mapping[str, str] = {
    "registered": "登记选民",
    "expected": "应到",
    "present": "到会",
    "voters": "参加投票",
    "returned": "收回选票",
    "valid": "有效票",
}
"""The default words for each base; a rule's ``words`` may replace any of them."""

DEFAULT_WORDS: Mapping[str, str] = {
    **BASE_WORDS,
    "yes": "赞成",
    "no": "反对",
    "abstain": "弃权",
    "adopted": "通过",
    "rejected": "未通过",
    "void": "投票无效",
    "valid_vote": "投票有效",
    "elected": "当选",
    "tie": "得票相同",
    "shortfall": "名额未选满",
    "counted": "已计票",
    "issued": "发出选票",
    "invalid": "无效票",
    "blank": "空白票",
    "votes": "票",
    "proxies": "委托投票",
    "lot": "抽签决定",
    "revote": "对得票相同者再投票",
    "order": "按事先确定的顺序",
    "admit_all": "得票相同者均当选",
    "further_round": "另行选举候选人",
    "write_in": "另选他人",
    "needs_review": "另选他人当选，须经审查",
    "seat_reduction": "减少名额",
    "reduction_adopted": "减少名额获得通过",
    "reduction_rejected": "减少名额未获通过",
}
"""Neutral words used where a rule states none: no rulebook's rule numbers."""

OPERATOR_WORDS: Mapping[str, str] = {
    "more_than": "超过",
    "at_least": "达到",
    "less_than": "少于",
    "at_most": "不超过",
}
OPERATOR_SIGNS: Mapping[str, str] = {
    "more_than": ">",
    "at_least": "≥",
    "less_than": "<",
    "at_most": "≤",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Share:
    """``count <operator> fraction × base``: a bound stated by the procedure."""

    base: str
    operator: Operator
    fraction: Fraction
    label: str = ""

    def record(self) -> dict[str, str]:
        """JSON-ready form (the fraction as an exact string)."""
        return {
            "base": self.base,
            "operator": self.operator,
            "fraction": f"{self.fraction.numerator}/{self.fraction.denominator}",
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """In a grades vote: a share of one grade's votes that gives a finding."""

    grade: str
    share: Share
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """How an election is decided: a threshold, or most votes with an optional floor."""

    threshold: Share | None = None
    most_votes: bool = False
    floor: Share | None = None

    @property
    def bound(self) -> Share | None:
        """The share each elected name must reach: the threshold, else the floor."""
        return self.threshold or self.floor


@dataclass(frozen=True, slots=True, kw_only=True)
class SeatReduction:
    """After a shortfall the meeting may reduce the seats by its own rule, never below ``floor``."""

    adopt: Share
    floor: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CountingRule:
    """One named counting rule, checked and frozen."""

    name: str
    label: str
    basis: str = ""
    form: Form
    seats: int = 1
    grades: tuple[str, ...] = ()
    turnout: Share | None = None
    threshold: Share | None = None
    most_votes: bool = False
    floor: Share | None = None
    findings: tuple[Finding, ...] = ()
    ties: str = "revote"
    write_ins: str = "forbidden"
    blank: str = "valid"
    invalid_reasons: Mapping[str, str] = field(default_factory=dict)
    proxy_cap: int | None = None
    further_extra: Fraction | None = None
    further_decision: Decision | None = None
    seat_reduction: SeatReduction | None = None
    preset: str = ""
    words: Mapping[str, str] = field(default_factory=dict)

    @property
    def decision(self) -> Decision:
        """The rule's own decision (a first round)."""
        return Decision(threshold=self.threshold, most_votes=self.most_votes, floor=self.floor)

    def word(self, key: str) -> str:
        """The procedure's word for ``key``, or the neutral default."""
        return self.words.get(key) or DEFAULT_WORDS.get(key, key)

    def reason_word(self, reason: str) -> str:
        """How the procedure names a reason a ballot is invalid."""
        return self.invalid_reasons.get(reason, reason)


def _share_words(rule: CountingRule, share: Share, what: str) -> str:
    fraction = f"{share.fraction.numerator}/{share.fraction.denominator}"
    return f"{what} {OPERATOR_SIGNS[share.operator]} {fraction} × {rule.word(share.base)}" + (
        f" ({share.label})" if share.label else ""
    )


def _decision_words(rule: CountingRule, decision: Decision) -> str:
    if decision.threshold is not None:
        return "decided by " + _share_words(rule, decision.threshold, rule.word("votes"))
    floor = decision.floor
    return "decided by most votes" + (
        ", each " + _share_words(rule, floor, rule.word("votes")) if floor else ""
    )


def describe_rule(rule: CountingRule) -> str:
    """One line saying what the rule counts and decides, in its own words."""
    seats = f", {rule.seats} seats" if rule.seats > 1 else ""
    preset = f" (preset {rule.preset})" if rule.preset else ""
    parts = [f"{rule.label} [{rule.form}{seats}]{preset}"]
    if rule.turnout is not None:
        parts.append("valid when " + _share_words(rule, rule.turnout, rule.word("voters")))
    if rule.threshold is not None or rule.most_votes:
        parts.append(_decision_words(rule, rule.decision))
    for finding in rule.findings:
        bare = Share(base=finding.share.base, operator=finding.share.operator,
                     fraction=finding.share.fraction)  # fmt: skip
        parts.append(f"{finding.label}: " + _share_words(rule, bare, finding.grade))
    if rule.form not in {"motion", "grades"}:
        parts.append(f"ties: {rule.ties}; write-ins: {rule.write_ins}")
    if rule.further_extra is not None or rule.further_decision is not None:
        extra = rule.further_extra or Fraction(0)
        parts.append(
            f"{rule.word('further_round')}: shortfall + ⌈shortfall × "
            f"{extra.numerator}/{extra.denominator}⌉"
            + (f", {_decision_words(rule, rule.further_decision)}" if rule.further_decision else "")
        )
    if rule.seat_reduction is not None:
        adopt = rule.seat_reduction.adopt
        parts.append(
            f"{rule.word('seat_reduction')}: "
            + _share_words(rule, adopt, rule.word("yes"))
            + f", seats ≥ {rule.seat_reduction.floor}"
        )
    if rule.proxy_cap is not None:
        parts.append(f"{rule.word('proxies')}: at most {rule.proxy_cap} per holder")
    return "; ".join(parts) + (f" — {rule.basis}" if rule.basis else "")


def _share(raw: Any, path: tuple[str | int, ...], bases: tuple[str, ...]) -> Share:
    if not isinstance(raw, Mapping):
        raise RuleError(path, 'a share is {base: …, more_than|at_least|…: "p/q"}')
    base = raw.get("base")
    if base not in bases:
        raise RuleError((*path, "base"), f"the base is one of {', '.join(bases)}, not {base!r}")
    given = [op for op in OPERATORS if op in raw]
    if len(given) != 1:
        raise RuleError(path, f"name exactly one operator of {', '.join(OPERATORS)}")
    operator = given[0]
    try:
        fraction = parse_fraction(raw[operator])
    except ValueError as exc:
        raise RuleError((*path, operator), str(exc)) from exc
    if not 0 <= fraction <= 1:
        raise RuleError((*path, operator), f"the fraction {raw[operator]} is outside [0, 1]")
    return Share(base=base, operator=operator, fraction=fraction, label=str(raw.get("label", "")))


def _strings(raw: Any, path: tuple[str, ...]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise RuleError(path, "a map of names to words")
    return {str(k): v for k, v in raw.items()}


def _decide(
    decide: Any, form: str, path: tuple[str, ...]
) -> tuple[Share | None, Any, Share | None]:
    """A ``decide`` mapping at ``path``: (threshold, most_votes body or None, floor)."""
    if not isinstance(decide, Mapping):
        raise RuleError(path, "decide is {threshold: …} or {most_votes: …}")
    threshold: Share | None = None
    most: Any = None
    floor: Share | None = None
    if "threshold" in decide and "most_votes" in decide:
        raise RuleError(path, "decide by a threshold or by most votes, not both")
    if "threshold" in decide:
        threshold = _share(decide["threshold"], (*path, "threshold"), DECIDE_BASES)
    elif "most_votes" in decide:
        most = decide["most_votes"] or {}
        if not isinstance(most, Mapping):
            raise RuleError((*path, "most_votes"), "most_votes is {} or {floor: …}")
        if "floor" in most:
            floor = _share(most["floor"], (*path, "most_votes", "floor"), DECIDE_BASES)
    if form == "motion" and threshold is None:
        raise RuleError(path, "a motion is decided by a threshold: decide: {threshold: …}")
    if form in ("approval", "single") and threshold is None and most is None:
        raise RuleError(path, "an election is decided by a threshold or by most votes")
    if form == "grades" and (threshold is not None or most is not None):
        raise RuleError(path, "a grades vote gives findings, not a decision by votes")
    return threshold, most, floor


def parse_rule(name: str, raw: Mapping[str, Any]) -> CountingRule:
    """Check one rule and freeze it; a ``preset`` is expanded first, the rule's keys over it.

    Raises:
        RuleError: naming the key path inside the rule and what is wrong.
    """
    preset = str(raw.get("preset", ""))
    if preset:
        if preset not in PRESETS:
            close = difflib.get_close_matches(preset, PRESETS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RuleError(
                ("preset",), f"the preset is one of {', '.join(PRESETS)}, not {preset!r}{hint}"
            )
        raw = with_preset(raw, PRESETS[preset])
    form = raw.get("form")
    if form not in FORMS:
        raise RuleError(("form",), f"the form is one of {', '.join(FORMS)}, not {form!r}")
    seats = raw.get("seats", 1)
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise RuleError(("seats",), f"seats is an integer ≥ 1, not {seats!r}")
    if form == "motion" and seats != 1:
        raise RuleError(("seats",), "a motion decides one question: seats is 1")
    threshold, most, floor = _decide(raw.get("decide", {}), form, ("decide",))
    grades = tuple(str(g) for g in raw.get("grades", ()))
    if form == "grades" and len(grades) < 2:
        raise RuleError(("grades",), "a grades vote names at least two grades")
    if form != "grades" and grades:
        raise RuleError(("grades",), "only a grades vote has grades")
    if len(set(grades)) != len(grades):
        raise RuleError(("grades",), "each grade is named once")
    findings = []
    for i, item in enumerate(raw.get("findings", ())):
        at: tuple[str | int, ...] = ("findings", i)
        if form != "grades":
            raise RuleError(at, "only a grades vote has findings")
        if item.get("grade") not in grades:
            raise RuleError((*at, "grade"), f"the grade is one of {', '.join(grades)}")
        share = _share(item, at, DECIDE_BASES)
        findings.append(Finding(grade=item["grade"], share=share, label=str(item["label"])))
    proxies = raw.get("proxies")
    cap = None
    if proxies is not None:
        cap = proxies.get("cap") if isinstance(proxies, Mapping) else None
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise RuleError(("proxies", "cap"), "a proxy holder's cap is an integer ≥ 1")
    return CountingRule(
        name=name,
        label=str(raw.get("label", name)),
        basis=str(raw.get("basis", "")),
        form=form,
        seats=seats,
        grades=grades,
        turnout=_share(raw["turnout"], ("turnout",), TURNOUT_BASES) if "turnout" in raw else None,
        threshold=threshold,
        most_votes=most is not None,
        floor=floor,
        findings=tuple(findings),
        ties=_choice(raw, "ties", TIES, "revote"),
        write_ins=_choice(raw, "write_ins", WRITE_INS, "forbidden"),
        blank=_choice(raw, "blank", ("valid", "invalid"), "valid"),
        invalid_reasons=_strings(raw.get("invalid_reasons"), ("invalid_reasons",)),
        proxy_cap=cap,
        further_extra=_further(raw, form),
        further_decision=_further_decision(raw, form),
        seat_reduction=_seat_reduction(raw, form),
        preset=preset,
        words=_strings(raw.get("words"), ("words",)),
    )


def _further(raw: Mapping[str, Any], form: str) -> Fraction | None:
    """``further_round.extra``: a further round takes shortfall + ⌈shortfall × extra⌉ names."""
    further = raw.get("further_round")
    if further is None:
        return None
    if form not in ("approval", "single"):
        raise RuleError(("further_round",), "only an election has further rounds")
    text = further.get("extra", "0") if isinstance(further, Mapping) else None
    try:
        extra = parse_fraction(text if isinstance(text, str | int) else "")
    except ValueError as exc:
        raise RuleError(("further_round", "extra"), str(exc)) from exc
    if extra < 0:
        raise RuleError(("further_round", "extra"), "extra is a fraction ≥ 0")
    return extra


def _further_decision(raw: Mapping[str, Any], form: str) -> Decision | None:
    """``further_round.decide``: how a further round is decided, when not as the first."""
    further = raw.get("further_round")
    if not isinstance(further, Mapping) or "decide" not in further:
        return None
    threshold, most, floor = _decide(further["decide"], form, ("further_round", "decide"))
    return Decision(threshold=threshold, most_votes=most is not None, floor=floor)


def _seat_reduction(raw: Mapping[str, Any], form: str) -> SeatReduction | None:
    """``seat_reduction``: the meeting's own rule for reducing the seats after a shortfall."""
    reduction = raw.get("seat_reduction")
    if reduction is None:
        return None
    if form not in ("approval", "single"):
        raise RuleError(("seat_reduction",), "only an election's seats can be reduced")
    if not isinstance(reduction, Mapping) or "adopt" not in reduction:
        raise RuleError(
            ("seat_reduction",), "seat_reduction is {adopt: {base: …, more_than: …}, floor: n}"
        )
    adopt = _share(reduction["adopt"], ("seat_reduction", "adopt"), REDUCTION_BASES)
    floor = reduction.get("floor", 1)
    if isinstance(floor, bool) or not isinstance(floor, int) or floor < 1:
        raise RuleError(
            ("seat_reduction", "floor"), f"the floor of seats is an integer ≥ 1, not {floor!r}"
        )
    return SeatReduction(adopt=adopt, floor=floor)


def _choice(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise RuleError((key,), f"{key} is one of {', '.join(allowed)}, not {value!r}")
    return str(value)


__all__ = [
    "BASE_WORDS",
    "DECIDE_BASES",
    "DEFAULT_WORDS",
    "FORMS",
    "REDUCTION_BASES",
    "TIES",
    "TURNOUT_BASES",
    "WRITE_INS",
    "CountingRule",
    "Decision",
    "Finding",
    "RuleError",
    "SeatReduction",
    "Share",
    "describe_rule",
    "parse_rule",
]
