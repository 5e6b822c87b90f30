"""One ballot round of a multi-seat party election, counted exactly (R12–R19).

* R12 ballots are anonymous: a ``Ballot`` holds marks only, never who cast it.
* R13 per candidate: approve ○, disapprove ×, or abstain (no mark); a write-in
  counts only when it is marked ○ (``Ballot.write_ins`` holds only those).
* R14 returned ballots > voters (or > issued): the whole round is void, held again.
* R15 a ballot approving more names than there are seats (write-ins included) is
  invalid as a whole (``over_marked``); so is a ballot the tellers set aside as spoiled
  for a reason (signed, unreadable, torn, otherwise marked): it is entered as
  ``{"spoiled": reason}`` and counted as returned and invalid, by reason. A blank ballot
  is valid. Issued, returned, valid, invalid (by reason) and blank are recorded and add
  up: valid + invalid = returned.
* R16 elected: approvals more than half of a declared base — ``present`` (1990 and
  the local documents) or ``expected`` (2020); never of valid ballots; exactly half fails. The
  procedure may state another bound (``at_least`` half for 半数以上 wording): the
  round then applies the procedure's rule, so its record says what its guards say.
* R17 more pass than seats: elect by votes; a tie at the cut-off goes to a re-vote
  among the tied only (``kind="tie_revote"``: plurality, a second tie repeats).
* R18 fewer pass than seats: a further round (``kind="further"``) among the
  non-elected, ``shortfall + ceil(shortfall/5)`` of them in vote order (2 for one
  seat), same threshold; or, where the procedure provides it, a recorded decision to
  reduce the seats (by the procedure's rule, never below its floor of seats).
* R19 a write-in elected within the seats is flagged for the upper level's approval,
  in whichever round: a write-in carried into a re-vote or further round keeps its flag.

``kind="plurality"`` counts a vote that selects by votes alone (a top-N ballot such
as the 三票制 plenary choosing 2 formal candidates, docs/rules.md): R14 and R15 apply,
R16 does not, a tie at the cut-off goes to a re-vote as in R17.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from engine.governance.errors import GovernanceError
from engine.governance.ranking import rank_top
from engine.governance.secrecy import SPOILED_REASONS
from engine.guards.arithmetic import ThresholdOutcome, show_number, threshold

Mark = Literal["approve", "disapprove", "abstain"]
MARKS: tuple[Mark, ...] = ("approve", "disapprove", "abstain")
Base = Literal["present", "expected"]
WriteInPolicy = Literal["forbidden", "review", "allowed"]
RoundKind = Literal["regular", "tie_revote", "further", "plurality"]
Status = Literal["complete", "void", "tie", "shortfall"]

HALF = Fraction(1, 2)
_KIND_LABELS = {
    "regular": "正式选举",
    "tie_revote": "并列者再投票",
    "further": "另行选举",
    "plurality": "按得票多少票决",
}
_NO_THRESHOLD = ("tie_revote", "plurality")
_BASE_LABELS = {"present": "实到会", "expected": "应到会"}
Operator = Literal["more_than", "at_least"]
_OPERATOR_WORDS = {"more_than": "超过", "at_least": "达到"}
_OPERATOR_SIGNS = {"more_than": ">", "at_least": "≥"}
SPOILED_LABELS = {
    "signed": "署名",
    "unreadable": "无法辨认",
    "torn": "破损",
    "over_marked": "所投赞成超过应选名额",
    "marked": "作其他记号",
    "other": "其他",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Ballot:
    """The content of one returned ballot, with no link to who cast it (R12).

    Attributes:
        approve: listed candidates marked ○.
        disapprove: listed candidates marked ×; every other listed name abstains.
        write_ins: names written in and marked ○ (the only write-ins that count, R13).
        unmarked_write_ins: names written in without ○: kept as a count, never counted.
        spoiled: why the tellers set the ballot aside as invalid (one of
            ``SPOILED_REASONS``); a spoiled ballot carries no marks.
    """

    approve: tuple[str, ...] = ()
    disapprove: tuple[str, ...] = ()
    write_ins: tuple[str, ...] = ()
    unmarked_write_ins: int = 0
    spoiled: str | None = None

    def __post_init__(self) -> None:
        marked = (*self.approve, *self.disapprove)
        if len(set(marked)) != len(marked) or len(set(self.write_ins)) != len(self.write_ins):
            raise GovernanceError(f"R13: a ballot marks a name twice: {marked + self.write_ins}")

    @property
    def blank(self) -> bool:
        """No mark and no write-in at all (R15: still a valid ballot)."""
        return self.spoiled is None and not (
            self.approve or self.disapprove or self.write_ins or self.unmarked_write_ins
        )

    @classmethod
    def from_json(cls, raw: Any) -> Ballot:
        """Read ``{"marks": {name: mark}, "write_ins": {name: mark}}`` or ``{"spoiled": why}``.

        Marks are ``approve``, ``disapprove`` or ``abstain``; a missing name abstains.
        Messages name the shape expected, never the content found: a ballot's content
        must not reach a record through an error.

        Raises:
            GovernanceError: for another shape, mark or reason.
        """
        if not isinstance(raw, Mapping) or set(raw) - {"marks", "write_ins", "spoiled"}:
            raise GovernanceError(
                "R13: a ballot is {'marks': {name: mark}, 'write_ins': {name: mark}} or "
                "{'spoiled': reason}, with no other key"
            )
        if "spoiled" in raw:
            if set(raw) != {"spoiled"}:
                raise GovernanceError(
                    "R15: a spoiled ballot is entered as {'spoiled': reason} alone: its marks "
                    "are not counted, so they are not recorded"
                )
            if raw["spoiled"] not in SPOILED_REASONS:
                raise GovernanceError(
                    f"R15: a spoiled ballot's reason is one of {list(SPOILED_REASONS)}"
                )
            return cls(spoiled=str(raw["spoiled"]))
        marks = raw.get("marks", {})
        written = raw.get("write_ins", {})
        for part in (marks, written):
            if not isinstance(part, Mapping) or any(m not in MARKS for m in part.values()):
                raise GovernanceError(f"R13: marks are one of {list(MARKS)}")
        return cls(
            approve=tuple(n for n, m in marks.items() if m == "approve"),
            disapprove=tuple(n for n, m in marks.items() if m == "disapprove"),
            write_ins=tuple(n for n, m in written.items() if m == "approve"),
            unmarked_write_ins=sum(1 for m in written.values() if m != "approve"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateCount:
    """One name's counts from the valid ballots."""

    name: str
    approve: int
    disapprove: int
    abstain: int
    write_in: bool
    passed: bool

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "approve": self.approve,
            "disapprove": self.disapprove,
            "abstain": self.abstain,
            "write_in": self.write_in,
            "passed": self.passed,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundResult:
    """Everything one round counted and decided, with the explanation in words.

    Attributes:
        status: ``complete`` (seats filled), ``void`` (R14), ``tie`` (R17) or
            ``shortfall`` (R18).
        counts: per name, in ranking order (votes, then ballot order).
        threshold_base / threshold_bound: N and the bound votes must exceed (R16);
            the bound is 0 in a tie re-vote (plurality).
        tied / tie_places: who goes to a re-vote and for how many places (R17).
        further_candidates: who stands in the further round (R18).
        needs_approval: elected write-ins, for the upper level (R19).
        invalid_by_reason: the invalid ballots per reason (R15), adding up to ``invalid``.
        written_in: the names in this round that entered as write-ins (here or in an
            earlier round), for the next round's ``written_in`` (R19).
        operator / fraction: the R16 rule applied (more than, or at least, a fraction).
    """

    number: int
    kind: RoundKind
    seats: int
    candidates: tuple[str, ...]
    base: Base
    write_in_policy: WriteInPolicy
    voters: int
    expected: int | None
    issued: int
    returned: int
    void: bool
    valid: int
    invalid: int
    blank: int
    ignored_write_ins: int
    counts: tuple[CandidateCount, ...]
    threshold_base: int
    threshold_bound: Fraction
    elected: tuple[str, ...]
    tied: tuple[str, ...]
    tie_places: int
    shortfall: int
    further_candidates: tuple[str, ...]
    needs_approval: tuple[str, ...]
    status: Status
    explanation: tuple[str, ...]
    invalid_by_reason: tuple[tuple[str, int], ...] = ()
    written_in: tuple[str, ...] = ()
    operator: Operator = "more_than"
    fraction: Fraction = HALF

    def votes(self) -> dict[str, int]:
        """Approvals by name."""
        return {c.name: c.approve for c in self.counts}

    def record(self) -> dict[str, Any]:
        """JSON-ready form with every count (fractions as exact strings)."""
        bound = self.threshold_bound
        return {
            "round": self.number,
            "kind": self.kind,
            "status": self.status,
            "seats": self.seats,
            "candidates": list(self.candidates),
            "base": self.base,
            "write_ins": self.write_in_policy,
            "voters": self.voters,
            "expected": self.expected,
            "issued": self.issued,
            "returned": self.returned,
            "void": self.void,
            "valid": self.valid,
            "invalid": self.invalid,
            "invalid_by_reason": dict(self.invalid_by_reason),
            "blank": self.blank,
            "ignored_write_ins": self.ignored_write_ins,
            "threshold": {
                "operator": "more_than" if self.kind in _NO_THRESHOLD else self.operator,
                "fraction": "0" if self.kind in _NO_THRESHOLD else _show_fraction(self.fraction),
                "base": self.threshold_base,
                "bound": f"{bound.numerator}/{bound.denominator}",
                "bound_display": show_number(bound),
            },
            "counts": [c.record() for c in self.counts],
            "elected": list(self.elected),
            "tied": list(self.tied),
            "tie_places": self.tie_places,
            "shortfall": self.shortfall,
            "further_candidates": list(self.further_candidates),
            "needs_approval": list(self.needs_approval),
            "written_in": list(self.written_in),
            "explanation": list(self.explanation),
        }


def _show_fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def further_round_size(shortfall: int) -> int:
    """R18: ``shortfall + ceil(shortfall/5)`` candidates for the further round (2 for 1)."""
    return shortfall + -(-shortfall // 5)


def elected_threshold(votes: int, base: int) -> ThresholdOutcome:
    """R16: approvals more than half of the base (``2*votes > base``)."""
    return threshold(votes, "more_than", HALF, base)


def _check_inputs(
    *,
    candidates: Sequence[str],
    seats: int,
    voters: int,
    expected: int | None,
    issued: int,
    base: str,
) -> None:
    if seats < 1:
        raise GovernanceError(f"R17: a round fills at least 1 seat, not {seats}")
    if len(set(candidates)) != len(candidates) or not candidates:
        raise GovernanceError(f"R8: the candidates must be distinct and not empty: {candidates}")
    if voters < 0 or issued < 0:
        raise GovernanceError(f"R14: voters ({voters}) and issued ({issued}) cannot be negative")
    if base not in _BASE_LABELS:
        raise GovernanceError(f"R16: the base is 'present' or 'expected', not {base!r}")
    if base == "expected" and expected is None:
        raise GovernanceError("R16: base 'expected' needs the expected count (应到会)")
    if expected is not None and expected < voters:
        raise GovernanceError(f"R2: {voters} voters present exceed {expected} expected")


def tally_round(
    *,
    candidates: Sequence[str],
    seats: int,
    ballots: Sequence[Ballot],
    voters: int,
    expected: int | None = None,
    issued: int | None = None,
    base: Base = "present",
    write_ins: WriteInPolicy = "review",
    kind: RoundKind = "regular",
    number: int = 1,
    returned: int | None = None,
    written_in: Sequence[str] = (),
    operator: Operator = "more_than",
    fraction: Fraction = HALF,
    reduction: bool = False,
) -> RoundResult:
    """Count one round and decide it (R13–R19).

    Args:
        candidates: the names printed on the ballot, in ballot order.
        seats: places this round fills.
        ballots: the returned ballots (anonymous).
        voters: voters present who took part (实到会).
        expected: voters expected (应到会); required when ``base`` is ``expected``.
        issued: ballots issued; ``voters`` when omitted.
        base: the R16 base.
        write_ins: ``forbidden`` ignores them; ``review`` counts them and flags an
            elected one (R19); ``allowed`` counts them without a flag. Re-votes and
            further rounds are among named candidates only, so they ignore write-ins.
        kind: ``regular``, ``tie_revote`` (R17, plurality), ``further`` (R18) or
            ``plurality`` (a top-N vote by votes alone, no R16 threshold).
        number: the round's number in the election, for the record.
        returned: the ballots the tellers declared returned (收回); when given it must
            equal the number of ballots entered (spoiled ones included).
        written_in: names on this ballot that entered as write-ins in an earlier round
            (a re-vote or further round): they keep their flag (R19).
        operator / fraction: the R16 rule from the procedure (default: more than 1/2).
        reduction: whether the procedure lets the meeting reduce the seats after a
            shortfall; only then does the R18 explanation offer it.

    Returns:
        The round's result, with every count and the explanation.

    Raises:
        GovernanceError: for impossible inputs (no seats, repeated candidates, a
            ballot marking a name not on it, base ``expected`` without the count).
    """
    given_issued = voters if issued is None else issued
    _check_inputs(
        candidates=candidates, seats=seats, voters=voters, expected=expected,
        issued=given_issued, base=base,
    )  # fmt: skip
    if operator not in _OPERATOR_WORDS or not 0 < fraction < 1:
        raise GovernanceError(
            f"R16: the rule is more_than or at_least a fraction between 0 and 1, "
            f"not {operator} {fraction}"
        )
    if returned is not None and returned != len(ballots):
        raise GovernanceError(
            f"R14: the tellers declared {returned} ballots returned, but {len(ballots)} were "
            "entered (spoiled ballots included): the counts must agree before the round is counted"
        )
    policy: WriteInPolicy = write_ins if kind == "regular" else "forbidden"
    carried = frozenset(written_in)
    returned = len(ballots)
    lines = [
        f"第{number}轮 {_KIND_LABELS[kind]}: 应选 {seats} 名, 候选人 {len(candidates)} 名 "
        f"({'、'.join(candidates)})"
    ]
    base_count = voters if base == "present" else int(expected or 0)
    bound = Fraction(0) if kind in _NO_THRESHOLD else fraction * base_count
    common: dict[str, Any] = {
        "number": number,
        "kind": kind,
        "seats": seats,
        "candidates": tuple(candidates),
        "base": base,
        "write_in_policy": policy,
        "voters": voters,
        "expected": expected,
        "issued": given_issued,
        "returned": returned,
        "threshold_base": base_count,
        "threshold_bound": bound,
        "operator": operator,
        "fraction": fraction,
    }
    if returned > voters or returned > given_issued:
        lines.append(
            f"R14: 收回选票 {returned} 张, 多于投票人数 {voters} 或发出 {given_issued} 张: "
            "本轮选举无效, 应重新投票"
        )
        return RoundResult(
            **common, void=True, valid=0, invalid=0, blank=0, ignored_write_ins=0, counts=(),
            elected=(), tied=(), tie_places=0, shortfall=0, further_candidates=(),
            needs_approval=(), status="void", explanation=tuple(lines),
        )  # fmt: skip
    lines.append(
        f"R14: 发出选票 {given_issued} 张, 收回 {returned} 张, 投票人 {voters} 人: 选举有效"
    )
    approvals, disapprovals, written, tallies, by_reason = _count(ballots, seats, policy)
    valid, invalid, blank, ignored = tallies
    if valid + invalid != returned or sum(by_reason.values()) != invalid:
        raise GovernanceError(  # the categories must add up, or nothing is recorded
            f"R15: valid {valid} + invalid {invalid} ≠ returned {returned}, or the invalid "
            f"ballots by reason {dict(by_reason)} do not add up to {invalid}"
        )
    listed = set(candidates)
    strays = (set(approvals) | set(disapprovals)) - listed
    if strays:
        raise GovernanceError(
            f"R13: ballots mark {sorted(strays)}, who are not on the ballot {list(candidates)}"
        )
    reasons = "、".join(f"{SPOILED_LABELS[r]} {n} 张" for r, n in sorted(by_reason.items()) if n)
    lines.append(
        f"R15: 有效票 {valid} 张 (其中空白票 {blank} 张), 无效票 {invalid} 张"
        + (f" ({reasons})" if reasons else "")
    )
    if ignored:
        lines.append(f"R13: 未计入的另选他人 {ignored} 个 (未划○, 或本轮不允许另选)")
    decision = _decide(
        candidates=candidates, written=sorted(set(written) - listed),
        votes_of=lambda n: approvals.get(n, 0) + written.get(n, 0),
        disapprovals=disapprovals, valid=valid, seats=seats, kind=kind, bound=bound,
        policy=write_ins, lines=lines, carried=carried, operator=operator, fraction=fraction,
        base_words=f"{_BASE_LABELS[base]}人数 {base_count} ", reduction=reduction,
    )  # fmt: skip
    counts, elected, tied, open_places, shortfall, further, flagged = decision
    status: Status = "tie" if tied else "shortfall" if shortfall else "complete"
    return RoundResult(
        **common, void=False, valid=valid, invalid=invalid, blank=blank,
        ignored_write_ins=ignored, counts=counts, elected=elected, tied=tied,
        tie_places=open_places, shortfall=shortfall, further_candidates=further,
        needs_approval=flagged, status=status, explanation=tuple(lines),
        invalid_by_reason=tuple(sorted(by_reason.items())),
        written_in=tuple(c.name for c in counts if c.write_in),
    )  # fmt: skip


Decision = tuple[
    tuple[CandidateCount, ...],
    tuple[str, ...],
    tuple[str, ...],
    int,
    int,
    tuple[str, ...],
    tuple[str, ...],
]


def _decide(
    *,
    candidates: Sequence[str],
    written: Sequence[str],
    votes_of: Callable[[str], int],
    disapprovals: Counter[str],
    valid: int,
    seats: int,
    kind: RoundKind,
    bound: Fraction,
    policy: WriteInPolicy,
    lines: list[str],
    base_words: str,
    carried: frozenset[str],
    operator: Operator,
    fraction: Fraction,
    reduction: bool,
) -> Decision:
    """Apply R16–R19 to the counts; append the explanation to ``lines``.

    ``policy`` is the procedure's write-in policy (R19 flags by it in every round);
    ``carried`` names listed candidates who entered as write-ins in an earlier round.
    """
    listed = set(candidates)
    threshold_word = "过半数" if (operator, fraction) == ("more_than", HALF) else "达到当选票数"
    names = [*candidates, *written]
    votes = {n: votes_of(n) for n in names}
    if kind == "tie_revote":
        lines.append("R17: 并列者再投票, 得票多者当选 (不再计过半数)")
        passing = names
    elif kind == "plurality":
        lines.append(f"按得票多少取前 {seats} 名 (不计过半数); 末位并列者再投票")
        passing = names
    else:
        share = "半数" if fraction == HALF else f"{_show_fraction(fraction)}"
        lines.append(
            f"R16: 当选须赞成票{_OPERATOR_WORDS[operator]}{base_words}的{share} "
            f"({_OPERATOR_SIGNS[operator]} {show_number(bound)})"
        )
        passing = [
            n for n in names if (votes[n] > bound if operator == "more_than" else votes[n] >= bound)
        ]
    ranked = rank_top([(n, votes[n]) for n in passing], seats, "revote")
    passed_set = set(passing)
    order = rank_top([(n, votes[n]) for n in names], len(names)).order
    counts = tuple(
        CandidateCount(
            name=n,
            approve=votes[n],
            disapprove=disapprovals.get(n, 0),
            # A write-in has no printed line to leave blank: it only collects approvals.
            abstain=0 if n not in listed else valid - votes[n] - disapprovals.get(n, 0),
            write_in=n not in listed or n in carried,
            passed=n in passed_set,
        )
        for n in order
    )
    for c in counts:
        tag = "另选他人 " if c.write_in else ""
        verdict = threshold_word if c.passed and kind not in _NO_THRESHOLD else ""
        lines.append(
            f"{tag}{c.name}: 赞成 {c.approve}, 反对 {c.disapprove}, 弃权 {c.abstain}"
            + (f" — {verdict}" if verdict else "")
        )
    elected = ranked.selected
    tied = ranked.tied
    shortfall = 0 if tied else seats - len(elected)
    further: tuple[str, ...] = ()
    if elected:
        lines.append(f"当选: {'、'.join(elected)}")
    if tied:
        lines.append(
            f"R17: {'、'.join(tied)} 得票相同 ({votes[tied[0]]} 票) 并列于最后名额: "
            f"对并列者另行投票, 选出 {ranked.open_places} 名"
        )
    elif shortfall:
        size = further_round_size(shortfall)
        rest = [(n, votes[n]) for n in order if n not in set(elected)]
        further = rank_top(rest, size, "admit_all").selected
        lines.append(
            f"R18: 当选 {len(elected)} 名, 不足应选 {seats} 名, 差 {shortfall} 名: "
            + _further_words(size, further)
            + ("; 或经大会表决减少名额" if reduction else "")
        )
    write_ins = {c.name for c in counts if c.write_in}
    flagged = tuple(n for n in elected if n in write_ins) if policy == "review" else ()
    if flagged:
        lines.append(f"R19: 另选他人 {'、'.join(flagged)} 当选, 报上级组织审批")
    return counts, elected, tied, ranked.open_places, shortfall, further, flagged


def _further_words(size: int, further: Sequence[str]) -> str:
    """R18's further-round sentence, naming every candidate and saying why the count differs."""
    names = "、".join(further)
    if not further:
        return f"应取 {size} 名另行选举, 但已无未当选人"
    if len(further) < size:
        return f"应取 {size} 名另行选举, 未当选人只有 {len(further)} 名, 全部参加 ({names})"
    if len(further) > size:
        return (
            f"按得票多少取 {size} 名另行选举, 末位得票相同者一并参加, "
            f"共 {len(further)} 名 ({names})"
        )
    return f"在未当选人中按得票多少取 {size} 名另行选举 ({names})"


def _count(
    ballots: Sequence[Ballot], seats: int, policy: WriteInPolicy
) -> tuple[Counter[str], Counter[str], Counter[str], tuple[int, int, int, int], Counter[str]]:
    """Approvals, disapprovals and counted write-ins over the valid ballots (R13, R15).

    The common case — no write-ins — only extends two flat lists, which
    ``Counter`` then counts in C; that is what keeps 100,000 ballots well under 1 s.
    """
    approved: list[str] = []
    disapproved: list[str] = []
    written: list[str] = []
    invalid = blank = ignored = 0
    by_reason: Counter[str] = Counter()
    count_write_ins = policy != "forbidden"
    for ballot in ballots:
        if ballot.spoiled is not None:
            invalid += 1
            by_reason[ballot.spoiled] += 1
            continue
        ignored += ballot.unmarked_write_ins
        extra = ballot.write_ins
        if extra and not count_write_ins:
            ignored += len(extra)
            extra = ()
        if extra:
            # A write-in repeating an approved listed name adds nothing (one approval each).
            extra = tuple(n for n in extra if n not in ballot.approve)
        if len(ballot.approve) + len(extra) > seats:
            invalid += 1
            by_reason["over_marked"] += 1
            continue
        if ballot.blank:
            blank += 1
        approved.extend(ballot.approve)
        disapproved.extend(ballot.disapprove)
        if extra:
            written.extend(extra)
    valid = len(ballots) - invalid
    return (
        Counter(approved),
        Counter(disapproved),
        Counter(written),
        (valid, invalid, blank, ignored),
        by_reason,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SeatReduction:
    """R18: a separate vote to reduce the seats instead of a further round."""

    seats: int
    elected: int
    proposed_seats: int
    floor: int
    yes: int
    present: int
    operator: Operator
    fraction: Fraction
    bound: Fraction
    adopted: bool
    explanation: str

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seats": self.seats,
            "elected": self.elected,
            "proposed_seats": self.proposed_seats,
            "floor": self.floor,
            "yes": self.yes,
            "present": self.present,
            "rule": {
                "operator": self.operator,
                "fraction": _show_fraction(self.fraction),
                "bound": _show_fraction(self.bound),
                "bound_display": show_number(self.bound),
            },
            "adopted": self.adopted,
            "explanation": self.explanation,
        }


def reduce_seats(
    result: RoundResult,
    *,
    proposed_seats: int,
    yes: int,
    present: int,
    operator: Operator = "more_than",
    fraction: Fraction = HALF,
    floor: int = 1,
) -> SeatReduction:
    """R18 after ``result``: ``decide_reduction`` with the round's seats and elected."""
    return decide_reduction(
        status=result.status, seats=result.seats, elected=len(result.elected),
        proposed_seats=proposed_seats, yes=yes, present=present, operator=operator,
        fraction=fraction, floor=floor,
    )  # fmt: skip


def decide_reduction(
    *,
    status: str,
    seats: int,
    elected: int,
    proposed_seats: int,
    yes: int,
    present: int,
    operator: Operator = "more_than",
    fraction: Fraction = HALF,
    floor: int = 1,
) -> SeatReduction:
    """R18: decide to reduce the seats after a shortfall, by the procedure's rule.

    Args:
        status: the status of the round that preceded the vote (must be ``shortfall``).
        seats: the seats that round was to fill; elected: how many it elected.
        proposed_seats: the reduced number of seats put to the vote.
        yes / present: the votes for the reduction and the voters present.
        operator / fraction: the adoption rule the procedure states (more than, or at
            least, ``fraction`` of those present) — the same its guard applies.
        floor: the fewest seats the body may keep (a committee keeps at least 3, say).

    Raises:
        GovernanceError: when the round had no shortfall, the proposal is below the
            number already elected or the floor, or not below the seats.
    """
    if status != "shortfall":
        raise GovernanceError(f"R18: seats can be reduced only after a shortfall, not {status}")
    if operator not in _OPERATOR_WORDS or not 0 < fraction <= 1:
        raise GovernanceError(
            "R18: the rule is more_than or at_least a fraction in (0, 1], "
            f"not {operator} {fraction}"
        )
    if floor < 1:
        raise GovernanceError(f"R18: the floor of seats is at least 1, not {floor}")
    if proposed_seats < floor:
        raise GovernanceError(
            f"R18: the seats cannot be reduced to {proposed_seats}: the procedure keeps at "
            f"least {floor} (减少名额不得少于 {floor} 名)"
        )
    if not elected <= proposed_seats < seats:
        raise GovernanceError(
            f"R18: the reduced seats must lie between the {elected} elected and "
            f"the {seats} seats (got {proposed_seats})"
        )
    if yes > present:
        raise GovernanceError(f"R18: {yes} votes for the reduction exceed {present} present")
    outcome = threshold(yes, operator, fraction, present)
    verdict = "通过" if outcome.met else "未通过"
    share = "半数" if fraction == HALF else _show_fraction(fraction)
    text = (
        f"R18: 减少名额 {seats} → {proposed_seats} (不少于 {floor} 名): 赞成 {yes}, "
        f"到会 {present}, 须{_OPERATOR_WORDS[operator]}到会的{share} "
        f"({_OPERATOR_SIGNS[operator]} {show_number(outcome.bound)}): {verdict}"
    )
    return SeatReduction(
        seats=seats,
        elected=elected,
        proposed_seats=proposed_seats,
        floor=floor,
        yes=yes,
        present=present,
        operator=operator,
        fraction=fraction,
        bound=outcome.bound,
        adopted=outcome.met,
        explanation=text,
    )
