"""``count_vote``: apply one of the procedure's own counting rules to a vote.

The rule — ballot form, turnout, threshold or most votes with a floor, ties,
write-ins, invalid reasons, proxies and every word of the record — is stated by the
procedure under its top-level ``counting`` key and named here by ``rule``; the
action only reads the vote's numbers through CEL and records what
``engine.governance.counting`` decided. ``validate`` checks that the rule exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.context import ActionContext, RuleSource
from engine.actions.params import PATH, count_param, expr, param_optional_int, param_value, write
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance.counting import STATUSES, VoteInputs, count_vote
from engine.governance.counting_rule import CountingRule


def _list(params: Mapping[str, Any], key: str, ctx: ActionContext) -> list[Any]:
    value = param_value(params, key, ctx) if key in params else []
    if not isinstance(value, list | tuple):
        raise ActionFailed(f"{key} gave {type(value).__name__}, not a list")
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
            raise ActionFailed('proxies: each entry is {"holder": name, "votes": integer}')
        out.append((item["holder"], votes))
    return out


def _tally(params: Mapping[str, Any], ctx: ActionContext) -> dict[str, dict[str, int]]:
    value = param_value(params, "tally", ctx) if "tally" in params else {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ActionFailed("tally: a map of candidate to {grade: votes}")
    return {str(k): dict(v) for k, v in value.items()}


def _count_vote(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    if not isinstance(ctx, RuleSource):
        raise ActionFailed("count_vote runs only inside a procedure that states its rules")
    rule = ctx.counting_rule(params["rule"])
    assert isinstance(rule, CountingRule)
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
    ),
    writes="into",
    rule="rule",
    writes_shape=(
        "{rule, label, basis, form, status, people {registered, expected, present, "
        "proxy_votes, voters}, turnout (null or {base, operator, fraction, base_count, count, "
        "bound, bound_display, met}), ballots {issued, returned, valid, invalid, "
        "invalid_by_reason, blank}; a motion adds counts {yes, no, abstain}, decision and "
        "adopted; an election adds seats, rule_applied, most_votes, checks, counts [{name, "
        "votes, write_in, passed}], elected, tied, tie_places, tie_rule, shortfall, "
        "needs_review; a grades vote adds members [{name, grades, findings}]; explanation}"
    ),
    statuses=STATUSES,
    example=(
        "count_vote: {rule: recall, present: payload.voted_in_person, registered: "
        "data.registered, proxies: payload.proxies, ballots: payload.ballots, "
        "into: data.recall_vote}"
    ),
)

__all__ = ["COUNT_VOTE"]
