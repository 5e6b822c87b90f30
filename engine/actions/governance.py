"""Built-in actions that run the governance library from a procedure.

Each reads its inputs through CEL expressions declared in its parameters (compiled
and checked against the data and payload schemas when the procedure loads),
calls a pure function of ``engine.governance``, writes the JSON-ready result to
the data path in ``into`` and returns it, so the audit record of the transition
carries every count and the explanation. Inputs a rule refuses make the attempt
refused with the rule's reason (``GovernanceError`` is an ``EngineError``).

Actions: ``tally_round`` (R13–R19), ``reduce_seats`` (R18), ``score_layers`` (§3),
``rank`` (R17, §3), ``record_exclusion`` (R2), ``count_attendance`` (R1–R3),
``check_slate`` (R6–R11), ``check_eligibility`` (§2–§3) and ``survey_rate`` (§5).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from engine.actions.registry import ActionContext, ActionFailed, ActionSpec
from engine.governance import ballots as ballots_mod
from engine.governance import eligibility, ranking, roster, scoring, slate, survey
from engine.guards.arithmetic import parse_fraction, show_rounded

_PATH = {
    "type": "string",
    "pattern": r"^data(\.[A-Za-z_][A-Za-z0-9_]*)+$",
    "description": "Where to write the result, as data.<field>[.<field>…].",
}


def _expr(what: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": f"A CEL expression giving {what}."}


def _count_param(what: str) -> dict[str, Any]:
    return {
        "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "minLength": 1}],
        "description": f"{what}: an integer, or a CEL expression giving one.",
    }


_FRACTION = {
    "type": "string",
    "pattern": "^[0-9]+/[1-9][0-9]*$",
    "description": 'An exact fraction such as "3/10".',
}


def _value(params: Mapping[str, Any], key: str, ctx: ActionContext) -> Any:
    raw = params[key]
    if isinstance(raw, str):
        return ctx.evaluate(raw)
    return raw


def _int(params: Mapping[str, Any], key: str, ctx: ActionContext) -> int:
    value = _value(params, key, ctx)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionFailed(f"{key} gave {value!r}, not an integer")
    return value


def _optional_int(params: Mapping[str, Any], key: str, ctx: ActionContext) -> int | None:
    return _int(params, key, ctx) if key in params else None


def _names(params: Mapping[str, Any], key: str, ctx: ActionContext) -> list[str]:
    value = _value(params, key, ctx) if key in params else []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ActionFailed(f"{key} gave {value!r}, not a list of names")
    return [str(v) for v in value]


def _write(ctx: ActionContext, path: str, value: Any, *, append: bool = False) -> None:
    keys = path.split(".")[1:]
    node = ctx.data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ActionFailed(f"{path}: {key!r} holds {type(child).__name__}, not an object")
        node = child
    if append:
        current = node.setdefault(keys[-1], [])
        if not isinstance(current, list):
            raise ActionFailed(f"{path} holds {type(current).__name__}, not a list")
        current.append(value)
    else:
        node[keys[-1]] = value


def _plain_fraction(value: Any, what: str) -> Fraction:
    try:
        return parse_fraction(value)
    except ValueError as exc:
        raise ActionFailed(f"{what}: {exc}") from exc


# -- tally_round ----------------------------------------------------------------------------


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
    raw = _value(params, "ballots", ctx)
    if not isinstance(raw, list | tuple):
        raise ActionFailed(f"ballots gave {type(raw).__name__}, not a list of ballots")
    result = ballots_mod.tally_round(
        candidates=_names(params, "candidates", ctx),
        seats=_int(params, "seats", ctx),
        ballots=_ballots(raw),
        voters=_int(params, "voters", ctx),
        expected=_optional_int(params, "expected", ctx),
        issued=_optional_int(params, "issued", ctx),
        base=params.get("base", "present"),
        write_ins=params.get("write_ins", "review"),
        kind=params.get("kind", "regular"),
        number=_optional_int(params, "round", ctx) or 1,
    )
    record = result.record()
    _write(ctx, params["into"], record)
    return record


TALLY_ROUND = ActionSpec(
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
            "candidates": _expr("the candidates' names in ballot order"),
            "seats": _count_param("seats this round fills"),
            "ballots": _expr(
                'the returned ballots, each {"marks": {name: "approve"|"disapprove"|"abstain"}, '
                '"write_ins": {name: mark}}; {"count": n, "marks": …} stands for n identical '
                "ballots"
            ),
            "voters": _count_param("voters present who took part (实到会)"),
            "expected": _count_param("voters expected (应到会); needed for base expected"),
            "issued": _count_param("ballots issued; the voters when omitted"),
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
            "round": _count_param("the round's number in the election"),
            "into": _PATH,
        },
    },
    run=_tally_round,
    expressions=("candidates", "seats", "ballots", "voters", "expected", "issued", "round"),
    writes="into",
)


# -- reduce_seats ---------------------------------------------------------------------------


def _reduce_seats(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    last = _value(params, "round", ctx)
    if not isinstance(last, Mapping) or last.get("status") != "shortfall":
        raise ActionFailed("R18: seats can be reduced only after a round that ended in shortfall")
    proposed = _int(params, "proposed_seats", ctx)
    yes = _int(params, "yes", ctx)
    present = _int(params, "present", ctx)
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
    _write(ctx, params["into"], record)
    return record


REDUCE_SEATS = ActionSpec(
    name="reduce_seats",
    description="record the meeting's vote to reduce the seats after a shortfall (R18)",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["round", "proposed_seats", "yes", "present", "into"],
        "properties": {
            "round": _expr("the recorded round (as written by tally_round)"),
            "proposed_seats": _count_param("the reduced number of seats"),
            "yes": _count_param("votes for the reduction"),
            "present": _count_param("voters present"),
            "into": _PATH,
        },
    },
    run=_reduce_seats,
    expressions=("round", "proposed_seats", "yes", "present"),
    writes="into",
)


# -- score_layers ---------------------------------------------------------------------------

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
                    "weight": _FRACTION,
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
                "weight": _FRACTION,
                "gate": _FRACTION,
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
            weight=_plain_fraction(layer["weight"], f"layer {layer['layer']} weight"),
            denominator=layer.get("denominator", "ballots_cast"),
            label=layer.get("label", ""),
        )
        for layer in raw["layers"]
    )
    trust = None
    if "trust" in raw:
        t = raw["trust"]
        trust = scoring.TrustRule(
            weight=_plain_fraction(t.get("weight", "1/10"), "trust weight"),
            gate=_plain_fraction(t.get("gate", "1/2"), "trust gate"),
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


def _score_layers(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    counts = _layer_counts(_value(params, "ballots", ctx))
    top = _int(params, "top", ctx)
    tie_rule = params.get("tie_rule", "revote")
    main = scoring.score(_rule(params["rule"], top, tie_rule), counts)
    record = main.record()
    alternatives = [
        scoring.score(_rule(raw, top, tie_rule), counts).record()
        for raw in params.get("compare", ())
    ]
    if alternatives:
        record["compare"] = alternatives
    _write(ctx, params["into"], record)
    return record


SCORE_LAYERS = ActionSpec(
    name="score_layers",
    description=(
        "score candidates by weighted layers with a trust gate (三票制, §3), exactly; rank "
        "and select the top N; optionally score the same ballots under alternative rules"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["ballots", "rule", "top", "into"],
        "properties": {
            "ballots": _expr(
                "candidate → layer (and trust) → {yes, ballots_cast, present?, roster?}"
            ),
            "rule": _RULE,
            "compare": {
                "type": "array",
                "items": _RULE,
                "description": "Alternative rules scored on the same ballots, for comparison.",
            },
            "top": _count_param("how many are selected"),
            "tie_rule": {
                "enum": list(ranking.TIE_RULES),
                "description": "A tie at the cut-off: re-vote among the tied, or admit all.",
            },
            "into": _PATH,
        },
    },
    run=_score_layers,
    expressions=("ballots", "top"),
    writes="into",
)


# -- rank -----------------------------------------------------------------------------------


def _rank(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = _value(params, "scores", ctx)
    if not isinstance(raw, Mapping):
        raise ActionFailed("scores must map each name to an integer or a fraction string")
    scored: list[tuple[str, int | Fraction]] = []
    # By name, for the same reason as in _layer_counts: equal scores are then listed stably.
    for name, value in sorted(raw.items(), key=lambda item: str(item[0])):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ActionFailed(f"{name}: {value!r} is not an integer or a fraction string")
        scored.append(
            (str(name), value if isinstance(value, int) else _plain_fraction(value, name))
        )
    ranked = ranking.rank_top(scored, _int(params, "top", ctx), params.get("tie_rule", "revote"))
    shown = {n: str(s) if isinstance(s, int) else show_rounded(s) for n, s in scored}
    lines = [f"{i + 1}. {n} ({shown[n]})" for i, n in enumerate(ranked.order)]
    if ranked.tied:
        lines.append(f"R17: {'、'.join(ranked.tied)} 并列, 争 {ranked.open_places} 个名额, 再投票")
    record = {
        "order": list(ranked.order),
        "selected": list(ranked.selected),
        "tied": list(ranked.tied),
        "open_places": ranked.open_places,
        "tie_rule": ranked.tie_rule,
        "explanation": lines,
    }
    _write(ctx, params["into"], record)
    return record


RANK = ActionSpec(
    name="rank",
    description="rank names by votes or exact scores and select the top N, with a tie rule",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["scores", "top", "into"],
        "properties": {
            "scores": _expr('name → votes (integer) or exact score ("p/q")'),
            "top": _count_param("how many are selected"),
            "tie_rule": {
                "enum": list(ranking.TIE_RULES),
                "description": "A tie at the cut-off: re-vote among the tied, or admit all.",
            },
            "into": _PATH,
        },
    },
    run=_rank,
    expressions=("scores", "top"),
    writes="into",
)


# -- record_exclusion and count_attendance --------------------------------------------------


def _members(params: Mapping[str, Any], ctx: ActionContext) -> list[roster.Member]:
    raw = _value(params, "members", ctx)
    if not isinstance(raw, list | tuple):
        raise ActionFailed("members must be a list of {id, status, name?}")
    try:
        return [
            roster.Member(id=str(m["id"]), status=m["status"], name=str(m.get("name", "")))
            for m in raw
        ]
    except (KeyError, TypeError) as exc:
        raise ActionFailed(f"members must be a list of {{id, status, name?}}: {exc}") from exc


def _exclusion(raw: Any) -> roster.Exclusion:
    if not isinstance(raw, Mapping):
        raise ActionFailed("an exclusion is {member, ground, upper_consent, meeting_vote, note?}")
    return roster.Exclusion(
        member=str(raw.get("member", "")),
        ground=raw.get("ground", ""),
        upper_consent=raw.get("upper_consent") is True,
        meeting_vote=raw.get("meeting_vote") is True,
        note=str(raw.get("note", "")),
    )


def _record_exclusion(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    members = {m.id: m for m in _members(params, ctx)}
    exclusion = _exclusion(_value(params, "exclusion", ctx))
    roster.check_exclusion(exclusion, members, params.get("rule_set", "2020"))
    record = exclusion.record()
    _write(ctx, params["into"], record, append=True)
    return record


_RULE_SET = {"enum": ["1990", "2020"], "description": "Which election rules apply (R1)."}

RECORD_EXCLUSION = ActionSpec(
    name="record_exclusion",
    description=(
        "record a member left out of the expected count, with the ground and both approvals "
        "(R2); one without both approvals, or on another ground, is refused"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["members", "exclusion", "into"],
        "properties": {
            "members": _expr("the roster: a list of {id, status, name?}"),
            "exclusion": _expr("{member, ground, upper_consent, meeting_vote, note?}"),
            "rule_set": _RULE_SET,
            "into": _PATH,
        },
    },
    run=_record_exclusion,
    expressions=("members", "exclusion"),
    writes="into",
)


def _count_attendance(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = _value(params, "exclusions", ctx) if "exclusions" in params else []
    if not isinstance(raw, list | tuple):
        raise ActionFailed("exclusions must be a list")
    result = roster.attendance(
        _members(params, ctx),
        _names(params, "present", ctx),
        [_exclusion(e) for e in raw],
        params.get("rule_set", "2020"),
    )
    record = result.record()
    if "quorum" in params:
        q = params["quorum"]
        operator = q.get("operator", "at_least")
        outcome = result.quorum(operator, _plain_fraction(q.get("fraction", "4/5"), "quorum"))
        record["quorum"] = {**outcome.inputs(), "met": outcome.met}
        record["quorum"]["explanation"] = roster.explain_quorum(outcome)
    _write(ctx, params["into"], record)
    return record


COUNT_ATTENDANCE = ActionSpec(
    name="count_attendance",
    description=(
        "count voters expected and present after voting rights (R1) and recorded exclusions "
        "(R2), non-voting attendees apart, and test the quorum (R3)"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["members", "present", "into"],
        "properties": {
            "members": _expr("the roster: a list of {id, status, name?}"),
            "present": _expr("the ids of those who came"),
            "exclusions": _expr("the recorded exclusions"),
            "rule_set": _RULE_SET,
            "quorum": {
                "type": "object",
                "additionalProperties": False,
                "description": "R3: present against a fraction of expected.",
                "properties": {
                    "operator": {
                        "enum": ["more_than", "at_least"],
                        "description": "超过 (1990) or 不少于 (guidance, the seed).",
                    },
                    "fraction": _FRACTION,
                },
            },
            "into": _PATH,
        },
    },
    run=_count_attendance,
    expressions=("members", "present", "exclusions"),
    writes="into",
)


# -- check_slate ----------------------------------------------------------------------------


def _check_slate(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    names = _names(params, "candidates", ctx)
    check = slate.check_slate(
        post=params["post"],
        seats=_int(params, "seats", ctx),
        candidates=len(names),
        contest=params.get("contest", "contested"),
    )
    order = slate.ballot_order(
        names, order=params.get("order", "strokes"), approved=_names(params, "approved", ctx)
    )
    officials = slate.check_officials(
        candidates=names,
        scrutineers=_names(params, "scrutineers", ctx),
        counters=_names(params, "counters", ctx),
    )
    ok = check.ok and officials.ok
    record = {
        "ok": ok,
        "slate": check.record(),
        "ballot_order": order.record(),
        "officials": officials.record(),
    }
    if not ok and params.get("refuse", True):
        failed = [r.explanation for r in (check, officials) if not r.ok]
        raise ActionFailed("; ".join(failed))
    _write(ctx, params["into"], record)
    return record


CHECK_SLATE = ActionSpec(
    name="check_slate",
    description=(
        "check a post's slate: the 差额 margin (R6) or an uncontested post (R7), ballot order "
        "by surname strokes or as approved (R8), and that no scrutineer or counter stands (R10–R11)"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["post", "seats", "candidates", "into"],
        "properties": {
            "post": {"type": "string", "minLength": 1, "description": "The post, in words."},
            "seats": _count_param("seats for the post"),
            "candidates": _expr("the candidates' names"),
            "contest": {
                "enum": ["contested", "uncontested"],
                "description": "差额 (R6) or 等额 (R7).",
            },
            "order": {
                "enum": ["strokes", "approved"],
                "description": "Ballot order: surname strokes, or the approved order (R8).",
            },
            "approved": _expr("the order the upper organisation approved"),
            "scrutineers": _expr("the scrutineers' names (监票人)"),
            "counters": _expr("the counters' names (计票人)"),
            "refuse": {
                "type": "boolean",
                "description": "Refuse the attempt when a check fails (true when omitted).",
            },
            "into": _PATH,
        },
    },
    run=_check_slate,
    expressions=("seats", "candidates", "approved", "scrutineers", "counters"),
    writes="into",
)


# -- check_eligibility ----------------------------------------------------------------------

_TEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fact"],
    "description": "One fact compared one way: exactly one of at_least, at_most, equals, one_of.",
    "properties": {
        "fact": {"type": "string", "minLength": 1, "description": "The nominee's fact."},
        "at_least": {"type": "integer", "description": "≥ (以上, the number included)."},
        "at_most": {"type": "integer", "description": "≤ (以下, the number included)."},
        "equals": {"description": "Equal to this value (same type)."},
        "one_of": {"type": "array", "description": "Equal to one of these values."},
    },
}
_TESTS = {"type": "array", "minItems": 1, "items": _TEST, "description": "Tests that all hold."}


def _check_eligibility(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    nominees = _value(params, "nominees", ctx)
    if not isinstance(nominees, list | tuple):
        raise ActionFailed("nominees must be a list of {name, facts, …}")
    record = eligibility.review(params["rules"], nominees)
    _write(ctx, params["into"], record)
    return record


CHECK_ELIGIBILITY = ActionSpec(
    name="check_eligibility",
    description=(
        "review each nominee against the published eligibility conditions (data, not code): "
        "eligible or not, with every failed condition and its reason"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["rules", "nominees", "into"],
        "properties": {
            "rules": {
                "type": "array",
                "minItems": 1,
                "description": "The published conditions; a nominee must meet every one.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "label"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "description": "Rule id."},
                        "label": {"type": "string", "description": "The condition in words."},
                        "all_of": _TESTS,
                        "any_of": {
                            "type": "array",
                            "minItems": 1,
                            "description": "Alternatives; the rule holds when one holds.",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["all_of"],
                                "properties": {"all_of": _TESTS},
                            },
                        },
                    },
                },
            },
            "nominees": _expr("the nominees: a list of {name, facts: {fact: value}, …}"),
            "into": _PATH,
        },
    },
    run=_check_eligibility,
    expressions=("nominees",),
    writes="into",
)


# -- survey_rate ----------------------------------------------------------------------------


def _survey_rate(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = _value(params, "counts", ctx)
    if not isinstance(raw, Mapping):
        raise ActionFailed(
            "counts must be {issued, returned, valid, satisfied, basically_satisfied?}"
        )
    try:
        counts = survey.SurveyCounts(
            issued=int(raw["issued"]),
            returned=int(raw["returned"]),
            valid=int(raw["valid"]),
            satisfied=int(raw["satisfied"]),
            basically_satisfied=int(raw.get("basically_satisfied", 0)),
        )
    except (KeyError, TypeError) as exc:
        raise ActionFailed(f"counts: {exc}") from exc
    result = survey.satisfaction(
        counts,
        numerator=params.get("numerator", "satisfied_or_basically"),
        base=params.get("base", "valid"),
    )
    record = result.record()
    _write(ctx, params["into"], record)
    return record


SURVEY_RATE = ActionSpec(
    name="survey_rate",
    description=(
        "compute a satisfaction rate with a declared numerator and denominator, and whether "
        "it is below 60 % (5k < 3N; exactly 60 % is not)"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["counts", "into"],
        "properties": {
            "counts": _expr("{issued, returned, valid, satisfied, basically_satisfied?}"),
            "numerator": {
                "enum": ["satisfied", "satisfied_or_basically"],
                "description": "Which answers count as satisfied.",
            },
            "base": {
                "enum": ["issued", "returned", "valid"],
                "description": "What the rate is of.",
            },
            "into": _PATH,
        },
    },
    run=_survey_rate,
    expressions=("counts",),
    writes="into",
)

GOVERNANCE_ACTIONS: tuple[ActionSpec, ...] = (
    TALLY_ROUND,
    REDUCE_SEATS,
    SCORE_LAYERS,
    RANK,
    RECORD_EXCLUSION,
    COUNT_ATTENDANCE,
    CHECK_SLATE,
    CHECK_ELIGIBILITY,
    SURVEY_RATE,
)

__all__ = ["GOVERNANCE_ACTIONS"]
