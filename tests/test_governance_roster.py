"""Voting rights (R1), exclusions (R2) and the quorum (R3), at each boundary."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.governance.errors import GovernanceError
from engine.governance.roster import (
    Exclusion,
    Member,
    attendance,
    check_exclusion,
    explain_quorum,
    has_vote,
)


@pytest.mark.parametrize(
    ("status", "rule_set", "votes"),
    [
        ("full", "2020", True),
        ("full", "1990", True),
        ("probationary", "2020", False),
        ("probationary", "1990", False),
        ("party_probation", "2020", False),
        ("detained", "2020", False),
        ("arrested", "2020", False),
        ("detained", "1990", True),
        ("arrested", "1990", True),
    ],
)
def test_r1_voting_rights(status: str, rule_set: str, votes: bool) -> None:
    """R1: only full members vote; 留置/逮捕 lose the vote under the 2020 rules."""
    assert has_vote(status, rule_set) is votes  # type: ignore[arg-type]


def test_r1_unknown_status_is_refused() -> None:
    """R1: a status outside the list is an error, not a silent non-voter."""
    with pytest.raises(GovernanceError):
        has_vote("visitor")


ROSTER = [
    Member(id="m1", status="full"),
    Member(id="m2", status="full"),
    Member(id="m3", status="full"),
    Member(id="m4", status="full"),
    Member(id="m5", status="full"),
    Member(id="p1", status="probationary"),
]


@pytest.mark.parametrize(
    ("consent", "vote", "refused"),
    [(True, True, False), (True, False, True), (False, True, True), (False, False, True)],
)
def test_r2_exclusion_needs_both_approvals(consent: bool, vote: bool, refused: bool) -> None:
    """R2: the upper organisation's consent AND the meeting's vote, or it is refused."""
    exclusion = Exclusion(member="m5", ground="abroad", upper_consent=consent, meeting_vote=vote)
    roster = {m.id: m for m in ROSTER}
    if refused:
        with pytest.raises(GovernanceError) as caught:
            check_exclusion(exclusion, roster, "2020")
        message = str(caught.value)
        assert ("consent" in message) is not consent
        assert ("vote of the meeting" in message) is not vote
    else:
        check_exclusion(exclusion, roster, "2020")


def test_r2_ground_must_be_listed_and_member_must_vote() -> None:
    """R2: an unlisted ground, a non-member or a non-voter cannot be excluded."""
    roster = {m.id: m for m in ROSTER}
    for exclusion in (
        Exclusion(member="m5", ground="busy", upper_consent=True, meeting_vote=True),  # type: ignore[arg-type]
        Exclusion(member="x", ground="illness", upper_consent=True, meeting_vote=True),
        Exclusion(member="p1", ground="illness", upper_consent=True, meeting_vote=True),
    ):
        with pytest.raises(GovernanceError):
            check_exclusion(exclusion, roster, "2020")


def test_r2_attendance_counts_and_keeps_non_voters_apart() -> None:
    """R2: excluded members leave the expected count; absentees stay; non-voters apart."""
    exclusion = Exclusion(member="m5", ground="illness", upper_consent=True, meeting_vote=True)
    result = attendance(ROSTER, ["m1", "m2", "m3", "p1", "guest"], [exclusion])
    assert len(result.voters) == 5
    assert result.expected == ("m1", "m2", "m3", "m4")
    assert result.present == ("m1", "m2", "m3")
    assert result.absent == ("m4",)
    assert result.non_voting_present == ("p1",)
    assert result.guests == ("guest",)
    assert result.record()["excluded"][0]["ground"] == "illness"


def test_r2_excluded_member_who_comes_counts_again() -> None:
    """[D] an excluded member who attends is both expected and present."""
    exclusion = Exclusion(member="m5", ground="illness", upper_consent=True, meeting_vote=True)
    result = attendance(ROSTER, ["m5"], [exclusion])
    assert "m5" in result.expected and "m5" in result.present
    assert result.excluded == ()


@pytest.mark.parametrize(
    ("present", "operator", "met"),
    [
        (3, "at_least", False),
        (4, "at_least", True),
        (4, "more_than", False),
        (5, "more_than", True),
    ],
)
def test_r3_quorum_exactly_four_fifths(present: int, operator: str, met: bool) -> None:
    """R3: 4 of 5 is exactly 4/5: met with 不少于 (at_least), not with 超过 (more_than)."""
    ids = [f"m{i}" for i in range(1, present + 1)]
    outcome = attendance(ROSTER, ids).quorum(operator, Fraction(4, 5))  # type: ignore[arg-type]
    assert outcome.met is met
    assert explain_quorum(outcome).startswith(f"{present} present of 5 expected")
    assert explain_quorum(outcome, "到会").startswith(f"到会: {present} present")


def test_r3_seed_figures() -> None:
    """R3 with the seed's 497 members: 398 present ≥ 4/5 × 497 (397.6)."""
    roster = [Member(id=str(i), status="full") for i in range(497)]
    result = attendance(roster, [str(i) for i in range(398)])
    assert result.quorum("at_least").met
    assert not attendance(roster, [str(i) for i in range(397)]).quorum("at_least").met
