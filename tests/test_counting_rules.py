"""Honest counting records: spoiled ballots, one rule for reduction, floors, write-ins, wording."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.governance.ballots import Ballot, decide_reduction, tally_round
from engine.governance.errors import GovernanceError


def _b(*approve: str) -> Ballot:
    return Ballot(approve=approve)


def test_spoiled_ballots_count_as_returned_and_invalid_by_reason() -> None:
    """R15: spoiled ballots are returned and invalid, by reason; the categories add up."""
    ballots = [
        _b("甲"),
        _b("甲"),
        _b(),
        Ballot.from_json({"spoiled": "signed"}),
        Ballot.from_json({"spoiled": "torn"}),
        _b("甲", "乙"),
    ]
    result = tally_round(candidates=["甲", "乙"], seats=1, ballots=ballots, voters=6, issued=7)

    record = result.record()
    assert (record["issued"], record["returned"], record["valid"], record["invalid"]) == (
        7,
        6,
        3,
        3,
    )
    assert record["blank"] == 1
    assert record["invalid_by_reason"] == {"over_marked": 1, "signed": 1, "torn": 1}
    assert record["valid"] + record["invalid"] == record["returned"] <= record["issued"]
    assert "署名 1 张" in "".join(record["explanation"])


def test_a_spoiled_ballot_carries_its_reason_only() -> None:
    """R15: marks on a spoiled ballot are not counted, so they are refused, not recorded."""
    with pytest.raises(GovernanceError) as caught:
        Ballot.from_json({"spoiled": "signed", "marks": {"甲": "approve"}})
    assert "alone" in str(caught.value)
    with pytest.raises(GovernanceError):
        Ballot.from_json({"spoiled": "because"})


def test_ballot_errors_never_quote_the_ballot() -> None:
    """R12: a refused ballot's content does not reach the error (and so the record)."""
    with pytest.raises(GovernanceError) as caught:
        Ballot.from_json({"marks": {"甲": "approve"}, "voter": "欧阳投票人"})
    assert "欧阳投票人" not in str(caught.value)


@pytest.mark.parametrize(("declared", "ok"), [(3, True), (2, False), (4, False)])
def test_declared_returned_must_equal_the_ballots_entered(declared: int, ok: bool) -> None:
    """R14: the tellers' declared returned count must equal the ballots entered."""
    ballots = [_b("甲"), _b("甲"), Ballot(spoiled="unreadable")]
    if ok:
        assert (
            tally_round(
                candidates=["甲"], seats=1, ballots=ballots, voters=3, returned=declared
            ).returned
            == 3
        )
    else:
        with pytest.raises(GovernanceError):
            tally_round(candidates=["甲"], seats=1, ballots=ballots, voters=3, returned=declared)


@pytest.mark.parametrize(
    ("operator", "votes", "elected"),
    [
        ("more_than", 2, False),
        ("more_than", 3, True),
        ("at_least", 2, True),
        ("at_least", 1, False),
    ],
)
def test_r16_rule_comes_from_the_procedure(operator: str, votes: int, elected: bool) -> None:
    """R16: 2 of 4 is elected under at_least 1/2 (半数以上), not under more_than 1/2."""
    ballots = [_b("甲")] * votes + [_b()] * (4 - votes)
    result = tally_round(
        candidates=["甲"], seats=1, ballots=ballots, voters=4,
        operator=operator, fraction=Fraction(1, 2),  # type: ignore[arg-type]
    )  # fmt: skip
    assert (result.elected == ("甲",)) is elected
    assert result.record()["threshold"]["operator"] == operator


@pytest.mark.parametrize(
    ("operator", "yes", "adopted"),
    [
        ("more_than", 20, False),
        ("more_than", 21, True),
        ("at_least", 20, True),
        ("at_least", 19, False),
    ],
)
def test_reduction_applies_the_procedures_rule(operator: str, yes: int, adopted: bool) -> None:
    """R18: exactly half of 40 adopts under at_least 1/2 and fails under more_than 1/2."""
    decision = decide_reduction(
        status="shortfall", seats=5, elected=4, proposed_seats=4, yes=yes, present=40,
        operator=operator, fraction=Fraction(1, 2), floor=3,  # type: ignore[arg-type]
    )  # fmt: skip
    assert decision.adopted is adopted
    assert decision.record()["rule"]["operator"] == operator


@pytest.mark.parametrize(("proposed", "ok"), [(4, True), (3, True), (2, False)])
def test_reduction_never_goes_below_the_floor(proposed: int, ok: bool) -> None:
    """R18: with a floor of 3, 5 → 3 is allowed (at the floor) and 5 → 2 refused."""

    def decide() -> object:
        return decide_reduction(
            status="shortfall", seats=5, elected=proposed, proposed_seats=proposed, yes=30,
            present=40, floor=3,
        )  # fmt: skip

    if ok:
        decide()
    else:
        with pytest.raises(GovernanceError) as caught:
            decide()
        assert "至少" in str(caught.value) or "不得少于 3" in str(caught.value)


def test_a_write_in_keeps_its_flag_in_a_further_round() -> None:
    """R19: a write-in carried into a further round and elected is flagged for review."""
    first = tally_round(
        candidates=["甲", "乙"], seats=2, voters=5,
        ballots=[Ballot(approve=("甲",), write_ins=("丙",))] * 2 + [_b("甲"), _b(), _b()],
    )  # fmt: skip
    assert first.status == "shortfall" and first.written_in == ("丙",)
    further = tally_round(
        candidates=first.further_candidates, seats=first.shortfall, voters=5, kind="further",
        ballots=[_b("丙")] * 3 + [_b("乙")], written_in=first.written_in,
    )  # fmt: skip
    assert further.elected == ("丙",)
    assert further.needs_approval == ("丙",)
    assert [c.write_in for c in further.counts if c.name == "丙"] == [True]


def test_further_round_sentence_names_every_candidate() -> None:
    """R18 wording: when fewer remain than the size, it says so and lists every name."""
    result = tally_round(candidates=["甲", "乙"], seats=2, voters=4, ballots=[_b("甲")] * 3)
    text = "".join(result.explanation)
    assert "应取 2 名另行选举, 未当选人只有 1 名, 全部参加 (乙)" in text
    assert "减少名额" not in text


def test_seat_reduction_is_offered_only_where_the_procedure_has_it() -> None:
    """R18 wording: 或经大会表决减少名额 appears only with seat_reduction."""
    result = tally_round(
        candidates=["甲", "乙", "丙"], seats=2, voters=4, ballots=[_b("甲")] * 3, reduction=True
    )
    text = "".join(result.explanation)
    assert "取 2 名另行选举 (乙、丙)" in text
    assert "或经大会表决减少名额" in text
