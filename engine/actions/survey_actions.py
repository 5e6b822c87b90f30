"""The survey action: ``survey_rate`` (§5).

Computes a satisfaction rate with a declared numerator and denominator through
``engine.governance.survey``, and whether it is below 60 % (5k < 3N; exactly 60 %
is not).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.context import ActionContext
from engine.actions.params import PATH, expr, param_value, write
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance import survey


def _survey_rate(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = param_value(params, "counts", ctx)
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
    write(ctx, params["into"], record)
    return record


SURVEY_RATE: ActionSpec = ActionSpec(
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
            "counts": expr("{issued, returned, valid, satisfied, basically_satisfied?}"),
            "numerator": {
                "enum": ["satisfied", "satisfied_or_basically"],
                "description": "Which answers count as satisfied.",
            },
            "base": {
                "enum": ["issued", "returned", "valid"],
                "description": "What the rate is of.",
            },
            "into": PATH,
        },
    },
    run=_survey_rate,
    expressions=("counts",),
    writes="into",
)


__all__ = ["SURVEY_RATE"]
