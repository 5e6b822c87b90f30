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
  cut-off stands together);
* ``write_ins``: ``forbidden``, ``allowed`` or ``review``; ``blank``: ``valid`` or
  ``invalid``; ``invalid_reasons``: the reasons a ballot may be set aside, with
  their words; ``proxies``: a cap on proxy votes per holder (委托投票);
* ``label``, ``basis`` and ``words``: every word the record of a count carries.

``parse_rule`` turns the plain mapping into a frozen ``CountingRule`` and raises
``RuleError`` with the key path of the first thing wrong, so ``validate`` can point
at it; the JSON Schema has already checked shapes and names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from engine.errors import RuleError as RuleError
from engine.guards.arithmetic import OPERATORS, Operator, parse_fraction

Form = Literal["motion", "approval", "single", "grades"]
FORMS: tuple[Form, ...] = ("motion", "approval", "single", "grades")
TURNOUT_BASES: tuple[str, ...] = ("registered", "expected", "present")
DECIDE_BASES: tuple[str, ...] = ("registered", "expected", "present", "voters", "returned", "valid")
TIES: tuple[str, ...] = ("revote", "lot", "admit_all", "order")
WRITE_INS: tuple[str, ...] = ("forbidden", "allowed", "review")

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
    words: Mapping[str, str] = field(default_factory=dict)

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


def describe_rule(rule: CountingRule) -> str:
    """One line saying what the rule counts and decides, in its own words."""
    seats = f", {rule.seats} seats" if rule.seats > 1 else ""
    parts = [f"{rule.label} [{rule.form}{seats}]"]
    if rule.turnout is not None:
        parts.append("valid when " + _share_words(rule, rule.turnout, rule.word("voters")))
    if rule.threshold is not None:
        parts.append("decided by " + _share_words(rule, rule.threshold, rule.word("votes")))
    elif rule.most_votes:
        floor = rule.floor
        parts.append(
            "decided by most votes"
            + (", each " + _share_words(rule, floor, rule.word("votes")) if floor else "")
        )
    for finding in rule.findings:
        bare = Share(base=finding.share.base, operator=finding.share.operator,
                     fraction=finding.share.fraction)  # fmt: skip
        parts.append(f"{finding.label}: " + _share_words(rule, bare, finding.grade))
    if rule.form not in {"motion", "grades"}:
        parts.append(f"ties: {rule.ties}; write-ins: {rule.write_ins}")
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


def _decide(raw: Mapping[str, Any], form: str) -> tuple[Share | None, Any, Share | None]:
    """The rule's ``decide``: (threshold, most_votes body or None, floor)."""
    decide = raw.get("decide", {})
    if not isinstance(decide, Mapping):
        raise RuleError(("decide",), "decide is {threshold: …} or {most_votes: …}")
    threshold: Share | None = None
    most: Any = None
    floor: Share | None = None
    if "threshold" in decide and "most_votes" in decide:
        raise RuleError(("decide",), "decide by a threshold or by most votes, not both")
    if "threshold" in decide:
        threshold = _share(decide["threshold"], ("decide", "threshold"), DECIDE_BASES)
    elif "most_votes" in decide:
        most = decide["most_votes"] or {}
        if not isinstance(most, Mapping):
            raise RuleError(("decide", "most_votes"), "most_votes is {} or {floor: …}")
        if "floor" in most:
            floor = _share(most["floor"], ("decide", "most_votes", "floor"), DECIDE_BASES)
    if form == "motion" and threshold is None:
        raise RuleError(("decide",), "a motion is decided by a threshold: decide: {threshold: …}")
    if form in ("approval", "single") and threshold is None and most is None:
        raise RuleError(("decide",), "an election is decided by a threshold or by most votes")
    if form == "grades" and (threshold is not None or most is not None):
        raise RuleError(("decide",), "a grades vote gives findings, not a decision by votes")
    return threshold, most, floor


def parse_rule(name: str, raw: Mapping[str, Any]) -> CountingRule:
    """Check one rule and freeze it.

    Raises:
        RuleError: naming the key path inside the rule and what is wrong.
    """
    form = raw.get("form")
    if form not in FORMS:
        raise RuleError(("form",), f"the form is one of {', '.join(FORMS)}, not {form!r}")
    seats = raw.get("seats", 1)
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise RuleError(("seats",), f"seats is an integer ≥ 1, not {seats!r}")
    if form == "motion" and seats != 1:
        raise RuleError(("seats",), "a motion decides one question: seats is 1")
    threshold, most, floor = _decide(raw, form)
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
    "TIES",
    "TURNOUT_BASES",
    "WRITE_INS",
    "CountingRule",
    "Finding",
    "RuleError",
    "Share",
    "describe_rule",
    "parse_rule",
]
