"""Ballot rounds, rule by rule, at and around each boundary (R13–R19)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.governance.ballots import (
    Ballot,
    further_round_size,
    reduce_seats,
    tally_round,
)
from engine.governance.errors import GovernanceError

CANDS = ("甲", "乙", "丙")


def _ballots(*approvals: tuple[str, ...], blank: int = 0) -> list[Ballot]:
    return [Ballot(approve=a) for a in approvals] + [Ballot() for _ in range(blank)]


@pytest.mark.parametrize(
    ("returned", "voters", "issued", "void"),
    [
        (9, 10, 10, False),
        (10, 10, 10, False),  # returned = voters: valid
        (11, 10, 11, True),  # returned = voters + 1: void
        (10, 10, 9, True),  # returned > issued: void
        (0, 10, 10, False),
    ],
)
def test_r14_returned_more_than_voters_voids_the_round(
    returned: int, voters: int, issued: int, void: bool
) -> None:
    """R14: more ballots returned than voters (or than issued) voids the whole round."""
    result = tally_round(
        candidates=CANDS, seats=2, ballots=_ballots(blank=returned), voters=voters, issued=issued
    )
    assert result.void is void
    assert (result.status == "void") is void
    if void:
        assert result.counts == ()
        assert "R14" in result.explanation[-1]


@pytest.mark.parametrize(
    ("approve", "valid"),
    [((), True), (("甲",), True), (("甲", "乙"), True), (("甲", "乙", "丙"), False)],
)
def test_r15_more_approvals_than_seats_invalidates_the_whole_ballot(
    approve: tuple[str, ...], valid: bool
) -> None:
    """R15: approvals = seats is valid, seats + 1 invalid; a blank ballot is valid."""
    result = tally_round(candidates=CANDS, seats=2, ballots=_ballots(approve), voters=1)
    assert (result.valid, result.invalid) == ((1, 0) if valid else (0, 1))
    if not valid:
        assert all(c.approve == 0 for c in result.counts)


def test_r15_write_ins_count_towards_the_approvals() -> None:
    """R15: a write-in marked ○ counts towards the approvals that may not exceed the seats."""
    ballot = Ballot(approve=("甲", "乙"), write_ins=("丁",))
    result = tally_round(candidates=CANDS, seats=2, ballots=[ballot], voters=1)
    assert result.invalid == 1


def test_r13_marks_and_unmarked_write_ins() -> None:
    """R13: approve/disapprove/abstain per candidate; a write-in counts only when marked ○."""
    ballots = [
        Ballot.from_json({"marks": {"甲": "approve", "乙": "disapprove"}}),
        Ballot.from_json({"marks": {"甲": "abstain"}, "write_ins": {"丁": "approve"}}),
        Ballot.from_json({"marks": {}, "write_ins": {"戊": "disapprove"}}),
    ]
    result = tally_round(candidates=CANDS, seats=2, ballots=ballots, voters=3)
    counts = {c.name: c for c in result.counts}
    assert (counts["甲"].approve, counts["甲"].disapprove, counts["甲"].abstain) == (1, 0, 2)
    assert (counts["乙"].approve, counts["乙"].disapprove, counts["乙"].abstain) == (0, 1, 2)
    assert counts["丁"].write_in and counts["丁"].approve == 1
    assert "戊" not in counts
    assert result.ignored_write_ins == 1


def test_r13_forbidden_write_ins_are_ignored() -> None:
    """R13/[D]: with write-ins forbidden, a written name is ignored and the ballot stays valid."""
    ballot = Ballot(approve=("甲",), write_ins=("丁",))
    result = tally_round(
        candidates=CANDS, seats=1, ballots=[ballot], voters=1, write_ins="forbidden"
    )
    assert (result.valid, result.ignored_write_ins) == (1, 1)
    assert [c.name for c in result.counts] == list(CANDS)


def test_r13_a_ballot_marking_an_unlisted_name_is_refused() -> None:
    """R13: the printed marks can only name listed candidates."""
    with pytest.raises(GovernanceError) as caught:
        tally_round(candidates=CANDS, seats=1, ballots=_ballots(("丁",)), voters=1)
    assert "丁" in str(caught.value)


@pytest.mark.parametrize(
    ("votes", "base", "elected"),
    [(5, 10, False), (6, 10, True), (4, 9, False), (5, 9, True), (0, 0, False)],
)
def test_r16_more_than_half_of_present_exactly_half_fails(
    votes: int, base: int, elected: bool
) -> None:
    """R16: approvals must exceed half of those present; exactly half fails."""
    ballots = _ballots(*([("甲",)] * votes), blank=base - votes)
    result = tally_round(candidates=CANDS, seats=1, ballots=ballots, voters=base)
    assert (result.elected == ("甲",)) is elected


def test_r16_base_expected_under_2020() -> None:
    """R16 (2020): the base is the expected count, so 6 of 10 present but 12 expected fails."""
    ballots = _ballots(*([("甲",)] * 6), blank=4)
    present = tally_round(candidates=CANDS, seats=1, ballots=ballots, voters=10, expected=12)
    expected = tally_round(
        candidates=CANDS, seats=1, ballots=ballots, voters=10, expected=12, base="expected"
    )
    assert present.elected == ("甲",)
    assert expected.elected == ()
    assert expected.threshold_bound == Fraction(6)


def test_r16_never_of_valid_ballots() -> None:
    """R16: invalid ballots do not lower the base: 3 of 4 valid but 7 present fails."""
    ballots = _ballots(("甲",), ("甲",), ("甲",), blank=1) + _ballots(*([CANDS] * 3))
    result = tally_round(candidates=CANDS, seats=2, ballots=ballots, voters=7)
    assert result.valid == 4
    assert result.elected == ()


def test_r16_base_expected_needs_the_count() -> None:
    """R16: base 'expected' without the expected count is refused."""
    with pytest.raises(GovernanceError) as caught:
        tally_round(candidates=CANDS, seats=1, ballots=[], voters=1, base="expected")
    assert "expected" in str(caught.value)


def test_r17_tie_at_the_cut_off_goes_to_a_revote_among_the_tied() -> None:
    """R17: 甲 6, 乙 6, 丙 6 of 7 for 2 seats: all pass, a tie for both seats."""
    ballots = _ballots(("甲", "乙"), ("乙", "丙"), ("甲", "丙"), ("甲", "乙"), ("乙", "丙"))
    ballots += _ballots(("甲", "丙"), ("甲", "乙", "丙"))
    result = tally_round(candidates=CANDS, seats=2, ballots=ballots, voters=7)
    assert result.status == "tie"
    assert result.elected == ()
    assert set(result.tied) == set(CANDS)
    assert result.tie_places == 2


def test_r17_tie_below_the_cut_off_is_no_tie() -> None:
    """R17: 甲 5, 乙 4, 丙 4 of 7 for 1 seat: 甲 elected; the tie below does not matter."""
    ballots = _ballots(("甲",), ("甲",), ("甲",), ("甲",), ("甲",), ("乙",), ("丙",))
    result = tally_round(candidates=CANDS, seats=1, ballots=ballots, voters=7)
    assert (result.status, result.elected) == ("complete", ("甲",))


def test_r17_revote_is_plurality_and_a_second_tie_repeats() -> None:
    """R17: in the re-vote the most votes win without the half bar; a tie repeats."""
    win = tally_round(
        candidates=("乙", "丙"), seats=1, ballots=_ballots(("乙",), ("丙",), ("乙",), blank=4),
        voters=7, kind="tie_revote",
    )  # fmt: skip
    again = tally_round(
        candidates=("乙", "丙"), seats=1, ballots=_ballots(("乙",), ("丙",), blank=5),
        voters=7, kind="tie_revote",
    )  # fmt: skip
    assert win.elected == ("乙",)
    assert again.status == "tie"
    assert set(again.tied) == {"乙", "丙"}


@pytest.mark.parametrize(("shortfall", "size"), [(1, 2), (2, 3), (5, 6), (6, 8), (10, 12)])
def test_r18_further_round_size(shortfall: int, size: int) -> None:
    """R18: shortfall + ceil(shortfall/5) candidates; 2 for one seat."""
    assert further_round_size(shortfall) == size


def test_r18_shortfall_lists_the_further_round_in_vote_order() -> None:
    """R18: 1 of 3 seats filled: the next 3 non-elected by votes stand again."""
    cands = ("甲", "乙", "丙", "丁", "戊")
    ballots = _ballots(("甲", "乙", "丙"), ("甲", "丁"), ("甲", "戊"), ("甲",), ("乙",), blank=0)
    result = tally_round(candidates=cands, seats=3, ballots=ballots, voters=5)
    assert result.elected == ("甲",)
    assert result.shortfall == 2
    assert result.further_candidates[0] == "乙"
    # [D] 丙, 丁 and 戊 tie for the last place of the 3, so all of them stand.
    assert result.further_candidates == ("乙", "丙", "丁", "戊")
    assert "R18" in result.explanation[-1]


def test_r18_reduce_seats_by_majority_of_present() -> None:
    """R18: reducing the seats needs more than half of those present; exactly half fails."""
    ballots = _ballots(("甲",), ("甲",), ("甲",), blank=1)
    result = tally_round(candidates=CANDS, seats=2, ballots=ballots, voters=4)
    assert reduce_seats(result, proposed_seats=1, yes=3, present=4).adopted
    assert not reduce_seats(result, proposed_seats=1, yes=2, present=4).adopted
    with pytest.raises(GovernanceError):
        reduce_seats(result, proposed_seats=0, yes=3, present=4)


def test_r19_elected_write_in_is_flagged() -> None:
    """R19: a write-in elected within the seats is flagged for the upper level's approval."""
    ballots = [Ballot(write_ins=("丁",)) for _ in range(3)] + [Ballot(approve=("甲",))]
    result = tally_round(candidates=CANDS, seats=1, ballots=ballots, voters=4)
    assert result.elected == ("丁",)
    assert result.needs_approval == ("丁",)
    assert "R19" in result.explanation[-1]


def test_record_is_json_ready_and_anonymous() -> None:
    """R12: the record holds counts only (no voter identity) and no floats."""
    import json

    result = tally_round(candidates=CANDS, seats=1, ballots=_ballots(("甲",), ("甲",)), voters=3)
    text = json.dumps(result.record(), ensure_ascii=False)
    assert "float" not in text
    assert result.record()["threshold"]["bound"] == "3/2"
    assert not any(isinstance(v, float) for v in result.record().values())


def test_ballot_marking_a_name_twice_is_refused() -> None:
    """R13: one mark per name."""
    with pytest.raises(GovernanceError):
        Ballot(approve=("甲",), disapprove=("甲",))
