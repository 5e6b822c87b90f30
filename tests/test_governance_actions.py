"""The governance actions run from a procedure's point of view: inputs, writes, refusals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.actions.registry import BUILTINS, ActionFailed, default_registry
from engine.governance.errors import GovernanceError


@dataclass
class FakeContext:
    """Evaluates 'data.<name>' / 'payload.<name>' expressions by lookup."""

    data: dict[str, Any]
    payload: Mapping[str, Any] = field(default_factory=dict)

    def evaluate(self, expression: str) -> Any:
        scope, _, name = expression.partition(".")
        source = self.data if scope == "data" else self.payload
        return source[name]


def _run(name: str, params: dict[str, Any], ctx: FakeContext) -> Any:
    return default_registry()[name].run(params, ctx)


def test_every_governance_action_has_a_strict_schema() -> None:
    """Each built-in action's params refuse unknown keys and document every parameter."""
    for spec in BUILTINS:
        schema = spec.params_schema
        assert schema["additionalProperties"] is False, spec.name
        if spec.name not in ("set", "append", "increment"):
            assert all("description" in p for p in schema["properties"].values()), spec.name


def test_tally_round_writes_the_round_and_returns_it() -> None:
    """tally_round reads ballots from the payload and writes the full record into data."""
    ctx = FakeContext(
        data={"candidates": ["甲", "乙"], "present": 3},
        payload={"ballots": [{"marks": {"甲": "approve"}}] * 2 + [{"marks": {}}]},
    )
    output = _run(
        "tally_round",
        {"candidates": "data.candidates", "seats": 1, "ballots": "payload.ballots",
         "voters": "data.present", "into": "data.rounds.first"},
        ctx,
    )  # fmt: skip
    assert output["elected"] == ["甲"]
    assert ctx.data["rounds"]["first"] == output
    assert output["valid"] == 3


def test_record_exclusion_refuses_without_both_approvals() -> None:
    """record_exclusion (R2): without the meeting's vote the attempt is refused."""
    ctx = FakeContext(
        data={"members": [{"id": "m1", "status": "full"}]},
        payload={"ex": {"member": "m1", "ground": "abroad", "upper_consent": True}},
    )
    params = {"members": "data.members", "exclusion": "payload.ex", "into": "data.excluded"}
    with pytest.raises(GovernanceError) as caught:
        _run("record_exclusion", params, ctx)
    assert "vote of the meeting" in str(caught.value)
    assert "excluded" not in ctx.data


def test_check_slate_refuses_a_short_margin_and_a_candidate_scrutineer() -> None:
    """check_slate (R6, R10): both failures are named in the refusal."""
    ctx = FakeContext(data={"c": ["王一", "李二"], "s": ["王一"]})
    params = {
        "post": "委员", "seats": 2, "candidates": "data.c", "scrutineers": "data.s",
        "into": "data.slate",
    }  # fmt: skip
    with pytest.raises(ActionFailed) as caught:
        _run("check_slate", params, ctx)
    assert "差额选举: 候选人应不少于 2 + ⌈2/5⌉ = 3 名" in str(caught.value)
    assert "候选人不得担任监票人或计票人: 王一(监票人)" in str(caught.value)


def test_score_layers_compares_rules_on_the_same_ballots() -> None:
    """score_layers (§3): the seed rule and a roster rule on the same recorded ballots."""
    layer = {"yes": 5, "ballots_cast": 10}
    ballots = {
        "黄钰": {"A": layer, "trust": {"yes": 32, "ballots_cast": 33, "roster": 40}},
        "任参": {"A": layer, "trust": {"yes": 19, "ballots_cast": 19, "roster": 25}},
    }
    rule = {"name": "seed", "layers": [{"layer": "A", "weight": "9/10"}], "trust": {}}
    alt = {**rule, "name": "roster", "trust": {"denominator": "roster"}}
    ctx = FakeContext(data={"b": ballots})
    out = _run(
        "score_layers",
        {"ballots": "data.b", "rule": rule, "compare": [alt], "top": 1, "into": "data.s"},
        ctx,
    )
    trust = {s["name"]: s["trust"]["rate_display"] for s in out["scores"]}
    assert trust == {"黄钰": "96.97", "任参": "100.00"}
    assert out["selected"] == ["任参"]
    assert out["compare"][0]["selected"] == ["黄钰"]


def test_a_comparison_lacking_its_input_is_not_computed_and_never_blocks() -> None:
    """score_layers (§3): without the optional roster the roster comparison is "not
    computed", with why, and the main result is recorded all the same."""
    layer = {"yes": 5, "ballots_cast": 10}
    ballots = {
        "黄钰": {"A": layer, "trust": {"yes": 32, "ballots_cast": 33}},
        "任参": {"A": layer, "trust": {"yes": 19, "ballots_cast": 19}},
    }
    rule = {"name": "seed", "layers": [{"layer": "A", "weight": "9/10"}], "trust": {}}
    alt = {**rule, "name": "roster", "trust": {"denominator": "roster"}}
    ctx = FakeContext(data={"b": ballots})
    out = _run(
        "score_layers",
        {"ballots": "data.b", "rule": rule, "compare": [alt], "top": 1, "into": "data.s"},
        ctx,
    )
    assert out["selected"] == ["任参"]
    assert out["compare"][0]["name"] == "roster"
    assert out["compare"][0]["computed"] is False
    assert "roster" in out["compare"][0]["reason"]


def test_rank_and_survey_rate() -> None:
    """rank (R17) reports a tie at the cut-off; survey_rate (§5) exactly 60 % is not barred."""
    ctx = FakeContext(data={"v": {"a": 5, "b": 3, "c": 3}, "s": {
        "issued": 10, "returned": 10, "valid": 10, "satisfied": 6}})  # fmt: skip
    ranked = _run("rank", {"scores": "data.v", "top": 2, "into": "data.r"}, ctx)
    assert (ranked["selected"], ranked["tied"]) == (["a"], ["b", "c"])
    rate = _run("survey_rate", {"counts": "data.s", "into": "data.rate"}, ctx)
    assert rate["below_60"] is False


def _shortfall_round() -> dict[str, Any]:
    return {"status": "shortfall", "seats": 5, "elected": ["甲", "乙", "丙", "丁"]}


@pytest.mark.parametrize(
    ("rule", "adopted"), [({"more_than": "1/2"}, False), ({"at_least": "1/2"}, True)]
)
def test_reduce_seats_takes_the_procedures_rule(rule: dict[str, str], adopted: bool) -> None:
    """reduce_seats (R18): 20 of 40 is adopted by at_least 1/2 (半数以上), not by more_than."""
    ctx = FakeContext(data={"round": _shortfall_round()})
    params = {
        "round": "data.round", "proposed_seats": 4, "yes": 20, "present": 40, "floor": 3,
        "into": "data.reduction", **rule,
    }  # fmt: skip
    out = _run("reduce_seats", params, ctx)
    assert out["adopted"] is adopted
    assert ctx.data["reduction"] == out


def test_reduce_seats_fails_rather_than_record_an_outcome_its_transition_denies() -> None:
    """reduce_seats (R18): with expects: adopted, a vote the rule rejects fails the action,
    so no record says adopted: false on the transition that reduced the seats."""
    ctx = FakeContext(data={"round": _shortfall_round()})
    params = {
        "round": "data.round", "proposed_seats": 4, "yes": 20, "present": 40,
        "more_than": "1/2", "expects": "adopted", "into": "data.reduction",
    }  # fmt: skip
    with pytest.raises(ActionFailed) as caught:
        _run("reduce_seats", params, ctx)
    assert "disagree" in str(caught.value)
    assert "reduction" not in ctx.data
    assert _run("reduce_seats", {**params, "yes": 21}, ctx)["adopted"] is True


def test_reduce_seats_needs_its_rule_in_the_procedure() -> None:
    """reduce_seats (R18): the schema requires exactly one of more_than and at_least."""
    import jsonschema

    schema = default_registry()["reduce_seats"].params_schema
    base = {"round": "data.r", "proposed_seats": 1, "yes": 1, "present": 1, "into": "data.x"}
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid(base)
    assert validator.is_valid({**base, "more_than": "1/2"})
    assert not validator.is_valid({**base, "more_than": "1/2", "at_least": "1/2"})


def test_tally_round_reads_spoiled_ballots_and_the_declared_count() -> None:
    """tally_round (R15): {"spoiled": reason} piles are invalid by reason; returned is checked."""
    ctx = FakeContext(
        data={"candidates": ["甲"]},
        payload={
            "ballots": [{"count": 3, "marks": {"甲": "approve"}}, {"count": 2, "spoiled": "signed"}]
        },
    )
    params = {
        "candidates": "data.candidates", "seats": 1, "ballots": "payload.ballots", "voters": 5,
        "returned": 5, "into": "data.round",
    }  # fmt: skip
    out = _run("tally_round", params, ctx)
    assert (out["valid"], out["invalid"], out["invalid_by_reason"]) == (3, 2, {"signed": 2})
    with pytest.raises(GovernanceError):
        _run("tally_round", {**params, "returned": 4}, ctx)


def test_rank_names_no_rule_of_its_own_at_a_tie() -> None:
    """rank serves any rulebook: a tie at the cut-off (listed by name, as in the order) is
    explained in plain words, with the procedure's own name for its tie rule (tie_basis) in
    front when it gives one."""
    ctx = FakeContext(data={"v": {"甲": 5, "乙": 3, "丙": 3}})
    params = {"scores": "data.v", "top": 2, "into": "data.ranked"}
    plain = _run("rank", params, ctx)
    named = _run("rank", {**params, "tie_basis": "就票数相等的被选举人再次投票"}, ctx)

    assert plain["explanation"][-1] == "丙、乙 并列, 争 1 个名额, 再投票"
    assert (
        named["explanation"][-1] == "就票数相等的被选举人再次投票: 丙、乙 并列, 争 1 个名额, 再投票"
    )
