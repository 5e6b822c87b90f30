"""engine.governance.eligibility and the check_eligibility action: published conditions as data."""

from __future__ import annotations

from typing import Any

import pytest

from engine.actions.registry import default_registry
from engine.governance.eligibility import review
from engine.governance.errors import GovernanceError

# The 三票制 pilot's conditions (seed part 4): 任副科2年以上或现任正科, 42周岁以下, 公务员身份.
PILOT: list[dict[str, Any]] = [
    {
        "id": "rank",
        "label": "任副科2年以上或现任正科",
        "any_of": [
            {"all_of": [{"fact": "rank", "equals": "section"}]},
            {
                "all_of": [
                    {"fact": "rank", "equals": "deputy_section"},
                    {"fact": "years_in_rank", "at_least": 2},
                ]
            },
        ],
    },
    {"id": "age", "label": "年龄42周岁以下", "all_of": [{"fact": "age", "at_most": 42}]},
    {
        "id": "civil_servant",
        "label": "公务员身份",
        "all_of": [{"fact": "civil_servant", "equals": True}],
    },
]


def _one(facts: dict[str, Any]) -> dict[str, Any]:
    return review(PILOT, [{"name": "甲", "facts": facts}])["results"][0]


@pytest.mark.parametrize(
    ("facts", "eligible"),
    [
        ({"rank": "section", "age": 42, "civil_servant": True}, True),
        ({"rank": "section", "age": 43, "civil_servant": True}, False),
        ({"rank": "deputy_section", "years_in_rank": 2, "age": 35, "civil_servant": True}, True),
        ({"rank": "deputy_section", "years_in_rank": 1, "age": 35, "civil_servant": True}, False),
        ({"rank": "section", "age": 40, "civil_servant": False}, False),
    ],
)
def test_the_pilot_conditions_at_their_boundaries(facts: dict[str, Any], eligible: bool) -> None:
    """以下 and 以上 include the number: age 42 passes, 43 fails; 2 years passes, 1 fails."""
    assert _one(facts)["eligible"] is eligible


def test_a_failed_condition_carries_its_reason() -> None:
    """Each failed condition names the rule, its label and what was found."""
    result = _one({"rank": "deputy_section", "years_in_rank": 1, "age": 45, "civil_servant": 1})

    assert [f["rule"] for f in result["failed"]] == ["rank", "age", "civil_servant"]
    assert result["failed"][1]["reason"] == "age = 45, 应 ≤ 42"
    # 1 is not True: a fact must have the published type, not merely compare equal.
    assert result["failed"][2]["reason"] == "civil_servant = 1, 应为 True"


def test_a_missing_fact_fails_rather_than_passes() -> None:
    """A fact nobody recorded fails its test: nobody is eligible by omission."""
    result = _one({"rank": "section", "civil_servant": True})

    assert result["eligible"] is False
    assert result["failed"][0]["reason"] == "未提供 age"


def test_malformed_rules_and_repeated_nominees_are_refused() -> None:
    """A test with two operators, a rule with neither all_of nor any_of, a repeat: refused."""
    bad_test = [{"id": "x", "label": "x", "all_of": [{"fact": "a", "at_least": 1, "at_most": 2}]}]
    with pytest.raises(GovernanceError):
        review(bad_test, [])
    with pytest.raises(GovernanceError):
        review([{"id": "x", "label": "x"}], [])
    with pytest.raises(GovernanceError):
        review(PILOT, [{"name": "甲", "facts": {}}, {"name": "甲", "facts": {}}])


def test_the_action_writes_the_review_and_keeps_other_fields() -> None:
    """check_eligibility keeps post/route beside the verdict and counts both sides."""

    class Ctx:
        def __init__(self) -> None:
            self.data: dict[str, Any] = {}

        def evaluate(self, expression: str) -> Any:
            facts = {"rank": "section", "age": 40, "civil_servant": True}
            return [
                {"name": "甲", "post": "secretary", "facts": facts},
                {"name": "乙", "post": "deputy", "facts": {}},
            ]

    ctx = Ctx()
    spec = default_registry()["check_eligibility"]
    out = spec.run({"rules": PILOT, "nominees": "data.nominees", "into": "data.review"}, ctx)

    assert (out["eligible"], out["ineligible"]) == (["甲"], ["乙"])
    assert out["results"][0]["post"] == "secretary"
    assert ctx.data["review"] == out
    assert out["explanation"][-1] == "审查 2 人: 符合 1 人, 不符合 1 人"
