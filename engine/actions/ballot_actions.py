"""The ballot-round actions: ``tally_round`` (R13–R19) and ``reduce_seats`` (R18).

``tally_round`` counts one round of a multi-seat election through
``engine.governance.ballots`` and records every count, the elected, any tie or
shortfall and the explanation; ``reduce_seats`` records the meeting's vote to
reduce the seats after a round that ended in shortfall (R18).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.params import (
    PATH,
    count_param,
    expr,
    param_int,
    param_names,
    param_optional_int,
    param_value,
    write,
)
from engine.actions.registry import ActionContext, ActionFailed, ActionSpec
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


def _tally_round(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = param_value(params, "ballots", ctx)
    if not isinstance(raw, list | tuple):
        raise ActionFailed(f"ballots gave {type(raw).__name__}, not a list of ballots")
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
    )
    record = result.record()
    write(ctx, params["into"], record)
    return record


TALLY_ROUND: ActionSpec = ActionSpec(
    name="tally_round",
    description=(
        "count one ballot round of a multi-seat election (R13–R19) and write every count, "
        "the elected, any tie or shortfall and the explanation to a data field"
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
                '"write_ins": {name: mark}}; {"count": n, "marks": …} stands for n identical '
                "ballots"
            ),
            "voters": count_param("voters present who took part (实到会)"),
            "expected": count_param("voters expected (应到会); needed for base expected"),
            "issued": count_param("ballots issued; the voters when omitted"),
            "base": {
                "enum": ["present", "expected"],
                "description": "R16 base: present (1990, the seed) or expected (2020).",
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
    expressions=("candidates", "seats", "ballots", "voters", "expected", "issued", "round"),
    writes="into",
)


def _reduce_seats(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    last = param_value(params, "round", ctx)
    if not isinstance(last, Mapping) or last.get("status") != "shortfall":
        raise ActionFailed("R18: seats can be reduced only after a round that ended in shortfall")
    proposed = param_int(params, "proposed_seats", ctx)
    yes = param_int(params, "yes", ctx)
    present = param_int(params, "present", ctx)
    seats, elected = int(last["seats"]), len(last["elected"])
    if not elected <= proposed < seats:
        raise ActionFailed(
            f"R18: the reduced seats must lie between the {elected} elected and the {seats} "
            f"seats (got {proposed})"
        )
    adopted = 2 * yes > present
    record = {
        "seats": seats,
        "elected": elected,
        "proposed_seats": proposed,
        "yes": yes,
        "present": present,
        "adopted": adopted,
        "explanation": (
            f"R18: 减少名额 {seats} → {proposed}: 赞成 {yes}, 到会 {present}, "
            f"须超过半数: {'通过' if adopted else '未通过'}"
        ),
    }
    write(ctx, params["into"], record)
    return record


REDUCE_SEATS: ActionSpec = ActionSpec(
    name="reduce_seats",
    description="record the meeting's vote to reduce the seats after a shortfall (R18)",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["round", "proposed_seats", "yes", "present", "into"],
        "properties": {
            "round": expr("the recorded round (as written by tally_round)"),
            "proposed_seats": count_param("the reduced number of seats"),
            "yes": count_param("votes for the reduction"),
            "present": count_param("voters present"),
            "into": PATH,
        },
    },
    run=_reduce_seats,
    expressions=("round", "proposed_seats", "yes", "present"),
    writes="into",
)


__all__ = ["REDUCE_SEATS", "TALLY_ROUND"]
