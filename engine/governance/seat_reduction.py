"""The meeting's vote to reduce the seats after a shortfall, by the counting rule's own terms.

When an election fills fewer seats than it was to, a rule may let the meeting reduce
the seats instead of holding a further round (the party-election rules: when the
number elected is close to the seats, with the agreement of more than half of those
present). The rule states it under ``seat_reduction``: the adoption rule (a share of a
base of people) and the floor the seats never go below. ``decide_seat_reduction``
reads the shortfall count's record and the vote, and writes the record in the rule's
words: the same label, basis and words as the count it follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.governance.counting import CountSheet, VoteInputs
from engine.governance.counting_rule import CountingRule
from engine.governance.errors import GovernanceError

REDUCTION_STATUSES: tuple[str, ...] = ("adopted", "rejected")
"""A reduction vote is ``adopted`` (the seats are reduced) or ``rejected``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReductionVote:
    """What one reduction vote reads: the count it follows and the meeting's vote.

    Attributes:
        count: the record of the election count that ended in shortfall.
        proposed_seats: the reduced number of seats put to the vote.
        yes: the votes for the reduction.
        registered / expected / present / voters: the people counted, as the rule's
            adoption base needs them.
    """

    count: Mapping[str, Any]
    proposed_seats: int
    yes: int
    registered: int | None = None
    expected: int | None = None
    present: int | None = None
    voters: int | None = None


def _shortfall(rule: CountingRule, count: Mapping[str, Any]) -> tuple[int, int]:
    """The seats the count was to fill and how many it elected; only after a shortfall."""
    if not isinstance(count, Mapping) or count.get("status") != "shortfall":
        status = count.get("status") if isinstance(count, Mapping) else None
        raise GovernanceError(
            f"{rule.label}: 只有{rule.word('shortfall')}时才能{rule.word('seat_reduction')} "
            f"(这次计票的结果是 {status or '—'})"
        )
    seats, elected = count.get("seats"), count.get("elected")
    if isinstance(seats, bool) or not isinstance(seats, int) or not isinstance(elected, list):
        raise GovernanceError(f"{rule.label}: 计票记录中没有应选名额 (seats) 和当选名单 (elected)")
    return seats, len(elected)


def decide_seat_reduction(rule: CountingRule, vote: ReductionVote) -> dict[str, Any]:
    """Decide the meeting's vote to reduce the seats, by the rule's ``seat_reduction``.

    Returns:
        The record: rule, label, basis, status (adopted or rejected), the seats, the
        number elected, the proposed seats, the floor, the decision with its bound,
        ``adopted`` and the explanation.

    Raises:
        GovernanceError: the rule does not provide for it, the count did not end in a
            shortfall, the proposal is below the floor or the number elected or not
            below the seats, or more votes for it than the base.
    """
    reduction = rule.seat_reduction
    if reduction is None:
        raise GovernanceError(f"{rule.label}: 本规则没有规定{rule.word('seat_reduction')}")
    seats, elected = _shortfall(rule, vote.count)
    proposed = vote.proposed_seats
    if proposed < reduction.floor:
        raise GovernanceError(
            f"{rule.label}: {rule.word('seat_reduction')}后的名额 {proposed} 名少于本规则规定的"
            f"至少 {reduction.floor} 名"
        )
    if not elected <= proposed < seats:
        raise GovernanceError(
            f"{rule.label}: {rule.word('seat_reduction')}后的名额须在已{rule.word('elected')} "
            f"{elected} 名与应选 {seats} 名之间 (不含 {seats}), 提议的是 {proposed} 名"
        )
    sheet = CountSheet(
        rule,
        VoteInputs(registered=vote.registered, expected=vote.expected, present=vote.present),
    )
    sheet.bases["voters"] = vote.voters
    base = sheet.base(reduction.adopt.base)
    if vote.yes < 0 or vote.yes > base:
        raise GovernanceError(
            f"{rule.label}: {rule.word('yes')} {vote.yes} 票, 须在 0 与"
            f"{rule.word(reduction.adopt.base)} {base} 之间"
        )
    sheet.lines.append(
        f"{rule.word('seat_reduction')}: {seats} → {proposed} 名 (已{rule.word('elected')} "
        f"{elected} 名, 至少 {reduction.floor} 名)"
    )
    decision = sheet.share(vote.yes, reduction.adopt, rule.word("yes"))
    status = "adopted" if decision["met"] else "rejected"
    sheet.lines.append(rule.word(f"reduction_{status}"))
    return {
        "rule": rule.name,
        "label": rule.label,
        "basis": rule.basis,
        "status": status,
        "seats": seats,
        "elected": elected,
        "proposed_seats": proposed,
        "floor": reduction.floor,
        "decision": decision,
        "adopted": decision["met"],
        "explanation": sheet.lines,
    }


__all__ = ["REDUCTION_STATUSES", "ReductionVote", "decide_seat_reduction"]
