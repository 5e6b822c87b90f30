"""The general counting vocabulary: a procedure's counting rule, applied exactly, in its words.

Each rule of ``engine.governance.counting`` is checked at its edges (exactly at the bound,
one below, one above), with Hypothesis properties for order independence and monotonicity.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.governance.counting import VoteInputs, count_vote
from engine.governance.counting_rule import RuleError, describe_rule, parse_rule
from engine.governance.errors import GovernanceError

YES = {"marks": {"q": "approve"}}
NO = {"marks": {"q": "disapprove"}}


def _motion(**extra: Any) -> Any:
    raw: dict[str, Any] = {
        "label": "表决",
        "form": "motion",
        "turnout": {"base": "registered", "more_than": "1/2"},
        "decide": {"threshold": {"base": "voters", "more_than": "1/2"}},
    }
    raw.update(extra)
    return parse_rule("m", {k: v for k, v in raw.items() if v is not None})


def _pile(n: int, ballot: dict[str, Any]) -> dict[str, Any]:
    return {"count": n, **ballot}


@pytest.mark.parametrize(
    ("voters", "registered", "valid"),
    [(500, 1000, False), (501, 1000, True), (499, 1000, False), (1, 1, True), (0, 1, False)],
)
def test_turnout_more_than_half_of_registered(voters: int, registered: int, valid: bool) -> None:
    """Turnout "more than half": exactly half is void, one more is valid."""
    result = count_vote(
        _motion(),
        VoteInputs(present=voters, registered=registered, ballots=[_pile(voters, YES)]),
    ).record()
    assert result["turnout"]["met"] is valid
    assert (result["status"] == "void") is not valid


@pytest.mark.parametrize(
    ("yes", "no", "operator", "adopted"),
    [
        (300, 300, "more_than", False),
        (301, 299, "more_than", True),
        (300, 300, "at_least", True),
        (299, 301, "at_least", False),
    ],
)
def test_motion_threshold_of_voters(yes: int, no: int, operator: str, adopted: bool) -> None:
    """A motion's threshold on voters: more than half fails at exactly half; at least passes."""
    rule = _motion(decide={"threshold": {"base": "voters", operator: "1/2"}})
    result = count_vote(
        rule,
        VoteInputs(present=600, registered=1000, ballots=[_pile(yes, YES), _pile(no, NO)]),
    ).record()
    assert result["adopted"] is adopted
    assert result["status"] == ("adopted" if adopted else "rejected")
    assert result["decision"]["bound"] == "300/1"


@pytest.mark.parametrize(
    ("base", "bound"), [("valid", "5/1"), ("returned", "6/1"), ("voters", "7/1")]
)
def test_threshold_base_is_explicit(base: str, bound: str) -> None:
    """The same yes votes are compared with the base the rule names: valid, returned or voters."""
    rule = _motion(turnout=None, decide={"threshold": {"base": base, "more_than": "1/2"}})
    ballots = [_pile(6, YES), _pile(4, NO), _pile(2, {"spoiled": "signed"})]
    result = count_vote(rule, VoteInputs(present=14, ballots=ballots)).record()
    assert result["decision"]["bound"] == bound
    assert result["ballots"] == {
        "issued": 14, "returned": 12, "valid": 10, "invalid": 2,
        "invalid_by_reason": {"signed": 2}, "blank": 0,
    }  # fmt: skip


def _election(**extra: Any) -> Any:
    raw: dict[str, Any] = {
        "label": "选举",
        "form": "approval",
        "seats": 2,
        "decide": {"most_votes": {"floor": {"base": "returned", "at_least": "1/3"}}},
    }
    raw.update(extra)
    return parse_rule("e", raw)


def _approve(*names: str) -> dict[str, Any]:
    return {"marks": {n: "approve" for n in names}}


@pytest.mark.parametrize("votes_c", [10, 9])
def test_most_votes_floor_exactly_at_and_one_below(votes_c: int) -> None:
    """Most votes with a floor of 1/3 of returned ballots: 10 of 30 is elected, 9 is not."""
    rule = _election(seats=1)
    ballots = [_pile(votes_c, _approve("C")), _pile(30 - votes_c, {"marks": {}})]
    result = count_vote(rule, VoteInputs(present=30, candidates=["C"], ballots=ballots)).record()
    assert result["checks"]["C"]["bound"] == "10/1"
    assert result["elected"] == (["C"] if votes_c == 10 else [])
    assert result["status"] == ("elected" if votes_c == 10 else "shortfall")
    assert result["shortfall"] == (0 if votes_c == 10 else 1)


@pytest.mark.parametrize(
    ("ties", "status", "elected", "tied"),
    [
        ("revote", "tie", ["A"], ["B", "C"]),
        ("lot", "tie", ["A"], ["B", "C"]),
        ("admit_all", "elected", ["A", "B", "C"], []),
        ("order", "elected", ["A", "C"], []),
    ],
)
def test_tie_at_the_last_seat(ties: str, status: str, elected: list[str], tied: list[str]) -> None:
    """A tie at the last seat follows the rule: re-vote, lot, admit all, or a declared order."""
    rule = _election(ties=ties, decide={"most_votes": {}})
    ballots = [_pile(5, _approve("A", "B")), _pile(5, _approve("A", "C"))]
    inputs = VoteInputs(present=10, candidates=["A", "B", "C"], ballots=ballots, order=["C", "B"])
    result = count_vote(rule, inputs).record()
    assert (result["status"], result["elected"], result["tied"]) == (status, elected, tied)
    assert result["tie_rule"] == ties


def test_declared_order_must_name_the_tied() -> None:
    """A tie settled by a declared order is refused when the order leaves a tied name out."""
    rule = _election(ties="order", decide={"most_votes": {}})
    ballots = [_pile(5, _approve("A", "B")), _pile(5, _approve("A", "C"))]
    with pytest.raises(GovernanceError) as caught:
        count_vote(
            rule, VoteInputs(present=10, candidates=["A", "B", "C"], ballots=ballots, order=["B"])
        )
    assert "事先确定的顺序" in str(caught.value)


def test_over_marked_and_blank_ballots() -> None:
    """More approvals than seats is invalid; a blank is invalid only where the rule says."""
    for blank, valid, by_reason in (
        ("valid", 3, {"over_marked": 1}),
        ("invalid", 2, {"blank": 1, "over_marked": 1}),
    ):
        rule = _election(blank=blank, decide={"most_votes": {}})
        ballots = [_approve("A"), _approve("A", "B"), _approve("A", "B", "C"), {"marks": {}}]
        result = count_vote(
            rule, VoteInputs(present=4, candidates=["A", "B", "C"], ballots=ballots)
        )
        record = result.record()["ballots"]
        assert (record["valid"], record["invalid_by_reason"]) == (valid, by_reason)
        assert record["valid"] + record["invalid"] == record["returned"]


@pytest.mark.parametrize(("votes", "refused"), [(3, False), (4, True)])
def test_proxy_cap_per_holder(votes: int, refused: bool) -> None:
    """Proxy votes count in the turnout; a holder over the cap makes the count refused."""
    rule = _motion(proxies={"cap": 3})
    inputs = VoteInputs(
        present=498, registered=1000, proxies=[("孙某", votes)], ballots=[_pile(498 + votes, YES)]
    )
    if refused:
        with pytest.raises(GovernanceError) as caught:
            count_vote(rule, inputs)
        assert "孙某" in str(caught.value)
        return
    record = count_vote(rule, inputs).record()
    assert record["people"]["voters"] == 501
    assert record["turnout"]["met"] is True


def test_proxies_only_where_the_rule_provides_them() -> None:
    """A rule without a proxies key refuses proxy votes rather than count them silently."""
    inputs = VoteInputs(present=10, registered=12, proxies=[("x", 1)], ballots=[_pile(11, YES)])
    with pytest.raises(GovernanceError):
        count_vote(_motion(), inputs)


def test_more_ballots_than_voters_is_void_and_declared_count_must_agree() -> None:
    """More ballots than voters void the vote; a declared returned count must match."""
    record = count_vote(_motion(turnout=None), VoteInputs(present=3, ballots=[_pile(4, YES)]))
    assert record.status == "void"
    with pytest.raises(GovernanceError):
        count_vote(
            _motion(), VoteInputs(present=3, registered=4, returned=2, ballots=[_pile(3, YES)])
        )


def test_a_missing_base_is_named() -> None:
    """A rule counting against a base that was not given says which."""
    with pytest.raises(GovernanceError) as caught:
        count_vote(_motion(), VoteInputs(present=3, ballots=[_pile(3, YES)]))
    assert "registered" in str(caught.value)


def test_words_come_from_the_rule_and_never_a_rulebook() -> None:
    """The record speaks the rule's words: its label, basis and words; no R-numbers."""
    rule = _motion(basis="第十六条", words={"adopted": "罢免通过", "yes": "同意罢免"})
    record = count_vote(rule, VoteInputs(present=3, registered=4, ballots=[_pile(3, YES)])).record()
    text = json.dumps(record, ensure_ascii=False)
    assert record["explanation"][0] == "表决 (第十六条)"
    assert "罢免通过" in record["explanation"][-1] and "同意罢免 3" in text
    assert not any(f"R{n}" in text for n in range(1, 21))


@pytest.mark.parametrize(
    ("excellent", "unqualified", "findings"),
    [(20, 0, ["优"]), (19, 0, []), (0, 10, []), (0, 11, ["查"])],
)
def test_grades_findings_at_their_edges(
    excellent: int, unqualified: int, findings: list[str]
) -> None:
    """A grades finding: at least 2/3 of 30 is 20 (19 fails); more than 1/3 is 11 (10 fails)."""
    rule = parse_rule("g", {
        "label": "测评", "form": "grades", "grades": ["优秀", "合格", "不合格"],
        "findings": [
            {"grade": "优秀", "base": "valid", "at_least": "2/3", "label": "优"},
            {"grade": "不合格", "base": "valid", "more_than": "1/3", "label": "查"},
        ],
    })  # fmt: skip
    tally = {"甲": {"优秀": excellent, "不合格": unqualified}}
    record = count_vote(
        rule, VoteInputs(present=30, candidates=["甲"], tally=tally, ballots=[{"count": 30}])
    )
    assert record.record()["members"][0]["findings"] == findings


def test_grades_cannot_exceed_valid_ballots() -> None:
    """A member graded on more ballots than were valid is refused."""
    rule = parse_rule("g", {"label": "测评", "form": "grades", "grades": ["优秀", "合格"]})
    with pytest.raises(GovernanceError):
        count_vote(rule, VoteInputs(present=3, candidates=["甲"], tally={"甲": {"优秀": 4}},
                                    ballots=[{"count": 3}]))  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"label": "x", "form": "vote"}, ("form",)),
        ({"label": "x", "form": "motion"}, ("decide",)),
        ({"label": "x", "form": "motion", "seats": 2, "decide": {}}, ("seats",)),
        (
            {
                "label": "x",
                "form": "approval",
                "decide": {"threshold": {"base": "nobody", "more_than": "1/2"}},
            },
            ("decide", "threshold", "base"),
        ),
        (
            {"label": "x", "form": "approval", "decide": {"threshold": {"base": "valid"}}},
            ("decide", "threshold"),
        ),
        (
            {
                "label": "x",
                "form": "approval",
                "decide": {"threshold": {"base": "valid", "at_least": "3/2"}},
            },
            ("decide", "threshold", "at_least"),
        ),
        ({"label": "x", "form": "grades", "grades": ["a"]}, ("grades",)),
        (
            {
                "label": "x",
                "form": "grades",
                "grades": ["a", "b"],
                "findings": [{"grade": "c", "base": "valid", "at_least": "1/2", "label": "f"}],
            },
            ("findings", 0, "grade"),
        ),
        (
            {"label": "x", "form": "approval", "decide": {"most_votes": {}}, "ties": "coin"},
            ("ties",),
        ),
        (
            {"label": "x", "form": "approval", "decide": {"most_votes": {}}, "proxies": {"cap": 0}},
            ("proxies", "cap"),
        ),
    ],
)
def test_a_rule_in_error_names_its_key(raw: dict[str, Any], path: tuple[Any, ...]) -> None:
    """parse_rule refuses a rule that cannot be applied, naming the key to fix."""
    with pytest.raises(RuleError) as caught:
        parse_rule("r", raw)
    assert caught.value.path == path


def test_describe_rule_speaks_the_rule() -> None:
    """describe_rule says what the rule decides, with its bounds and basis."""
    text = describe_rule(_motion(basis="第十六条"))
    assert "> 1/2 × 登记选民" in text and text.endswith("— 第十六条")


BALLOT = st.sampled_from([YES, NO, {"marks": {}}, {"spoiled": "signed"}])


@settings(max_examples=60, deadline=None)
@given(st.lists(BALLOT, max_size=40), st.randoms(use_true_random=False))
def test_count_is_independent_of_ballot_order(ballots: list[dict[str, Any]], rnd: Any) -> None:
    """Shuffling the ballots never changes the record."""
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    inputs = {"present": 40, "registered": 60}
    first = count_vote(_motion(), VoteInputs(ballots=ballots, **inputs)).record()
    second = count_vote(_motion(), VoteInputs(ballots=shuffled, **inputs)).record()
    assert first == second


@settings(max_examples=60, deadline=None)
@given(st.lists(BALLOT, min_size=1, max_size=40), st.data())
def test_motion_is_monotone_in_yes_votes(ballots: list[dict[str, Any]], data: Any) -> None:
    """Turning one non-yes ballot into a yes never turns an adopted motion into a rejected one."""
    inputs = {"present": 40, "registered": 50}
    before = count_vote(_motion(), VoteInputs(ballots=ballots, **inputs)).record()
    others = [i for i, b in enumerate(ballots) if b is not YES]
    if not others:
        return
    changed = list(ballots)
    changed[data.draw(st.sampled_from(others))] = YES
    after = count_vote(_motion(), VoteInputs(ballots=changed, **inputs)).record()
    if before["status"] == "adopted":
        assert after["status"] == "adopted"
    assert Fraction(after.get("counts", {}).get("yes", 0)) >= before.get("counts", {}).get("yes", 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([("A",), ("B",), ("C",), ("A", "B"), ()]), max_size=30), st.data())
def test_elected_candidate_stays_elected_with_more_votes(
    marks: list[tuple[str, ...]], data: Any
) -> None:
    """Adding an approval for an elected candidate on a ballot lacking it keeps them elected."""
    rule = _election(decide={"threshold": {"base": "valid", "more_than": "1/3"}})
    inputs = {"present": 30, "candidates": ["A", "B", "C"]}
    before = count_vote(rule, VoteInputs(ballots=[_approve(*m) for m in marks], **inputs)).record()
    for name in before["elected"]:
        lacking = [i for i, m in enumerate(marks) if name not in m and len(m) < 2]
        if not lacking:
            continue
        index = data.draw(st.sampled_from(lacking))
        changed = list(marks)
        changed[index] = (*marks[index], name)
        after = count_vote(rule, VoteInputs(ballots=[_approve(*m) for m in changed], **inputs))
        assert name in after.record()["elected"]


@pytest.mark.parametrize(
    ("extra", "further"),
    [(None, []), ("0/1", ["C", "D"]), ("1/5", ["C", "D", "E", "F"])],
)
def test_further_round_candidates_after_a_shortfall(extra: str | None, further: list[str]) -> None:
    """After a shortfall of 2, the further round takes 2 + ⌈2 × extra⌉ by votes, ties together."""
    raw: dict[str, Any] = {
        "decide": {"threshold": {"base": "valid", "more_than": "1/2"}},
        "seats": 3,
    }
    if extra is not None:
        raw["further_round"] = {"extra": extra}
    rule = _election(**raw)
    ballots = [
        _pile(11, _approve("A")),
        _pile(4, _approve("C", "D")),
        _pile(3, _approve("E")),
        _pile(3, _approve("F")),
    ]
    inputs = VoteInputs(present=21, candidates=["A", "C", "D", "E", "F"], ballots=ballots)
    record = count_vote(rule, inputs).record()
    assert (record["elected"], record["shortfall"]) == (["A"], 2)
    assert record["further_candidates"] == further
