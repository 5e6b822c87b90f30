"""Count one vote by a procedure's counting rule, exactly, in the procedure's words.

``count_vote`` applies a ``CountingRule`` (see ``counting_rule``) to the ballots of
one vote and returns a ``VoteResult`` whose record holds every count, the bounds
as exact fractions, the outcome and an explanation written only with the rule's
label, basis and words. Nothing here knows a particular rulebook: a village
recall, a party branch's appraisal and an election by most votes with a floor are
all rules stated as data.

The ballot categories always add up: valid + invalid = returned, and the invalid
ballots by reason add up to invalid; returned ballots are at most those issued and
at most those who voted, or the vote is void. Proxy votes (委托投票) count in the
turnout, and a holder over the rule's cap makes the count refused.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.governance.ballots import Ballot
from engine.governance.counting_rule import (
    OPERATOR_SIGNS,
    OPERATOR_WORDS,
    CountingRule,
    Decision,
    Share,
)
from engine.governance.errors import GovernanceError
from engine.governance.ranking import TieRule, rank_top
from engine.guards.arithmetic import show_number, threshold

STATUSES: tuple[str, ...] = (
    "void",
    "adopted",
    "rejected",
    "elected",
    "tie",
    "shortfall",
    "counted",
)
"""Every status a count records: ``void`` (turnout not reached, or more ballots than
voters or issued), ``adopted``/``rejected`` (a motion), ``elected``/``tie``/``shortfall``
(an election), ``counted`` (a grades vote)."""

STAGES: tuple[str, ...] = ("first", "revote", "further")
"""An election's count: ``first`` by the rule's decision; ``revote`` among the tied,
by most votes alone; ``further`` (另行选举) by the rule's ``further_round.decide`` or
else its own decision. Names written in count only in a first count."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteInputs:
    """What one count reads: the ballots and the counts of people.

    Attributes:
        ballots: returned ballots, each ``{"marks": {name: mark}, "write_ins": …}``,
            ``{"spoiled": reason}``, optionally ``"count": n`` for a pile of n alike.
        candidates: the names on the ballot (approval, single, grades).
        tally: a grades vote's tally sheet, ``{candidate: {grade: votes}}``.
        registered / expected / present: the people counted (present: voted in person).
        issued / returned: ballots issued and declared returned, when known.
        proxies: ``(holder, votes)`` pairs of proxy votes cast.
        order: the declared precedence that settles a tie when the rule's ties is ``order``.
        stage: ``first``, ``revote`` or ``further`` (an election; see ``STAGES``).
        round: the count's number in the election, recorded when given.
        seats: the places this count fills, when not the rule's (a re-vote for the tied
            places, a further round for the shortfall, one post of several).
        written_in: names on this ballot who entered as write-ins in an earlier count:
            they keep their flag, and are listed for review when elected.
    """

    ballots: Sequence[Any] = ()
    candidates: Sequence[str] = ()
    tally: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    registered: int | None = None
    expected: int | None = None
    present: int | None = None
    issued: int | None = None
    returned: int | None = None
    proxies: Sequence[tuple[str, int]] = ()
    order: Sequence[str] = ()
    stage: str = "first"
    round: int | None = None
    seats: int | None = None
    written_in: Sequence[str] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteResult:
    """A count's outcome; ``record()`` is what the audit keeps."""

    rule: CountingRule
    status: str
    data: Mapping[str, Any]
    explanation: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        """JSON-ready form with every count and the explanation."""
        return {
            "rule": self.rule.name,
            "label": self.rule.label,
            "basis": self.rule.basis,
            "form": self.rule.form,
            "status": self.status,
            **self.data,
            "explanation": list(self.explanation),
        }


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


_BALLOT_SHAPE = (
    '选票写作 {"marks": {姓名: "approve"|"disapprove"|"abstain"}, "write_ins": {姓名: 标记}} '
    '或 {"spoiled": 无效原因}, 同样的多张可加 "count": 张数'
)


def _ballot(rule: CountingRule, raw: Any, number: int) -> Ballot:
    """One ballot, or a refusal that names its place and the shape, never its content."""
    try:
        return Ballot.from_json(raw)
    except GovernanceError as exc:
        reasons = "、".join(f"{k} ({v})" for k, v in rule.invalid_reasons.items())
        raise GovernanceError(
            f"{rule.label}: 第 {number} 份选票无法计入: {_BALLOT_SHAPE}"
            + (f"; 无效原因为 {reasons} 之一" if reasons else "")
        ) from exc


def _expand(rule: CountingRule, raw: Sequence[Any]) -> list[Ballot]:
    out: list[Ballot] = []
    for number, entry in enumerate(raw, start=1):
        if isinstance(entry, Mapping) and "count" in entry:
            count = entry["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise GovernanceError(f"{rule.label}: 第 {number} 份选票的张数须为 ≥ 0 的整数")
            rest = {k: v for k, v in entry.items() if k != "count"}
            out.extend([_ballot(rule, rest, number)] * count)
        else:
            out.append(_ballot(rule, entry, number))
    return out


class CountSheet:
    """One count in progress: the bases it has read and the lines it has written."""

    def __init__(self, rule: CountingRule, inputs: VoteInputs) -> None:
        self.rule = rule
        self.inputs = inputs
        self.lines: list[str] = [rule.label + (f" ({rule.basis})" if rule.basis else "")]
        self.bases: dict[str, int | None] = {
            "registered": inputs.registered,
            "expected": inputs.expected,
            "present": inputs.present,
        }

    @property
    def seats(self) -> int:
        """The places this count fills: given with the count, else the rule's."""
        return self.inputs.seats if self.inputs.seats is not None else self.rule.seats

    @property
    def write_ins(self) -> str:
        """Write-ins count only in a first count: a re-vote or further round is among names."""
        return self.rule.write_ins if self.inputs.stage == "first" else "forbidden"

    @property
    def decision(self) -> Decision:
        """How this count is decided, by its stage."""
        if self.inputs.stage == "revote":
            return Decision(most_votes=True)
        if self.inputs.stage == "further" and self.rule.further_decision is not None:
            return self.rule.further_decision
        return self.rule.decision

    def base(self, name: str) -> int:
        value = self.bases.get(name)
        if value is None:
            raise GovernanceError(
                f"{self.rule.label}: 本规则以{self.rule.word(name)} ({name}) 为基数, "
                f"但未给出{self.rule.word(name)}的人数"
            )
        return value

    def share(self, count: int, share: Share, count_words: str) -> dict[str, Any]:
        """Test ``count`` against a share; write one line; return the record."""
        base = self.base(share.base)
        outcome = threshold(count, share.operator, share.fraction, base)
        self.lines.append(
            f"{count_words} {count}, {self.rule.word(share.base)} {base}: 须"
            f"{OPERATOR_WORDS[share.operator]}{self.rule.word(share.base)}的 "
            f"{_fraction_text(share.fraction)} ({OPERATOR_SIGNS[share.operator]} "
            f"{show_number(outcome.bound)})"
            + (" — " + (share.label or "") if share.label else "")
            + f": {'符合' if outcome.met else '不符合'}"
        )
        return {
            **share.record(),
            "base_count": base,
            "count": count,
            "bound": _fraction_text(outcome.bound),
            "bound_display": show_number(outcome.bound),
            "met": outcome.met,
        }


def _proxies(rule: CountingRule, proxies: Sequence[tuple[str, int]]) -> int:
    held: Counter[str] = Counter()
    for holder, votes in proxies:
        if votes < 0:
            raise GovernanceError(f"{rule.label}: 每人{rule.word('proxies')}的票数须 ≥ 0")
        held[holder] += votes
    if rule.proxy_cap is None and held and sum(held.values()):
        raise GovernanceError(f"{rule.label}: 本规则不允许{rule.word('proxies')}")
    over = sorted(h for h, n in held.items() if rule.proxy_cap is not None and n > rule.proxy_cap)
    if over:
        raise GovernanceError(
            f"{rule.label}: {'、'.join(over)} 接受{rule.word('proxies')}超过 "
            f"{rule.proxy_cap} 票, 本规则每人至多 {rule.proxy_cap} 票"
        )
    return sum(held.values())


def count_vote(rule: CountingRule, inputs: VoteInputs) -> VoteResult:
    """Apply ``rule`` to one vote.

    Raises:
        GovernanceError: for inputs the rule refuses: a base it needs was not given,
            a declared returned count that differs from the ballots entered, a ballot
            marking a name not on it, a proxy holder over the cap, categories that do
            not add up.
    """
    counter = CountSheet(rule, inputs)
    proxy_votes = _proxies(rule, inputs.proxies)
    present = inputs.present
    if present is None:
        raise GovernanceError(f"{rule.label}: 须给出{rule.word('present')}的人数 (present)")
    if present < 0 or any(v is not None and v < 0 for v in counter.bases.values()):
        raise GovernanceError(f"{rule.label}: 人数须 ≥ 0")
    if inputs.stage not in STAGES:
        raise GovernanceError(f"{rule.label}: 计票阶段为 {'、'.join(STAGES)} 之一")
    if inputs.stage != "first" and rule.form not in ("approval", "single"):
        raise GovernanceError(f"{rule.label}: 只有选举才有再次投票和另行选举")
    if inputs.seats is not None and (inputs.seats < 1 or rule.form in ("motion", "grades")):
        raise GovernanceError(f"{rule.label}: 应选名额 (seats) 只用于选举, 须 ≥ 1")
    voters = present + proxy_votes
    counter.bases["voters"] = voters
    ballots = _expand(rule, inputs.ballots)
    returned = len(ballots)
    if inputs.returned is not None and inputs.returned != returned:
        raise GovernanceError(
            f"{rule.label}: 宣布{rule.word('returned')} {inputs.returned} 张, 录入 {returned} 张: "
            "两数相符才能计票"
        )
    issued = voters if inputs.issued is None else inputs.issued
    counter.bases["returned"] = returned
    data: dict[str, Any] = {
        "people": {
            "registered": inputs.registered,
            "expected": inputs.expected,
            "present": present,
            "proxy_votes": proxy_votes,
            "voters": voters,
        },
        "turnout": None,
    }
    if inputs.round is not None:
        data["round"] = inputs.round
    if proxy_votes:
        counter.lines.append(f"{rule.word('proxies')} {proxy_votes} 票, 计入参加投票人数")
    if returned > issued or returned > voters:
        counter.lines.append(
            f"{rule.word('returned')} {returned} 张, 多于{rule.word('issued')} {issued} 张或"
            f"{rule.word('voters')} {voters} 人: {rule.word('void')}"
        )
        data["ballots"] = {"issued": issued, "returned": returned}
        return _void(rule, counter, data)
    if rule.turnout is not None:
        data["turnout"] = counter.share(voters, rule.turnout, rule.word("voters"))
        if not data["turnout"]["met"]:
            counter.lines.append(rule.word("void"))
            data["ballots"] = {"issued": issued, "returned": returned}
            return _void(rule, counter, data)
        counter.lines.append(rule.word("valid_vote"))
    if rule.form == "grades":
        return _grades(rule, counter, data, ballots, issued)
    return _choices(rule, counter, data, ballots, issued)


def _void(rule: CountingRule, counter: CountSheet, data: dict[str, Any]) -> VoteResult:
    return VoteResult(rule=rule, status="void", data=data, explanation=tuple(counter.lines))


def _categories(
    rule: CountingRule,
    counter: CountSheet,
    ballots: Sequence[Ballot],
    issued: int,
    limit: int,
) -> tuple[list[Ballot], dict[str, Any]]:
    """Sort ballots into valid and invalid by reason; the categories must add up."""
    valid: list[Ballot] = []
    by_reason: Counter[str] = Counter()
    blank = 0
    count_written = counter.write_ins != "forbidden"
    for ballot in ballots:
        if ballot.spoiled is not None:
            by_reason[ballot.spoiled] += 1
            continue
        extra = ballot.write_ins if count_written else ()
        if len(ballot.approve) + len(extra) > limit:
            by_reason["over_marked"] += 1
            continue
        # A grades vote's valid ballots are entered as piles without marks: not blank.
        if ballot.blank and rule.form != "grades":
            if rule.blank == "invalid":
                by_reason["blank"] += 1
                continue
            blank += 1
        valid.append(ballot)
    invalid = sum(by_reason.values())
    if len(valid) + invalid != len(ballots):
        raise GovernanceError(
            f"{rule.label}: {rule.word('valid')} + {rule.word('invalid')} ≠ {rule.word('returned')}"
        )
    counter.bases["valid"] = len(valid)
    reasons = "、".join(f"{rule.reason_word(r)} {n} 张" for r, n in sorted(by_reason.items()))
    counter.lines.append(
        f"{rule.word('issued')} {issued} 张, {rule.word('returned')} {len(ballots)} 张: "
        f"{rule.word('valid')} {len(valid)} 张 ({rule.word('blank')} {blank} 张), "
        f"{rule.word('invalid')} {invalid} 张" + (f" ({reasons})" if reasons else "")
    )
    record = {
        "issued": issued,
        "returned": len(ballots),
        "valid": len(valid),
        "invalid": invalid,
        "invalid_by_reason": dict(sorted(by_reason.items())),
        "blank": blank,
    }
    return valid, record


def _choices(
    rule: CountingRule,
    counter: CountSheet,
    data: dict[str, Any],
    ballots: Sequence[Ballot],
    issued: int,
) -> VoteResult:
    limit = 1 if rule.form in ("motion", "single") else counter.seats
    valid, data["ballots"] = _categories(rule, counter, ballots, issued, limit)
    if rule.form == "motion":
        return _motion(rule, counter, data, valid)
    listed = list(counter.inputs.candidates)
    if not listed or len(set(listed)) != len(listed):
        raise GovernanceError(f"{rule.label}: 候选人名单不能为空, 也不能重复")
    votes: Counter[str] = Counter()
    against: Counter[str] = Counter()
    written: set[str] = set()
    count_written = counter.write_ins != "forbidden"
    for ballot in valid:
        votes.update(ballot.approve)
        against.update(ballot.disapprove)  # only listed names' are read below
        if count_written:
            extra = [n for n in ballot.write_ins if n not in ballot.approve]
            votes.update(extra)
            written.update(n for n in extra if n not in listed)
    strays = set(votes) - set(listed) - written
    if strays:
        raise GovernanceError(f"{rule.label}: 有选票标记了不在候选人名单上的姓名")
    names = listed + sorted(written)
    written.update(n for n in counter.inputs.written_in if n in listed)
    # Per listed name, those who neither approved nor disapproved abstained; a name written
    # in has only the votes that wrote it.
    on_ballot = set(listed)
    marks = {
        n: (against[n], len(valid) - votes[n] - against[n]) if n in on_ballot else (0, 0)
        for n in names
    }
    return _elect(rule, counter, data, names=names, votes=votes, written=written, marks=marks)


def _motion(
    rule: CountingRule, counter: CountSheet, data: dict[str, Any], valid: Sequence[Ballot]
) -> VoteResult:
    yes = sum(1 for b in valid if b.approve or b.write_ins)
    no = sum(1 for b in valid if b.disapprove)
    abstain = len(valid) - yes - no
    counter.lines.append(
        f"{rule.word('yes')} {yes}, {rule.word('no')} {no}, {rule.word('abstain')} {abstain}"
    )
    assert rule.threshold is not None  # parse_rule requires it for a motion
    decided = counter.share(yes, rule.threshold, rule.word("yes"))
    status = "adopted" if decided["met"] else "rejected"
    counter.lines.append(rule.word(status))
    data.update({"counts": {"yes": yes, "no": no, "abstain": abstain}, "decision": decided})
    data["adopted"] = decided["met"]
    return VoteResult(rule=rule, status=status, data=data, explanation=tuple(counter.lines))


def _each_name(
    counter: CountSheet,
    share: Share | None,
    *,
    names: list[str],
    votes: Counter[str],
    written: set[str],
    marks: Mapping[str, tuple[int, int]],
) -> tuple[list[str], dict[str, Any]]:
    """Each name's marks and, where the decision has a bound, its check: (passing, checks)."""
    rule = counter.rule
    passing: list[str] = []
    checks: dict[str, Any] = {}
    for name in names:
        note = f" ({rule.word('write_in')})" if name in written else ""
        counter.lines.append(
            f"{name}{note}: {rule.word('yes')} {votes[name]}, {rule.word('no')} "
            f"{marks[name][0]}, {rule.word('abstain')} {marks[name][1]}"
        )
        if share is None:
            passing.append(name)
            continue
        checks[name] = counter.share(votes[name], share, f"{name} {rule.word('votes')}")
        if checks[name]["met"]:
            passing.append(name)
    return passing, checks


def _elect(
    rule: CountingRule,
    counter: CountSheet,
    data: dict[str, Any],
    *,
    names: list[str],
    votes: Counter[str],
    written: set[str],
    marks: Mapping[str, tuple[int, int]],
) -> VoteResult:
    decision = counter.decision
    share = decision.bound
    seats = counter.seats
    stage = counter.inputs.stage
    if stage != "first":
        counter.lines.append(
            f"{rule.word(stage if stage == 'revote' else 'further_round')}: {'、'.join(names)}, "
            f"{seats} 个名额"
        )
    passing, checks = _each_name(counter, share, names=names, votes=votes, written=written,
                                 marks=marks)  # fmt: skip
    if rule.ties == "order":
        precedence = {n: i for i, n in enumerate(counter.inputs.order)}
        ordered = sorted(passing, key=lambda n: (-votes[n], precedence.get(n, len(precedence))))
        elected = tuple(ordered[:seats])
        tied: tuple[str, ...] = ()
        cut = [n for n in ordered if votes[n] == votes[elected[-1]]] if elected else []
        if len(ordered) > seats and any(n not in precedence for n in cut):
            raise GovernanceError(
                f"{rule.label}: 末位{rule.word('tie')}, 而事先确定的顺序 (order) "
                "没有列出每一位得票相同者"
            )
        places = 0
    else:
        tie_rule: TieRule = "admit_all" if rule.ties == "admit_all" else "revote"
        ranked = rank_top([(n, votes[n]) for n in passing], seats, tie_rule)
        elected, tied, places = ranked.selected, ranked.tied, ranked.open_places
    shortfall = 0 if tied else max(seats - len(elected), 0)
    status = "tie" if tied else "shortfall" if shortfall else "elected"
    order = sorted(names, key=lambda n: (-votes[n], names.index(n)))
    counts = [
        {
            "name": n,
            "votes": votes[n],
            "disapprove": marks[n][0],
            "abstain": marks[n][1],
            "write_in": n in written,
            "passed": n in passing,
        }
        for n in order
    ]
    if elected:
        counter.lines.append(f"{rule.word('elected')}: {'、'.join(elected)}")
    if tied:
        counter.lines.append(
            f"{'、'.join(tied)} {rule.word('tie')} ({votes[tied[0]]} {rule.word('votes')}), "
            f"{places} 个名额: {rule.word(rule.ties)}"
        )
    further: tuple[str, ...] = ()
    if shortfall:
        counter.lines.append(f"{rule.word('shortfall')}: {shortfall}")
        if rule.further_extra is not None:
            size = shortfall + math.ceil(shortfall * rule.further_extra)
            rest = [(n, votes[n]) for n in order if n not in elected]
            further = rank_top(rest, size, "admit_all").selected
            counter.lines.append(
                f"{rule.word('further_round')} ({size}): {'、'.join(further) or '—'}"
            )
    review = [n for n in elected if n in written] if rule.write_ins == "review" else []
    if review:
        counter.lines.append(f"{rule.word('needs_review')}: {'、'.join(review)}")
    data.update(
        {
            "seats": seats,
            "rule_applied": share.record() if share else None,
            "most_votes": decision.most_votes,
            "checks": checks,
            "counts": counts,
            "elected": list(elected),
            "tied": list(tied),
            "tie_places": places,
            "tie_rule": rule.ties,
            "shortfall": shortfall,
            "further_candidates": list(further),
            "needs_review": review,
            "written_in": [n for n in order if n in written],
        }
    )
    if stage != "first":
        data["stage"] = stage
    return VoteResult(rule=rule, status=status, data=data, explanation=tuple(counter.lines))


def _grades(
    rule: CountingRule,
    counter: CountSheet,
    data: dict[str, Any],
    ballots: Sequence[Ballot],
    issued: int,
) -> VoteResult:
    # A grades ballot is tallied on a sheet; the ballots entered are the set-aside ones
    # and piles of valid ones (``{"count": n}`` with no marks), so categories still add up.
    valid, data["ballots"] = _categories(rule, counter, ballots, issued, len(rule.grades))
    tally = counter.inputs.tally
    listed = list(counter.inputs.candidates)
    if set(tally) != set(listed):
        raise GovernanceError(f"{rule.label}: 计票单须列出每一位被评议人, 且只列他们")
    members = []
    for name in listed:
        row = tally[name]
        unknown = set(row) - set(rule.grades)
        if unknown:
            raise GovernanceError(f"{rule.label}: 等次为 {'、'.join(rule.grades)}")
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in row.values()):
            raise GovernanceError(f"{rule.label}: 每一等次的票数须为 ≥ 0 的整数")
        if sum(row.values()) > len(valid):
            raise GovernanceError(
                f"{rule.label}: {name} 共得 {sum(row.values())} 票, 多于"
                f"{rule.word('valid')} {len(valid)} 张"
            )
        grades = {g: int(row.get(g, 0)) for g in rule.grades}
        counter.lines.append(
            f"{name}: " + ", ".join(f"{g} {n} {rule.word('votes')}" for g, n in grades.items())
        )
        found = []
        for finding in rule.findings:
            check = counter.share(grades[finding.grade], finding.share, f"{name} {finding.grade}")
            if check["met"]:
                found.append(finding.label)
        members.append({"name": name, "grades": grades, "findings": found})
    data["members"] = members
    counter.lines.append(rule.word("counted"))
    return VoteResult(rule=rule, status="counted", data=data, explanation=tuple(counter.lines))


__all__ = ["STAGES", "STATUSES", "CountSheet", "VoteInputs", "VoteResult", "count_vote"]
