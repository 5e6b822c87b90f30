"""Who votes and who is expected: voting rights (R1) and recorded exclusions (R2).

R1: only full members (正式党员) vote. Probationary members (预备党员) and members
under 留党察看 never do; under the 2020 rules members under 留置 or 逮捕 do not
either (the 1990 text does not list them, so under ``1990`` they keep the vote).

R2: everyone with a vote is expected (应到会) unless excluded on a listed ground
with *both* the upper organisation's consent and a vote of the meeting; each
exclusion is recorded with its ground and both approvals, and one without both is
refused with the reason. Members without a vote and guests who attend are kept
apart: they are never counted as present voters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from engine.governance.errors import GovernanceError
from engine.guards.arithmetic import Operator, ThresholdOutcome, explain_threshold, threshold

Status = Literal["full", "probationary", "party_probation", "detained", "arrested"]
RuleSet = Literal["1990", "2020"]
Ground = Literal["illness", "abroad", "serving_sentence", "bedridden", "away_unmoved"]

STATUS_LABELS: dict[str, str] = {
    "full": "正式党员",
    "probationary": "预备党员",
    "party_probation": "留党察看",
    "detained": "留置",
    "arrested": "逮捕",
}
GROUND_LABELS: dict[str, str] = {
    "illness": "患病不能表达本人意志",
    "abroad": "自费出国半年以上",
    "serving_sentence": "正在服刑",
    "bedridden": "年老体弱卧床不起",
    "away_unmoved": "外出半年以上未转组织关系",
}
_NO_VOTE: dict[str, frozenset[str]] = {
    "1990": frozenset({"probationary", "party_probation"}),
    "2020": frozenset({"probationary", "party_probation", "detained", "arrested"}),
}


def has_vote(status: str, rule_set: RuleSet = "2020") -> bool:
    """R1: whether a member of this status votes under the rule set.

    Raises:
        GovernanceError: for a status or rule set not listed.
    """
    if status not in STATUS_LABELS:
        raise GovernanceError(
            f"voting rights: unknown member status {status!r}; one of {list(STATUS_LABELS)}"
        )
    if rule_set not in _NO_VOTE:
        raise GovernanceError(
            f"voting rights: unknown rule set {rule_set!r}; one of {list(_NO_VOTE)}"
        )
    return status not in _NO_VOTE[rule_set]


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One member on the roster (identity is for attendance only, never for ballots)."""

    id: str
    status: Status
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Exclusion:
    """R2: a member left out of the expected count, with the ground and both approvals."""

    member: str
    ground: Ground
    upper_consent: bool
    meeting_vote: bool
    note: str = ""

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "member": self.member,
            "ground": self.ground,
            "ground_label": GROUND_LABELS.get(self.ground, ""),
            "upper_consent": self.upper_consent,
            "meeting_vote": self.meeting_vote,
            "note": self.note,
        }


def refusal(exclusion: Exclusion, roster: Mapping[str, Member], rule_set: RuleSet) -> str | None:
    """Why an exclusion cannot be recorded (R2), or None when it can.

    Args:
        exclusion: the proposed exclusion.
        roster: members by id.
        rule_set: for R1 (only members with a vote are expected in the first place).

    Returns:
        The reason in words, or None.
    """
    member = roster.get(exclusion.member)
    if member is None:
        return f"exclusion: {exclusion.member!r} is not on the roster"
    if not has_vote(member.status, rule_set):
        label = STATUS_LABELS[member.status]
        return f"exclusion: {exclusion.member!r} ({label}) has no vote, so is not expected anyway"
    if exclusion.ground not in GROUND_LABELS:
        return (
            f"exclusion: {exclusion.ground!r} is not a listed ground; "
            f"one of {sorted(GROUND_LABELS)}"
        )
    missing = [
        words
        for given, words in (
            (exclusion.upper_consent, "the upper organisation's consent"),
            (exclusion.meeting_vote, "a vote of the meeting"),
        )
        if not given
    ]
    if missing:
        return f"exclusion: excluding {exclusion.member!r} needs {' and '.join(missing)}"
    return None


def check_exclusion(exclusion: Exclusion, roster: Mapping[str, Member], rule_set: RuleSet) -> None:
    """Refuse an exclusion that R2 does not allow.

    Raises:
        GovernanceError: with the reason from ``refusal``.
    """
    reason = refusal(exclusion, roster, rule_set)
    if reason is not None:
        raise GovernanceError(reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attendance:
    """Voters expected and present, exclusions, and non-voting attendees kept apart.

    Attributes:
        voters: members with a vote (R1).
        excluded: recorded exclusions (R2), each with both approvals.
        expected: voters less the excluded (应到会).
        present: expected voters who came (实到会).
        absent: expected voters who did not come (they still count as expected).
        non_voting_present: members without a vote who came (never counted).
        guests: attendees not on the roster (never counted).
    """

    rule_set: RuleSet
    voters: tuple[str, ...]
    excluded: tuple[Exclusion, ...]
    expected: tuple[str, ...]
    present: tuple[str, ...]
    absent: tuple[str, ...]
    non_voting_present: tuple[str, ...]
    guests: tuple[str, ...]

    def quorum(self, operator: Operator, fraction: Fraction = Fraction(4, 5)) -> ThresholdOutcome:
        """R3: present voters against ``fraction`` of expected voters."""
        return threshold(len(self.present), operator, fraction, len(self.expected))

    def explanation(self) -> str:
        """The counts in words."""
        return (
            f"有表决权 {len(self.voters)} 人, 经批准不列入应到 {len(self.excluded)} 人, "
            f"应到 {len(self.expected)} 人, 实到 {len(self.present)} 人, "
            f"缺席 {len(self.absent)} 人; 列席无表决权 {len(self.non_voting_present)} 人, "
            f"来宾 {len(self.guests)} 人"
        )

    def record(self) -> dict[str, Any]:
        """JSON-ready form with every count and list."""
        return {
            "rule_set": self.rule_set,
            "voters": len(self.voters),
            "excluded": [e.record() for e in self.excluded],
            "expected": len(self.expected),
            "present": len(self.present),
            "absent": list(self.absent),
            "non_voting_present": list(self.non_voting_present),
            "guests": list(self.guests),
            "explanation": self.explanation(),
        }


def attendance(
    members: Sequence[Member],
    present: Iterable[str],
    exclusions: Sequence[Exclusion] = (),
    rule_set: RuleSet = "2020",
) -> Attendance:
    """Who is expected and who is present, after R1 and R2.

    [D] An excluded member who comes anyway is counted back in: present and expected.

    Raises:
        GovernanceError: for a repeated member id, a repeated exclusion, or an
            exclusion R2 refuses (the message says why).
    """
    roster: dict[str, Member] = {}
    for member in members:
        if member.id in roster:
            raise GovernanceError(f"roster: member {member.id!r} appears twice on the roster")
        roster[member.id] = member
    came = list(dict.fromkeys(present))
    came_set = set(came)
    seen: set[str] = set()
    for exclusion in exclusions:
        if exclusion.member in seen:
            raise GovernanceError(f"exclusion: {exclusion.member!r} is excluded twice")
        seen.add(exclusion.member)
        check_exclusion(exclusion, roster, rule_set)
    kept = tuple(e for e in exclusions if e.member not in came_set)
    out = {e.member for e in kept}
    voters = tuple(m.id for m in members if has_vote(m.status, rule_set))
    expected = tuple(v for v in voters if v not in out)
    return Attendance(
        rule_set=rule_set,
        voters=voters,
        excluded=kept,
        expected=expected,
        present=tuple(v for v in expected if v in came_set),
        absent=tuple(v for v in expected if v not in came_set),
        non_voting_present=tuple(
            i for i in came if i in roster and not has_vote(roster[i].status, rule_set)
        ),
        guests=tuple(i for i in came if i not in roster),
    )


def explain_quorum(outcome: ThresholdOutcome, label: str = "") -> str:
    """R3 in words: ``398 present of 497 expected ≥ 4/5 (397.6): met``.

    ``label`` is the procedure's own name for its quorum rule, put in front; the
    engine adds none of its own, so a record speaks only the procedure's rulebook.
    """
    return explain_threshold(outcome, count_words="present", base_words="expected", label=label)
