"""The ballot-round actions: ``tally_round`` (R13–R19) and ``reduce_seats`` (R18).

``tally_round`` counts one round of a multi-seat election through
``engine.governance.ballots`` and records every count, the elected, any tie or
shortfall and the explanation; ``reduce_seats`` records the meeting's vote to
reduce the seats after a round that ended in shortfall (R18).

Where a guard and an action decide the same thing, the action takes its rule from
the procedure's parameters (``more_than``/``at_least``, the ``floor`` of seats) and
``reduce_seats`` may state which outcome its transition stands for (``expects``), so
a record can never say ``adopted: false`` on the transition that reduced the seats.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from engine.actions.context import ActionContext
from engine.actions.params import (
    FRACTION,
    PATH,
    count_param,
    expr,
    param_int,
    param_names,
    param_optional_int,
    param_value,
    plain_fraction,
    write,
)
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance import ballots as ballots_mod


def _ballots(raw: list[Any] | tuple[Any, ...]) -> list[ballots_mod.Ballot]:
    """The returned ballots; ``{"count": n, "marks": …}`` stands for n identical ballots.

    Counters sort identical ballots into piles (计票单); a pile is still marks only,
    with no voter beside it (R12), and each of its ballots is judged on its own (R15).
    """
    out: list[ballots_mod.Ballot] = []
    for entry in raw:
        if isinstance(entry, Mapping) and "count" in entry:
            count = entry["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ActionFailed(f"a pile of ballots has count {count!r}, not an integer ≥ 0")
            rest = {k: v for k, v in entry.items() if k != "count"}
            out.extend([ballots_mod.Ballot.from_json(rest)] * count)
        else:
            out.append(ballots_mod.Ballot.from_json(entry))
    return out


def _rule(params: Mapping[str, Any], what: str) -> tuple[ballots_mod.Operator, Fraction]:
    """The rule stated by ``more_than`` or ``at_least`` (more than 1/2 when neither is given)."""
    if "at_least" in params:
        return "at_least", plain_fraction(params["at_least"], f"{what} at_least")
    if "more_than" in params:
        return "more_than", plain_fraction(params["more_than"], f"{what} more_than")
    return "more_than", ballots_mod.HALF


def _flag(params: Mapping[str, Any], key: str, ctx: ActionContext) -> bool:
    """A boolean parameter, literal or CEL; False when not given."""
    value = param_value(params, key, ctx) if key in params else False
    if not isinstance(value, bool):
        raise ActionFailed(f"{key} gave {value!r}, not true or false")
    return value


def _tally_round(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = param_value(params, "ballots", ctx)
    if not isinstance(raw, list | tuple):
        raise ActionFailed(f"ballots gave {type(raw).__name__}, not a list of ballots")
    operator, fraction = _rule(params, "tally_round")
    result = ballots_mod.tally_round(
        candidates=param_names(params, "candidates", ctx),
        seats=param_int(params, "seats", ctx),
        ballots=_ballots(raw),
        voters=param_int(params, "voters", ctx),
        expected=param_optional_int(params, "expected", ctx),
        issued=param_optional_int(params, "issued", ctx),
        base=params.get("base", "present"),
        write_ins=params.get("write_ins", "review"),
        kind=params.get("kind", "regular"),
        number=param_optional_int(params, "round", ctx) or 1,
        returned=param_optional_int(params, "returned", ctx),
        written_in=param_names(params, "written_in", ctx),
        operator=operator,
        fraction=fraction,
        reduction=_flag(params, "seat_reduction", ctx),
    )
    record = result.record()
    write(ctx, params["into"], record)
    return record


TALLY_ROUND: ActionSpec = ActionSpec(
    name="tally_round",
    description=(
        "count one ballot round of a party election by docs/rules.md R13–R19, writing those "
        "rule numbers into its explanation; kept so that records written with it replay — "
        "a new procedure counts with count_vote (a preset gives the same rules in the "
        "rulebook's own words)"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["candidates", "seats", "ballots", "voters", "into"],
        "properties": {
            "candidates": expr("the candidates' names in ballot order"),
            "seats": count_param("seats this round fills"),
            "ballots": expr(
                'the returned ballots, each {"marks": {name: "approve"|"disapprove"|"abstain"}, '
                '"write_ins": {name: mark}} or {"spoiled": reason} (signed, unreadable, torn, '
                'over_marked, marked, other); {"count": n, …} stands for n identical ballots'
            ),
            "returned": count_param(
                "the ballots the tellers declared returned; must equal the ballots entered"
            ),
            "written_in": expr(
                "names on this ballot who entered as write-ins in an earlier round (they keep "
                "their flag, R19); the round record's written_in gives them"
            ),
            "more_than": {
                **FRACTION,
                "description": "R16: elected with approvals more than this fraction of the "
                'base (default "1/2").',
            },
            "at_least": {
                **FRACTION,
                "description": "R16: elected with approvals at least this fraction of the base "
                "(for 半数以上 wording); instead of more_than.",
            },
            "seat_reduction": {
                "oneOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}],
                "description": "Whether the procedure lets the meeting reduce the seats after "
                "a shortfall (a boolean or a CEL expression); only then does the explanation "
                "offer it.",
            },
            "voters": count_param("voters present who took part (实到会)"),
            "expected": count_param("voters expected (应到会); needed for base expected"),
            "issued": count_param("ballots issued; the voters when omitted"),
            "base": {
                "enum": ["present", "expected"],
                "description": "R16 base: present (1990, the pilots) or expected (2020).",
            },
            "write_ins": {
                "enum": ["forbidden", "review", "allowed"],
                "description": "Write-ins: ignored, counted and flagged (R19), or counted.",
            },
            "kind": {
                "enum": ["regular", "tie_revote", "further", "plurality"],
                "description": "A regular round, a re-vote among the tied (R17), a further "
                "round (R18), or a top-N vote by votes alone (plurality, no R16 threshold).",
            },
            "round": count_param("the round's number in the election"),
            "into": PATH,
        },
    },
    run=_tally_round,
    expressions=(
        "candidates",
        "seats",
        "ballots",
        "voters",
        "expected",
        "issued",
        "round",
        "returned",
        "written_in",
        "seat_reduction",
    ),
    writes="into",
)


def _reduce_seats(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    last = param_value(params, "round", ctx)
    if not isinstance(last, Mapping) or last.get("status") != "shortfall":
        raise ActionFailed("R18: seats can be reduced only after a round that ended in shortfall")
    operator, fraction = _rule(params, "reduce_seats")
    decision = ballots_mod.decide_reduction(
        status=str(last["status"]),
        seats=int(last["seats"]),
        elected=len(last["elected"]),
        proposed_seats=param_int(params, "proposed_seats", ctx),
        yes=param_int(params, "yes", ctx),
        present=param_int(params, "present", ctx),
        operator=operator,
        fraction=fraction,
        floor=param_optional_int(params, "floor", ctx) or 1,
    )
    expects = params.get("expects")
    if expects is not None and decision.adopted != (expects == "adopted"):
        raise ActionFailed(
            f"R18: this transition stands for the reduction being {expects}, but by the "
            f"procedure's rule it is {'adopted' if decision.adopted else 'rejected'} "
            f"({decision.explanation}): the guard and the rule disagree"
        )
    record = decision.record()
    write(ctx, params["into"], record)
    return record


_ONE_RULE = [{"required": ["more_than"]}, {"required": ["at_least"]}]

REDUCE_SEATS: ActionSpec = ActionSpec(
    name="reduce_seats",
    description=(
        "record the meeting's vote to reduce the seats after a tally_round shortfall (R18), "
        "by the procedure's rule and never below its floor; kept so that records written "
        "with it replay — a new procedure uses decide_seat_reduction"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["round", "proposed_seats", "yes", "present", "into"],
        "oneOf": _ONE_RULE,
        "properties": {
            "round": expr("the recorded round (as written by tally_round)"),
            "proposed_seats": count_param("the reduced number of seats"),
            "yes": count_param("votes for the reduction"),
            "present": count_param("voters present"),
            "more_than": {
                **FRACTION,
                "description": "Adopted with yes votes more than this fraction of those present.",
            },
            "at_least": {
                **FRACTION,
                "description": "Adopted with yes votes at least this fraction of those present "
                "(半数以上 wording); instead of more_than.",
            },
            "floor": count_param("the fewest seats the body keeps (1 when omitted)"),
            "expects": {
                "enum": ["adopted", "rejected"],
                "description": "The outcome this transition stands for: the action fails "
                "rather than record the other one.",
            },
            "into": PATH,
        },
    },
    run=_reduce_seats,
    expressions=("round", "proposed_seats", "yes", "present", "floor"),
    writes="into",
)


__all__ = ["REDUCE_SEATS", "TALLY_ROUND"]
