"""The scoring and ranking actions: ``score_layers`` (三票制) and ``rank`` (any top-N cut-off).

``score_layers`` scores candidates by weighted layers with a trust gate (三票制)
exactly through ``engine.governance.scoring``, optionally under alternative rules
for comparison; ``rank`` ranks names by votes or exact scores and selects the top N
with a tie rule (re-vote among the tied, R17). Both list equal scores by name so a
replay writes the same record.
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
    param_value,
    plain_fraction,
    write,
)
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance import ranking, scoring
from engine.governance.errors import GovernanceError
from engine.guards.arithmetic import show_rounded

_DENOMINATOR = {
    "enum": list(scoring.DENOMINATORS),
    "description": "What a layer's rate is of: ballots_cast, present or roster.",
}
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "layers"],
    "description": "A scoring rule: layers with weights and denominators, and the trust vote.",
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "The rule's name."},
        "layers": {
            "type": "array",
            "minItems": 1,
            "description": "The layers; with the trust weight, weights sum to exactly 1.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["layer", "weight"],
                "properties": {
                    "layer": {"type": "string", "minLength": 1, "description": "Layer id."},
                    "weight": FRACTION,
                    "denominator": _DENOMINATOR,
                    "label": {"type": "string", "description": "The layer in words."},
                },
            },
        },
        "trust": {
            "type": "object",
            "additionalProperties": False,
            "description": "The trust vote: a gate and a weight; omit for no trust vote.",
            "properties": {
                "weight": FRACTION,
                "gate": FRACTION,
                "gate_operator": {
                    "enum": ["more_than", "at_least"],
                    "description": "How the gate compares.",
                },
                "denominator": _DENOMINATOR,
            },
        },
    },
}


def _rule(raw: Mapping[str, Any], top: int, tie_rule: Any) -> scoring.ScoringRule:
    layers = tuple(
        scoring.LayerRule(
            layer=layer["layer"],
            weight=plain_fraction(layer["weight"], f"layer {layer['layer']} weight"),
            denominator=layer.get("denominator", "ballots_cast"),
            label=layer.get("label", ""),
        )
        for layer in raw["layers"]
    )
    trust = None
    if "trust" in raw:
        t = raw["trust"]
        trust = scoring.TrustRule(
            weight=plain_fraction(t.get("weight", "1/10"), "trust weight"),
            gate=plain_fraction(t.get("gate", "1/2"), "trust gate"),
            gate_operator=t.get("gate_operator", "at_least"),
            denominator=t.get("denominator", "ballots_cast"),
        )
    return scoring.ScoringRule(
        name=raw["name"], layers=layers, trust=trust, top=top, tie_rule=tie_rule
    )


def _layer_counts(raw: Any) -> dict[str, dict[str, scoring.LayerCount]]:
    if not isinstance(raw, Mapping):
        raise ActionFailed("ballots must map each candidate to its layers' counts")
    out: dict[str, dict[str, scoring.LayerCount]] = {}
    # By name: a map that went through CEL comes back in a different order in every process,
    # and the order decides how equal scores are listed (replay must get the same record).
    for name, layers in sorted(raw.items(), key=lambda item: str(item[0])):
        if not isinstance(layers, Mapping):
            raise ActionFailed(f"{name}: layers must map layer → counts")
        out[str(name)] = {}
        for layer, counts in layers.items():
            if not isinstance(counts, Mapping) or set(counts) - {
                "yes",
                "ballots_cast",
                "present",
                "roster",
            }:
                raise ActionFailed(
                    f"{name}.{layer}: counts are {{yes, ballots_cast, present?, roster?}}"
                )
            try:
                out[str(name)][str(layer)] = scoring.LayerCount(
                    yes=int(counts["yes"]),
                    ballots_cast=int(counts["ballots_cast"]),
                    present=None if counts.get("present") is None else int(counts["present"]),
                    roster=None if counts.get("roster") is None else int(counts["roster"]),
                )
            except (KeyError, TypeError) as exc:
                raise ActionFailed(f"{name}.{layer}: {exc}") from exc
    return out


def _compare(
    raw: Mapping[str, Any],
    top: int,
    tie_rule: Any,
    counts: dict[str, dict[str, scoring.LayerCount]],
) -> dict[str, Any]:
    """One alternative rule's scores, or why they could not be computed.

    A comparison is a side computation: an input it needs but the main rule does not
    (the unit roster, say, optional in the payload) makes it "not computed", recorded
    with the reason, and never blocks the main result.
    """
    rule = _rule(raw, top, tie_rule)
    try:
        return scoring.score(rule, counts).record()
    except GovernanceError as exc:
        return {"name": rule.name, "computed": False, "reason": f"未计算: {exc}"}


def _score_layers(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    counts = _layer_counts(param_value(params, "ballots", ctx))
    top = param_int(params, "top", ctx)
    tie_rule = params.get("tie_rule", "revote")
    main = scoring.score(_rule(params["rule"], top, tie_rule), counts)
    record = main.record()
    alternatives = [_compare(raw, top, tie_rule, counts) for raw in params.get("compare", ())]
    if alternatives:
        record["compare"] = alternatives
    write(ctx, params["into"], record)
    return record


SCORE_LAYERS: ActionSpec = ActionSpec(
    name="score_layers",
    description=(
        "score candidates by weighted layers with a trust gate (三票制 structured "
        "recommendation), exactly; rank "
        "and select the top N; optionally score the same ballots under alternative rules"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["ballots", "rule", "top", "into"],
        "properties": {
            "ballots": expr(
                "candidate → layer (and trust) → {yes, ballots_cast, present?, roster?}"
            ),
            "rule": _RULE,
            "compare": {
                "type": "array",
                "items": _RULE,
                "description": "Alternative rules scored on the same ballots, for comparison.",
            },
            "top": count_param("how many are selected"),
            "tie_rule": {
                "enum": list(ranking.TIE_RULES),
                "description": "A tie at the cut-off: re-vote among the tied, or admit all.",
            },
            "into": PATH,
        },
    },
    run=_score_layers,
    expressions=("ballots", "top"),
    writes="into",
)


def _rank(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = param_value(params, "scores", ctx)
    if not isinstance(raw, Mapping):
        raise ActionFailed("scores must map each name to an integer or a fraction string")
    scored: list[tuple[str, int | Fraction]] = []
    # By name, for the same reason as in _layer_counts: equal scores are then listed stably.
    for name, value in sorted(raw.items(), key=lambda item: str(item[0])):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ActionFailed(f"{name}: {value!r} is not an integer or a fraction string")
        scored.append((str(name), value if isinstance(value, int) else plain_fraction(value, name)))
    ranked = ranking.rank_top(
        scored, param_int(params, "top", ctx), params.get("tie_rule", "revote")
    )
    shown = {n: str(s) if isinstance(s, int) else show_rounded(s) for n, s in scored}
    lines = [f"{i + 1}. {n} ({shown[n]})" for i, n in enumerate(ranked.order)]
    if ranked.tied:
        # The rule's name, if any, is the procedure's own (``tie_basis``): rank serves any
        # rulebook, so it never prints one of its own.
        basis = params.get("tie_basis")
        tie = f"{'、'.join(ranked.tied)} 并列, 争 {ranked.open_places} 个名额, 再投票"
        lines.append(f"{basis}: {tie}" if basis else tie)
    record = {
        "order": list(ranked.order),
        "selected": list(ranked.selected),
        "tied": list(ranked.tied),
        "open_places": ranked.open_places,
        "tie_rule": ranked.tie_rule,
        "explanation": lines,
    }
    write(ctx, params["into"], record)
    return record


RANK: ActionSpec = ActionSpec(
    name="rank",
    description="rank names by votes or exact scores and select the top N, with a tie rule",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["scores", "top", "into"],
        "properties": {
            "scores": expr('name → votes (integer) or exact score ("p/q")'),
            "top": count_param("how many are selected"),
            "tie_rule": {
                "enum": list(ranking.TIE_RULES),
                "description": "A tie at the cut-off: re-vote among the tied, or admit all.",
            },
            "tie_basis": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": (
                    "The procedure's words for its tie rule, put before the tie in the "
                    "explanation (e.g. 就票数相等的被选举人再次投票); none when omitted."
                ),
            },
            "into": PATH,
        },
    },
    run=_rank,
    expressions=("scores", "top"),
    writes="into",
)


__all__ = ["RANK", "SCORE_LAYERS"]
