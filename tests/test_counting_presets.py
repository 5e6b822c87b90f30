"""The party-election rules as presets of the counting vocabulary, and seat reduction.

Each rule is checked at its edges: the "more than half" of the 2020 text (those expected)
and of the 1990 text (those present) exactly at half and one above; the re-vote among the
tied by most votes alone; a further round with its own floor exactly at and one below;
the seat reduction's adoption rule at half and one above, and its floor at and one below.
Every record speaks the preset's words and never an internal rule number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.actions.registry import ActionFailed, default_registry
from engine.definition.loader import SCHEMA_COMMENT, check_source
from engine.governance.counting import VoteInputs, count_vote
from engine.governance.counting_presets import PRESETS
from engine.governance.counting_rule import CountingRule, RuleError, describe_rule, parse_rule
from engine.governance.errors import GovernanceError
from engine.governance.seat_reduction import ReductionVote, decide_seat_reduction
from engine.schemas import load_schema

RULE_NUMBER = re.compile(r"\bR\d+\b")


def _approve(*names: str) -> dict[str, Any]:
    return {"marks": {n: "approve" for n in names}}


def _pile(n: int, ballot: dict[str, Any]) -> dict[str, Any]:
    return {"count": n, **ballot}


def _no_rule_numbers(record: Any) -> None:
    assert RULE_NUMBER.search(json.dumps(record, ensure_ascii=False)) is None


def test_schema_names_every_preset() -> None:
    """The procedure schema offers exactly the presets the engine knows (drift)."""
    schema = load_schema("procedure.schema.json")
    assert list(PRESETS) == schema["$defs"]["counting_rule"]["properties"]["preset"]["enum"]


def test_every_preset_parses_and_is_in_its_own_words() -> None:
    """Each preset is a valid rule of the vocabulary and names no internal rule number."""
    for name in PRESETS:
        rule = parse_rule("选举", {"preset": name})
        assert rule.preset == name
        assert rule.seat_reduction is not None and rule.further_extra is not None
        _no_rule_numbers(dict(PRESETS[name]))
        assert RULE_NUMBER.search(describe_rule(rule)) is None


@pytest.mark.parametrize(
    ("preset", "base", "people", "votes", "elected"),
    [
        ("party-election-2020", "expected", {"expected": 10, "present": 9}, 5, False),
        ("party-election-2020", "expected", {"expected": 10, "present": 9}, 6, True),
        ("party-election-1990", "present", {"expected": 10, "present": 9}, 4, False),
        ("party-election-1990", "present", {"expected": 10, "present": 9}, 5, True),
        ("party-election-1990", "present", {"expected": 10, "present": 8}, 4, False),
    ],
)
def test_more_than_half_of_the_base_each_text_names(
    preset: str, base: str, people: dict[str, int], votes: int, elected: bool
) -> None:
    """More than half: 2020 counts against those expected, 1990 against those present."""
    rule = parse_rule("书记", {"preset": preset, "seats": 1})
    present = people["present"]
    ballots = [_pile(votes, _approve("甲")), _pile(present - votes, {"marks": {}})]
    record = count_vote(rule, VoteInputs(candidates=["甲"], ballots=ballots, **people)).record()
    assert record["checks"]["甲"]["base"] == base
    assert record["checks"]["甲"]["met"] is elected
    assert record["status"] == ("elected" if elected else "shortfall")
    _no_rule_numbers(record)


def test_overrides_replace_keys_and_merge_words() -> None:
    """Keys beside the preset replace its keys; words are merged word by word."""
    rule = parse_rule(
        "委员",
        {"preset": "party-election-2020", "label": "委员选举", "seats": 5,
         "words": {"elected": "当选为委员"}},
    )  # fmt: skip
    assert (rule.label, rule.seats) == ("委员选举", 5)
    assert rule.word("elected") == "当选为委员"
    assert rule.word("tie") == PRESETS["party-election-2020"]["words"]["tie"]


def test_an_unknown_preset_is_named_with_a_suggestion() -> None:
    """A misspelt preset is refused at the preset key, with the closest name offered."""
    with pytest.raises(RuleError) as caught:
        parse_rule("r", {"preset": "party-election-2002"})
    assert caught.value.path == ("preset",)
    assert "did you mean 'party-election-2020'" in caught.value.message


def test_a_tie_at_the_last_seat_goes_to_a_revote_by_most_votes() -> None:
    """The tied are re-voted for the open place: most votes wins, no threshold, no write-ins."""
    rule = parse_rule("委员", {"preset": "party-election-1990", "seats": 2})
    ballots = [_pile(4, _approve("甲", "乙")), _pile(4, _approve("甲", "丙")),
               _pile(2, _approve("乙", "丙"))]  # fmt: skip
    tie = count_vote(
        rule, VoteInputs(present=10, candidates=["甲", "乙", "丙"], ballots=ballots)
    ).record()
    assert (tie["status"], tie["elected"], tie["tied"]) == ("tie", ["甲"], ["乙", "丙"])
    revote = count_vote(
        rule,
        VoteInputs(
            present=10,
            candidates=["乙", "丙"],
            seats=1,
            stage="revote",
            ballots=[
                _pile(3, _approve("乙")),
                _pile(2, _approve("丙")),
                _pile(5, {"marks": {}, "write_ins": {"丁": "approve"}}),
            ],
        ),
    ).record()
    assert revote["stage"] == "revote"
    assert revote["elected"] == ["乙"]  # 3 of 10 present: no threshold in a re-vote
    assert [c["name"] for c in revote["counts"]] == ["乙", "丙"]  # the write-in is not counted
    revote_words = PRESETS["party-election-1990"]["words"]["revote"]
    assert any(line.startswith(revote_words) for line in revote["explanation"])


def test_a_revote_tied_again_is_a_tie_again() -> None:
    """A second tie among the tied is recorded as a tie: it is re-voted again."""
    rule = parse_rule("书记", {"preset": "party-election-2020"})
    record = count_vote(
        rule,
        VoteInputs(present=4, expected=4, candidates=["乙", "丙"], stage="revote",
                   ballots=[_approve("乙"), _approve("丙"), {"marks": {}}, {"marks": {}}]),
    ).record()  # fmt: skip
    assert (record["status"], record["tied"]) == ("tie", ["乙", "丙"])


def test_further_round_size_has_the_margin_of_a_fifth() -> None:
    """A shortfall of 1 gives 2 further-round names, of 5 gives 6 (shortfall + ⌈shortfall/5⌉)."""
    rule = parse_rule("委员", {"preset": "party-election-1990", "seats": 5})
    names = ["甲", "乙", "丙", "丁", "戊", "己", "庚"]
    ballots = [_pile(3, _approve(*names[:5])), _approve("己"), _pile(6, {"marks": {}})]
    record = count_vote(rule, VoteInputs(present=10, candidates=names, ballots=ballots)).record()
    assert (record["status"], record["shortfall"]) == ("shortfall", 5)
    assert record["further_candidates"] == names[:6]
    one = parse_rule("书记", {"preset": "party-election-1990"})
    ballots = [_pile(4, _approve("甲")), _pile(3, _approve("乙")), _pile(3, _approve("丙"))]
    record = count_vote(
        one, VoteInputs(present=10, candidates=["甲", "乙", "丙", "丁"], ballots=ballots)
    ).record()
    # Two further names; 乙 and 丙 tie at the cut-off and stand together.
    assert record["further_candidates"] == ["甲", "乙", "丙"]


@pytest.mark.parametrize(("votes", "elected"), [(10, True), (9, False)])
def test_a_further_round_decided_by_its_own_rule(votes: int, elected: bool) -> None:
    """另行选举 by most votes with a floor of 1/3 of the ballots: 10 of 30 at, 9 below."""
    rule = parse_rule(
        "委员",
        {
            "label": "村民委员会选举",
            "form": "approval",
            "decide": {"threshold": {"base": "voters", "more_than": "1/2"}},
            "further_round": {
                "decide": {"most_votes": {"floor": {"base": "returned", "at_least": "1/3"}}}
            },
        },
    )
    ballots = [_pile(votes, _approve("甲")), _pile(30 - votes, {"marks": {}})]
    first = count_vote(rule, VoteInputs(present=30, candidates=["甲"], ballots=ballots)).record()
    assert first["status"] == "shortfall"  # 10 of 30 is not more than half
    further = count_vote(
        rule, VoteInputs(present=30, candidates=["甲"], ballots=ballots, stage="further")
    ).record()
    assert further["checks"]["甲"]["bound"] == "10/1"
    assert further["elected"] == (["甲"] if elected else [])
    assert "decided by most votes" in describe_rule(rule)


def test_a_write_in_carried_into_a_further_round_is_listed_for_review() -> None:
    """A name that entered as a write-in keeps its flag and, when elected, is for review."""
    rule = parse_rule("委员", {"preset": "party-election-1990"})
    record = count_vote(
        rule,
        VoteInputs(present=5, candidates=["甲", "王"], written_in=["王"], stage="further",
                   ballots=[_pile(3, _approve("王")), _pile(2, _approve("甲"))]),
    ).record()  # fmt: skip
    assert record["elected"] == ["王"] and record["needs_review"] == ["王"]


def _shortfall(seats: int = 5, elected: int = 3) -> dict[str, Any]:
    return {"status": "shortfall", "seats": seats, "elected": [f"委员{i}" for i in range(elected)]}


@pytest.mark.parametrize(("yes", "adopted"), [(20, False), (21, True)])
def test_seat_reduction_needs_more_than_half_of_those_present(yes: int, adopted: bool) -> None:
    """The meeting reduces the seats with more than half of those present: 20 of 40 fails."""
    rule = parse_rule("委员", {"preset": "party-election-2020", "seats": 5})
    record = decide_seat_reduction(
        rule, ReductionVote(count=_shortfall(), proposed_seats=3, yes=yes, present=40)
    )
    assert record["adopted"] is adopted
    assert record["status"] == ("adopted" if adopted else "rejected")
    assert record["decision"]["bound"] == "20/1"
    words = PRESETS["party-election-2020"]["words"]
    assert (
        record["explanation"][-1] == words["reduction_adopted" if adopted else "reduction_rejected"]
    )
    _no_rule_numbers(record)


@pytest.mark.parametrize(("proposed", "refused"), [(3, False), (2, True)])
def test_seat_reduction_never_below_the_floor(proposed: int, refused: bool) -> None:
    """A floor of 3: reducing to 3 is put to the vote, to 2 is refused."""
    rule = parse_rule(
        "委员",
        {"preset": "party-election-2020", "seats": 5,
         "seat_reduction": {"adopt": {"base": "present", "more_than": "1/2"}, "floor": 3}},
    )  # fmt: skip
    vote = ReductionVote(count=_shortfall(elected=2), proposed_seats=proposed, yes=30, present=40)
    if refused:
        with pytest.raises(GovernanceError) as caught:
            decide_seat_reduction(rule, vote)
        assert "至少 3 名" in str(caught.value)
        return
    assert decide_seat_reduction(rule, vote)["floor"] == 3


@pytest.mark.parametrize(
    ("count", "proposed", "needle"),
    [
        ({"status": "elected", "seats": 5, "elected": []}, 3, "当选人少于应选名额"),
        (_shortfall(), 5, "之间"),
        (_shortfall(), 2, "之间"),
    ],
)
def test_seat_reduction_only_after_a_shortfall_and_between_elected_and_seats(
    count: dict[str, Any], proposed: int, needle: str
) -> None:
    """Only after a shortfall, and to a number from those elected up to below the seats."""
    rule = parse_rule("委员", {"preset": "party-election-2020", "seats": 5})
    with pytest.raises(GovernanceError) as caught:
        decide_seat_reduction(
            rule, ReductionVote(count=count, proposed_seats=proposed, yes=30, present=40)
        )
    assert needle in str(caught.value)
    assert RULE_NUMBER.search(str(caught.value)) is None


def test_seat_reduction_only_where_the_rule_provides_it() -> None:
    """A rule without seat_reduction refuses the vote, in its own words."""
    rule = parse_rule("e", {"label": "选举", "form": "approval", "decide": {"most_votes": {}}})
    with pytest.raises(GovernanceError) as caught:
        decide_seat_reduction(
            rule, ReductionVote(count=_shortfall(), proposed_seats=3, yes=30, present=40)
        )
    assert "本规则没有规定减少名额" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"label": "x", "form": "motion", "decide": {"threshold": {"base": "voters",
          "more_than": "1/2"}}, "seat_reduction": {"adopt": {"base": "present",
          "more_than": "1/2"}}}, ("seat_reduction",)),
        ({"preset": "party-election-2020", "seat_reduction": {"adopt": {"base": "valid",
          "more_than": "1/2"}}}, ("seat_reduction", "adopt", "base")),
        ({"preset": "party-election-2020", "seat_reduction": {"adopt": {"base": "present",
          "more_than": "1/2"}, "floor": 0}}, ("seat_reduction", "floor")),
        ({"preset": "party-election-2020", "further_round": {"decide": {}}},
         ("further_round", "decide")),
    ],
)  # fmt: skip
def test_a_seat_reduction_or_further_rule_in_error_names_its_key(
    raw: dict[str, Any], path: tuple[Any, ...]
) -> None:
    """parse_rule locates a seat reduction or further-round decision it cannot apply."""
    with pytest.raises(RuleError) as caught:
        parse_rule("r", raw)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("inputs"),
    [
        VoteInputs(present=3, candidates=["甲"], ballots=[{"marks": {"甲": "yes"}}]),
        VoteInputs(present=3, candidates=["甲"], ballots=[{"spoiled": "smudged"}]),
        VoteInputs(present=3, candidates=["甲"], ballots=[{"marks": {"乙": "approve"}}]),
        VoteInputs(present=3, candidates=["甲"], ballots=[{"count": -1}]),
        VoteInputs(present=3, candidates=["甲"], returned=2, ballots=[{"marks": {}}]),
        VoteInputs(present=3, candidates=["甲", "甲"], ballots=[]),
        VoteInputs(present=3, candidates=["甲"], proxies=[("孙某", 1)], ballots=[]),
        VoteInputs(present=3, candidates=["甲"], stage="again", ballots=[]),
    ],
)
def test_refusals_speak_the_rules_words_in_chinese(inputs: VoteInputs) -> None:
    """A refused count says why in the record's language, with the rule's label, no R-number."""
    rule = parse_rule("书记", {"preset": "party-election-1990", "label": "书记选举"})
    with pytest.raises(GovernanceError) as caught:
        count_vote(rule, inputs)
    message = str(caught.value)
    assert message.startswith("书记选举: ")
    assert RULE_NUMBER.search(message) is None
    assert re.search(r"[\u4e00-\u9fff]", message.removeprefix("书记选举: "))


@dataclass
class RuleContext:
    """An action context holding one counting rule: 'data.x' / 'payload.x' by lookup."""

    rules: dict[str, CountingRule]
    data: dict[str, Any] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)

    def evaluate(self, expression: str) -> Any:
        scope, _, name = expression.partition(".")
        return (self.data if scope == "data" else self.payload)[name]

    def counting_rule(self, name: str) -> CountingRule:
        return self.rules[name]


def _reduction_context(yes: int) -> RuleContext:
    rule = parse_rule("committee", {"preset": "party-election-1990", "seats": 5})
    return RuleContext(
        rules={"committee": rule},
        data={"round": _shortfall(), "present": 40},
        payload={"yes": yes},
    )


REDUCTION = {
    "rule": "committee",
    "count": "data.round",
    "proposed_seats": 3,
    "yes": "payload.yes",
    "present": "data.present",
    "into": "data.reduction",
}


@pytest.mark.parametrize(
    ("yes", "expects", "fails"),
    [
        (21, "adopted", False),
        (20, "adopted", True),
        (20, "rejected", False),
        (21, "rejected", True),
    ],
)
def test_decide_seat_reduction_fails_rather_than_record_another_outcome(
    yes: int, expects: str, fails: bool
) -> None:
    """decide_seat_reduction with expects: the transition's outcome, or the action fails
    (in the rule's words); otherwise it writes the record into data."""
    ctx = _reduction_context(yes)
    run = default_registry()["decide_seat_reduction"].run
    if fails:
        with pytest.raises(ActionFailed) as caught:
            run({**REDUCTION, "expects": expects}, ctx)
        assert "条件与规则不一致" in str(caught.value)
        assert RULE_NUMBER.search(str(caught.value)) is None
        assert "reduction" not in ctx.data
        return
    out = run({**REDUCTION, "expects": expects}, ctx)
    assert ctx.data["reduction"] == out and out["status"] == expects


def test_count_vote_action_passes_stage_seats_round_and_written_in() -> None:
    """count_vote reads stage, seats, round and written_in from its parameters."""
    rule = parse_rule("committee", {"preset": "party-election-1990", "seats": 5})
    ctx = RuleContext(
        rules={"committee": rule},
        data={"names": ["乙", "王"], "carried": ["王"], "present": 5},
        payload={"ballots": [_pile(3, _approve("王")), _pile(2, _approve("乙"))]},
    )
    params = {
        "rule": "committee",
        "stage": "further",
        "seats": 1,
        "round": 4,
        "candidates": "data.names",
        "written_in": "data.carried",
        "ballots": "payload.ballots",
        "present": "data.present",
        "into": "data.count",
    }
    out = default_registry()["count_vote"].run(params, ctx)
    assert (out["stage"], out["seats"], out["round"]) == ("further", 1, 4)
    assert out["elected"] == ["王"] and out["needs_review"] == ["王"]
    assert out["written_in"] == ["王"]


SEATLESS = f"""{SCHEMA_COMMENT}
id: seatless
version: "1.0.0"
title: 减少名额
rule_set: {{name: seatless}}
counting:
  plain:
    label: 选举
    form: approval
    decide: {{most_votes: {{}}}}
roles:
  clerk: {{label: 文书}}
data:
  type: object
  properties:
    round: {{type: object}}
    reduction: {{type: object}}
initial: open
states:
  open: {{label: 开放}}
  done: {{label: 结束, final: true}}
events:
  reduce:
    label: 减少名额
    roles: [clerk]
    transitions:
      - from: open
        to: done
        actions:
          - decide_seat_reduction:
              rule: plain
              count: data.round
              proposed_seats: 1
              yes: 3
              present: 4
              into: data.reduction
"""


def test_validate_reports_a_seat_reduction_under_a_rule_without_one() -> None:
    """validate: decide_seat_reduction naming a rule that states no seat_reduction is located."""
    problems = check_source(SEATLESS, "seatless.yaml").problems
    found = [p for p in problems if p.code == "counting.no-seat-reduction"]
    assert len(found) == 1
    assert found[0].location.path.endswith("decide_seat_reduction.rule")
    assert "seat_reduction" in found[0].message
