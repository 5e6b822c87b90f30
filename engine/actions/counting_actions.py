"""``count_vote`` and ``decide_seat_reduction``: apply the procedure's own counting rules.

The rule — ballot form, turnout, threshold or most votes with a floor, ties,
write-ins, invalid reasons, proxies and every word of the record — is stated by the
procedure under its top-level ``counting`` key and named here by ``rule``; the
action only reads the vote's numbers through CEL and records what
``engine.governance.counting`` decided. ``decide_seat_reduction`` records the
meeting's vote to reduce the seats after a shortfall by the same rule's
``seat_reduction``. ``validate`` checks that the rule exists. Refusals are in the
words of the record (Chinese), like the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.context import ActionContext, RuleSource
from engine.actions.params import (
    PATH,
    count_param,
    expr,
    param_int,
    param_optional_int,
    param_value,
    write,
)
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance.counting import STAGES, STATUSES, VoteInputs, count_vote
from engine.governance.counting_rule import CountingRule
from engine.governance.seat_reduction import (
    REDUCTION_STATUSES,
    ReductionVote,
    decide_seat_reduction,
)


def _list(params: Mapping[str, Any], key: str, ctx: ActionContext) -> list[Any]:
    value = param_value(params, key, ctx) if key in params else []
    if not isinstance(value, list | tuple):
        raise ActionFailed(f"{key} 应为列表, 得到的是 {type(value).__name__}")
    return list(value)


def _proxies(params: Mapping[str, Any], ctx: ActionContext) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for item in _list(params, "proxies", ctx):
        votes = item.get("votes") if isinstance(item, Mapping) else None
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("holder"), str)
            or isinstance(votes, bool)
            or not isinstance(votes, int)
        ):
            raise ActionFailed('proxies: 每一项写作 {"holder": 受托人, "votes": 票数}')
        out.append((item["holder"], votes))
    return out


def _tally(params: Mapping[str, Any], ctx: ActionContext) -> dict[str, dict[str, int]]:
    value = param_value(params, "tally", ctx) if "tally" in params else {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ActionFailed("tally: 计票单写作 {被评议人: {等次: 票数}}")
    return {str(k): dict(v) for k, v in value.items()}


def _rule(params: Mapping[str, Any], ctx: ActionContext) -> CountingRule:
    if not isinstance(ctx, RuleSource):
        raise ActionFailed("计票规则只能在写明规则 (counting) 的办事规程中使用")
    rule = ctx.counting_rule(params["rule"])
    assert isinstance(rule, CountingRule)
    return rule


def _count_vote(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    rule = _rule(params, ctx)
    names = [str(n) for n in _list(params, "candidates", ctx)]
    inputs = VoteInputs(
        ballots=_list(params, "ballots", ctx),
        candidates=names,
        tally=_tally(params, ctx),
        registered=param_optional_int(params, "registered", ctx),
        expected=param_optional_int(params, "expected", ctx),
        present=param_optional_int(params, "present", ctx),
        issued=param_optional_int(params, "issued", ctx),
        returned=param_optional_int(params, "returned", ctx),
        proxies=_proxies(params, ctx),
        order=[str(n) for n in _list(params, "order", ctx)],
        stage=str(params.get("stage", "first")),
        round=param_optional_int(params, "round", ctx),
        seats=param_optional_int(params, "seats", ctx),
        written_in=[str(n) for n in _list(params, "written_in", ctx)],
    )
    record = count_vote(rule, inputs).record()
    write(ctx, params["into"], record)
    return record


COUNT_VOTE: ActionSpec = ActionSpec(
    name="count_vote",
    description=(
        "count one vote by a counting rule the procedure states under its top-level "
        "counting key (motion, approval, single choice or grades) and write every count, "
        "the outcome and the explanation, in the rule's own words, to a data field"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["rule", "present", "into"],
        "properties": {
            "rule": {
                "type": "string",
                "minLength": 1,
                "description": "The name of a rule under the procedure's top-level counting.",
            },
            "ballots": expr(
                'the returned ballots, each {"marks": {name: "approve"|"disapprove"|'
                '"abstain"}, "write_ins": {name: mark}} or {"spoiled": reason}; '
                '{"count": n, …} stands for n alike. A motion marks one name (its question)'
            ),
            "candidates": expr("the names on the ballot, in ballot order"),
            "tally": expr("a grades vote's tally sheet: {candidate: {grade: votes}}"),
            "registered": count_param("registered voters (登记)"),
            "expected": count_param("those expected (应到)"),
            "present": count_param("those who voted in person"),
            "issued": count_param("ballots issued; those who voted when omitted"),
            "returned": count_param("ballots declared returned; must equal those entered"),
            "proxies": expr('proxy votes cast, each {"holder": name, "votes": n}'),
            "order": expr("the declared precedence settling a tie, when the rule's ties is order"),
            "stage": {
                "enum": list(STAGES),
                "description": "An election's count: first (by the rule's decision, the "
                "default), revote (among the tied, by most votes alone) or further (a further "
                "round, by the rule's further_round.decide or else its own); names written in "
                "count only in a first count.",
            },
            "round": count_param("the count's number in the election, recorded as round"),
            "seats": count_param(
                "the places this count fills, when not the rule's seats (a post, the tied "
                "places of a re-vote, the shortfall of a further round)"
            ),
            "written_in": expr(
                "names on this ballot who entered as write-ins in an earlier count (they keep "
                "their flag and are listed for review when elected)"
            ),
            "into": PATH,
        },
    },
    run=_count_vote,
    expressions=(
        "ballots",
        "candidates",
        "tally",
        "registered",
        "expected",
        "present",
        "issued",
        "returned",
        "proxies",
        "order",
        "round",
        "seats",
        "written_in",
    ),
    writes="into",
    rule="rule",
    writes_shape=(
        "{rule, label, basis, form, status, round (when given), people {registered, expected, "
        "present, "
        "proxy_votes, voters}, turnout (null or {base, operator, fraction, base_count, count, "
        "bound, bound_display, met}), ballots {issued, returned, valid, invalid, "
        "invalid_by_reason, blank}; a motion adds counts {yes, no, abstain}, decision and "
        "adopted; an election adds seats, rule_applied, most_votes, checks, counts [{name, "
        "votes, disapprove, abstain, write_in, passed}], elected, tied, tie_places, tie_rule, "
        "shortfall, further_candidates, needs_review, written_in (the names that entered as "
        "write-ins, here or earlier) and stage when not first; a grades vote adds "
        "members [{name, grades, findings}]; explanation}"
    ),
    statuses=STATUSES,
    example=(
        "count_vote: {rule: recall, present: payload.voted_in_person, registered: "
        "data.registered, proxies: payload.proxies, ballots: payload.ballots, "
        "into: data.recall_vote}"
    ),
)


def _seat_reduction(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    rule = _rule(params, ctx)
    count = param_value(params, "count", ctx)
    if not isinstance(count, Mapping):
        raise ActionFailed("count 应为 count_vote 写下的计票记录")
    vote = ReductionVote(
        count=count,
        proposed_seats=param_int(params, "proposed_seats", ctx),
        yes=param_int(params, "yes", ctx),
        registered=param_optional_int(params, "registered", ctx),
        expected=param_optional_int(params, "expected", ctx),
        present=param_optional_int(params, "present", ctx),
        voters=param_optional_int(params, "voters", ctx),
    )
    record = decide_seat_reduction(rule, vote)
    expects = params.get("expects")
    if expects is not None and record["status"] != expects:
        raise ActionFailed(
            f"{rule.label}: 此转移代表{rule.word(f'reduction_{expects}')}, 而按本规则的结果是"
            f"{rule.word('reduction_' + record['status'])} ({record['explanation'][-2]}): "
            "条件与规则不一致"
        )
    write(ctx, params["into"], record)
    return record


DECIDE_SEAT_REDUCTION: ActionSpec = ActionSpec(
    name="decide_seat_reduction",
    description=(
        "record the meeting's vote to reduce the seats after an election count that ended in "
        "shortfall, by the counting rule's seat_reduction (its adoption rule and floor), in the "
        "rule's own words"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["rule", "count", "proposed_seats", "yes", "into"],
        "properties": {
            "rule": {
                "type": "string",
                "minLength": 1,
                "description": "The name of a rule under the procedure's top-level counting; "
                "it states seat_reduction.",
            },
            "count": expr("the record of the count that ended in shortfall (from count_vote)"),
            "proposed_seats": count_param("the reduced number of seats put to the vote"),
            "yes": count_param("votes for the reduction"),
            "registered": count_param("registered voters (登记), when the rule's base"),
            "expected": count_param("those expected (应到), when the rule's base"),
            "present": count_param("those present (到会), when the rule's base"),
            "voters": count_param("those who voted, when the rule's base"),
            "expects": {
                "enum": list(REDUCTION_STATUSES),
                "description": "The outcome this transition stands for: the action fails "
                "rather than record the other one.",
            },
            "into": PATH,
        },
    },
    run=_seat_reduction,
    expressions=("count", "proposed_seats", "yes", "registered", "expected", "present", "voters"),
    writes="into",
    rule="rule",
    writes_shape=(
        "{rule, label, basis, status, seats, elected (how many), proposed_seats, floor, "
        "decision {base, operator, fraction, base_count, count, bound, bound_display, met}, "
        "adopted, explanation}"
    ),
    statuses=REDUCTION_STATUSES,
    example=(
        "decide_seat_reduction: {rule: committee, count: data.round, proposed_seats: "
        "size(data.round.elected), yes: payload.yes, present: data.attendance.present, "
        "expects: adopted, into: data.reduction}"
    ),
)

__all__ = ["COUNT_VOTE", "DECIDE_SEAT_REDUCTION"]
