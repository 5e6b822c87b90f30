"""The village procedures: 四议两公开 (§4), 两村两会 (§5) and 两建三进 (§6).

The scenarios in ``procedures/examples/`` already run in ``test_scenarios.py``; these
tests read the numbers the audit records carry at each edge (the exact bound, the
explanation, the flag), check that every meeting's guards apply the rule the rule set
states, and run ``yishi describe`` and ``yishi graph`` on each procedure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cli_support import completed
from scenario_support import example_run

from engine.definition.loader import load_procedure
from engine.guards.kinds.threshold import ThresholdGuard
from engine.runtime.scenario import ScenarioResult

ROOT = Path(__file__).resolve().parent.parent
PROCEDURES = ROOT / "procedures"
EXAMPLES = PROCEDURES / "examples"
VILLAGE_PROCEDURES = (
    "four-deliberations-two-disclosures",
    "two-villages-two-meetings",
    "grid-service-flow",
)


@cache
def run(name: str) -> ScenarioResult:
    """The scenario ``procedures/examples/<name>.yaml``, run once per session."""
    result = example_run(EXAMPLES / f"{name}.yaml")
    assert result.ok, [m for s in result.steps for m in s.mismatches] + list(result.mismatches)
    return result


def records_of(name: str, event: str) -> list[dict[str, Any]]:
    """The audit records of one event in a scenario's run, in order."""
    return [r for r in run(name).records if r["event"] == event]


def guard(record: dict[str, Any], label: str) -> dict[str, Any]:
    """The recorded result of the guard with this label (the last one tried)."""
    found: list[dict[str, Any]] = [g for g in record["guards"] if g["label"] == label]
    assert found, f"no guard {label!r} in {[g['label'] for g in record['guards']]}"
    return found[-1]


def action(record: dict[str, Any], name: str) -> dict[str, Any]:
    """The output of the first action of this name in an applied record."""
    return next(a["output"] for a in record["actions"] if a["name"] == name)


# -- 两村两会 (§5) ---------------------------------------------------------------------------


def test_satisfaction_of_exactly_60_percent_is_not_below_and_bars_nobody() -> None:
    """§5: 60 of 100 is 5k = 3N, not below 60 %; the rate, counts and words are recorded."""
    name = "two-villages-two-meetings-satisfaction-exactly-60"
    [record] = records_of(name, "record_satisfaction")

    survey = action(record, "survey_rate")
    bar = guard(record, "满意率低于60%")

    assert record["to"] == "concluded"
    assert (survey["k"], survey["n"], survey["rate"], survey["below_60"]) == (60, 100, "3/5", False)
    assert (survey["numerator"], survey["base"]) == ("satisfied_or_basically", "valid")
    assert survey["explanation"] == "满意率 60/100 = 60.00%: 不低于60%"
    assert bar["explanation"] == "满意率低于60%: 60 of 100 有效调查表 < 3/5 (60): not met"
    assert run(name).final_data["awards_barred"] == []


def test_satisfaction_just_below_60_percent_bars_the_secretary_and_director() -> None:
    """§5: 59 of 100 is 5k < 3N; the secretary and the director are barred by name."""
    name = "two-villages-two-meetings-satisfaction-below-60"
    [record] = records_of(name, "record_satisfaction")

    survey = action(record, "survey_rate")

    assert record["to"] == "concluded_barred"
    assert (survey["k"], survey["n"], survey["below_60"]) == (59, 100, True)
    assert survey["explanation"] == (
        "满意率 59/100 = 59.00%: 低于60%, 书记、主任不能参加第二年评先评优"
    )
    assert guard(record, "满意率低于60%")["result"] is True
    assert run(name).final_data["awards_barred"] == ["周建国", "陈立新"]


def test_party_members_alone_flag_is_recorded_with_the_votes_by_body() -> None:
    """§5 [D]: 15 party yes of 38 would not carry a 党员大会, though the joint meeting adopts."""
    [record] = records_of(
        "two-villages-two-meetings-representatives-exactly-two-thirds", "hold_first_meeting"
    )

    meeting = next(a["output"]["value"] for a in record["actions"] if a["name"] == "append")

    assert meeting["adopted"] is True
    assert meeting["party_members"] == {"expected": 38, "present": 20, "yes": 15}
    assert meeting["representatives"] == {
        "expected": 45,
        "present": 30,
        "dual_present": 15,
        "yes_not_party_members": 15,
    }
    assert (meeting["present"], meeting["yes"]) == (35, 30)
    assert meeting["party_members_alone_would_pass"] is False
    assert meeting["party_members_alone"].endswith("不能通过（标记）")


def test_party_members_alone_flag_is_clear_when_they_would_carry_it() -> None:
    """§5 [D]: in the happy path 22 party yes of 38 is more than half: no flag."""
    [record] = records_of("two-villages-two-meetings-happy-path", "hold_first_meeting")[-1:]

    meeting = next(a["output"]["value"] for a in record["actions"] if a["name"] == "append")

    assert meeting["party_members_alone_would_pass"] is True
    assert meeting["party_members_alone"] == (
        "党员赞成 22 票，有表决权党员 38 人，党员大会须超过半数：可以通过"
    )


def test_party_quorum_of_exactly_half_fails_more_than_half() -> None:
    """§5: 19 of 38 party members is 2k = N, not more than half: reconvened."""
    first, second = records_of(
        "two-villages-two-meetings-party-quorum-exactly-half", "hold_first_meeting"
    )

    assert guard(first, "党员到会")["explanation"] == (
        "党员到会: 19 present of 38 expected > 1/2 (19): not met"
    )
    assert guard(first, "党员到会未过半数")["result"] is True
    assert (first["from"], first["to"]) == ("problems_proposed", "problems_proposed")
    assert guard(second, "党员到会")["explanation"] == (
        "党员到会: 20 present of 38 expected > 1/2 (19): met"
    )


@pytest.mark.parametrize(
    ("name", "present", "met"),
    [
        ("two-villages-two-meetings-representatives-exactly-two-thirds", 30, "met"),
        ("two-villages-two-meetings-representatives-one-short", 29, "not met"),
    ],
)
def test_representatives_quorum_at_and_one_below_two_thirds(
    name: str, present: int, met: str
) -> None:
    """§5: 30 of 45 is 3k = 2N, at least two thirds; 29 is one short."""
    [record] = records_of(name, "hold_first_meeting")

    assert guard(record, "村民代表到会")["explanation"] == (
        f"村民代表到会: {present} present of 45 expected ≥ 2/3 (30): {met}"
    )


def test_decision_of_exactly_half_of_those_present_is_rejected() -> None:
    """§5: 20 yes of 40 present (54 attendances, 14 in both bodies) is not more than half."""
    first, _second = records_of(
        "two-villages-two-meetings-decision-exactly-half", "hold_first_meeting"
    )

    assert guard(first, "联席会议同意")["explanation"] == (
        "联席会议同意: 20 of 40 到会人员 > 1/2 (20): not met"
    )
    assert first["to"] == "problems_proposed"


def test_an_overdue_quarter_is_recorded_by_the_timer_three_months_on() -> None:
    """§5 [D]: the first quarter's progress is due three months after the commitments."""
    fired = [
        r
        for r in run("two-villages-two-meetings-progress-overdue").records
        if r["kind"] == "timer.fired"
    ]

    assert [(r["event"], r["at"], r["from"], r["to"]) for r in fired] == [
        ("progress_overdue", "2024-05-20T01:00:00Z", "quarter_1", "quarter_1")
    ]


# -- 四议两公开 (§4) --------------------------------------------------------------------------


def test_villagers_meeting_quorum_by_households_when_adults_fall_short() -> None:
    """§4: 560 of 1200 adults is not more than half, but 254 of 380 households is ≥ 2/3."""
    first, second = records_of(
        "four-deliberations-villagers-meeting", "resolve_by_villagers_meeting"
    )

    assert guard(first, "村民会议到会（十八周岁以上村民）")["explanation"] == (
        "村民会议到会（十八周岁以上村民）: 600 present of 1200 expected > 1/2 (600): not met"
    )
    assert first["to"] == "reviewed"
    assert guard(second, "村民会议到会（户代表）")["explanation"] == (
        "村民会议到会（户代表）: 254 present of 380 expected ≥ 2/3 (760/3 ≈ 253.33): met"
    )
    assert guard(second, "村民会议同意")["explanation"] == (
        "村民会议同意: 300 of 560 到会人员 > 1/2 (280): met"
    )
    assert second["to"] == "resolved"


def test_exactly_half_passes_half_or_more_and_fails_more_than_half() -> None:
    """§0, §4: 3 of 6 meets the branch committee's quorum but is not a majority of it."""
    first = records_of("four-deliberations-exactly-half", "propose")[0]
    [review] = records_of("four-deliberations-exactly-half", "review")

    assert guard(first, "支委会到会")["explanation"] == (
        "支委会到会: 3 present of 6 expected ≥ 1/2 (3): met"
    )
    assert guard(first, "支委会同意")["explanation"] == (
        "支委会同意: 3 of 6 支委会成员 > 1/2 (3): not met"
    )
    assert guard(review, "党员大会到会")["result"] is True
    assert guard(review, "党员大会同意")["explanation"] == (
        "党员大会同意: 20 of 40 应到会有表决权党员 > 1/2 (20): not met"
    )
    assert review["to"] == "rejected"


def test_working_day_disclosure_ends_after_the_national_day_holiday() -> None:
    """§4, §8: 7 working days from Fri 2024-09-27 end at midnight after Sat 2024-10-12."""
    fired = [
        r
        for r in run("four-deliberations-working-day-disclosure").records
        if r["kind"] == "timer.fired"
    ]

    assert [(r["event"], r["at"], r["from"]) for r in fired] == [
        ("resolution_period_ended", "2024-10-12T16:00:00Z", "resolution_disclosed_working")
    ]


def test_the_rule_set_with_every_meeting_rule_is_in_the_audit() -> None:
    """§8: case.opened records the meetings' rules, the two committees' [D] choice included."""
    opened = run("four-deliberations-two-committees-rejected").records[0]

    two_committees = opened["rule_set"]["choices"]["meetings"]["two_committees"]

    assert two_committees == {
        "label": "村“两委”联席会议",
        "quorum": {"combine": "all", "members": {"of": "“两委”成员", "at_least": "1/2"}},
        "adoption": {"of": "到会“两委”成员", "more_than": "1/2"},
    }


# -- 两建三进 (§6) ---------------------------------------------------------------------------


def test_the_handler_may_not_follow_up_his_own_case() -> None:
    """§6 [D]: a follow-up by the handler is refused by the actor.id guard, with its reads."""
    refused, applied = records_of("grid-service-flow-handler-follow-up-refused", "follow_up")

    check = guard_by_explain(refused, "回访人不是承办人")
    assert refused["kind"] == "event.refused"
    assert refused["reason"]["code"] == "guards-failed"
    assert check["result"] is False
    assert check["inputs"]["reads"] == {"actor.id": "志愿者李医生", "data.handler": "志愿者李医生"}
    assert applied["actor"]["id"] == "督查员陈伟"


def guard_by_explain(record: dict[str, Any], words: str) -> dict[str, Any]:
    """The first recorded CEL guard whose explanation starts with ``words``."""
    found: dict[str, Any] = next(g for g in record["guards"] if g["explanation"].startswith(words))
    return found


def test_an_unsatisfied_follow_up_reopens_for_the_same_handler() -> None:
    """§6: the case goes back to handling; the second resolution is the same handler's."""
    result = run("grid-service-flow-unsatisfied-reopens")

    moves = [(r["event"], r["from"], r["to"]) for r in result.records[1:]]

    assert ("follow_up", "resolved", "handling") in moves
    assert [r["by"] for r in result.final_data["resolutions"]] == ["社区社保专干张丽"] * 2
    assert result.final_data["reopened"] == 1


def test_overdue_case_escalates_after_five_working_days_around_qingming() -> None:
    """§6 [D]: registered Wed 2024-04-03; 4–6 April are holidays, Sun 7 April is worked."""
    fired = [
        r for r in run("grid-service-flow-overdue-escalation").records if r["kind"] == "timer.fired"
    ]

    assert [(r["event"], r["at"], r["to"]) for r in fired] == [
        ("overdue", "2024-04-11T16:00:00Z", "escalated")
    ]


# -- the rule set states what the guards apply ----------------------------------------------


def threshold_guards(procedure_id: str) -> Iterator[tuple[str, ThresholdGuard]]:
    """Every quorum and threshold guard of the procedure, with its event id."""
    procedure = load_procedure(PROCEDURES / f"{procedure_id}.yaml").procedure
    for event_id, event in procedure.events.items():
        for transition in event.transitions:
            for g in transition.guards:
                if isinstance(g, ThresholdGuard):
                    yield event_id, g


# procedure → (event, guard label) → "<meeting>.quorum.<condition>" or "<meeting>.adoption"
FOUR = "four-deliberations-two-disclosures"
VILLAGERS = "resolve_by_villagers_meeting"
STATED: dict[str, dict[tuple[str, str], str]] = {
    FOUR: {
        ("propose", "支委会到会"): "branch_committee.quorum.members",
        ("propose", "支委会同意"): "branch_committee.adoption",
        ("deliberate", "“两委”到会"): "two_committees.quorum.members",
        ("deliberate", "“两委”同意"): "two_committees.adoption",
        ("review", "党员大会到会"): "party_members_meeting.quorum.members",
        ("review", "党员大会同意"): "party_members_meeting.adoption",
        ("resolve", "村民代表会议到会"): "representatives_assembly.quorum.representatives",
        ("resolve", "村民代表会议同意"): "representatives_assembly.adoption",
        (VILLAGERS, "村民会议到会（十八周岁以上村民）"): "villagers_meeting.quorum.adults",
        (VILLAGERS, "村民会议到会（户代表）"): "villagers_meeting.quorum.households",
        (VILLAGERS, "村民会议同意"): "villagers_meeting.adoption",
    },
    "two-villages-two-meetings": {
        ("hold_first_meeting", "党员到会"): "joint_meeting.quorum.party_members",
        ("hold_first_meeting", "村民代表到会"): "joint_meeting.quorum.representatives",
        ("hold_first_meeting", "联席会议同意"): "joint_meeting.adoption",
        ("hold_second_meeting", "党员到会"): "joint_meeting.quorum.party_members",
        ("hold_second_meeting", "村民代表到会"): "joint_meeting.quorum.representatives",
    },
}

# The reconvene branches test the complement of a stated quorum.
COMPLEMENT = {"more_than": "at_most", "at_least": "less_than"}


def fraction_text(value: Fraction) -> str:
    """``Fraction(2, 3)`` → ``"2/3"``, as the rule set writes it."""
    return f"{value.numerator}/{value.denominator}"


@pytest.mark.parametrize("procedure_id", VILLAGE_PROCEDURES[:2])
def test_every_meeting_guard_applies_the_rule_its_rule_set_states(procedure_id: str) -> None:
    """§0, §8: each quorum and adoption guard has the operator and fraction stated under
    rule_set.choices.meetings; each reconvene guard is the exact complement of a stated
    quorum; the only other threshold is the 60 % bar (§5)."""
    procedure = load_procedure(PROCEDURES / f"{procedure_id}.yaml").procedure
    meetings = procedure.rule_set.choices["meetings"]
    complements = {
        (COMPLEMENT[op], fraction)
        for meeting in meetings.values()
        for key, rule in meeting.get("quorum", {}).items()
        if key != "combine"
        for op, fraction in rule.items()
        if op in COMPLEMENT
    }

    seen = set()
    for event_id, g in threshold_guards(procedure_id):
        written = (g.operator, fraction_text(g.fraction))
        where = STATED[procedure_id].get((event_id, g.label))
        if where is None:
            assert written in complements | {("less_than", "3/5")}, (event_id, g.label)
            continue
        rule = meetings
        for part in where.split("."):
            rule = rule[part]
        assert {written[0]: written[1]} == {k: v for k, v in rule.items() if k != "of"}
        seen.add((event_id, g.label))
    assert seen == set(STATED[procedure_id])


# -- describe and graph ---------------------------------------------------------------------


def yishi(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The ``yishi`` command line, run in process from the repository root."""
    return completed(*args, cwd=ROOT, env={"COLUMNS": "200"})


@pytest.mark.parametrize("procedure_id", VILLAGE_PROCEDURES)
def test_each_procedure_validates_strictly_and_describes_itself(procedure_id: str) -> None:
    """validate --strict passes; describe names the procedure, its rule set (citing
    docs/rules.md) and its states."""
    path = PROCEDURES / f"{procedure_id}.yaml"
    title = load_procedure(path).procedure.title

    strict = yishi("validate", "--strict", path)
    described = yishi("describe", path)

    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert described.returncode == 0, described.stderr
    assert title in described.stdout
    assert "docs/rules.md" in described.stdout
    assert described.stderr == ""


@pytest.mark.parametrize("procedure_id", VILLAGE_PROCEDURES)
def test_each_procedure_draws_in_mermaid_and_graphviz(procedure_id: str) -> None:
    """graph gives Mermaid and DOT with every state's label; dot -Tsvg accepts the DOT."""
    path = PROCEDURES / f"{procedure_id}.yaml"
    procedure = load_procedure(path).procedure

    mermaid = yishi("graph", path)
    dot = yishi("graph", path, "--format", "dot")

    assert mermaid.returncode == 0, mermaid.stderr
    assert mermaid.stdout.startswith("stateDiagram-v2\n")
    assert dot.stdout.startswith(f'digraph "{procedure_id}" {{\n')
    for state in procedure.states.values():
        assert f'[label="{state.label}"' in dot.stdout
    program = shutil.which("dot")
    if program is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Graphviz `dot` is missing on CI")
        pytest.skip("Graphviz `dot` is not installed")
    svg = subprocess.run(
        [program, "-Tsvg"], input=dot.stdout, capture_output=True, text=True, check=False
    )
    assert svg.returncode == 0, svg.stderr
    assert "<svg" in svg.stdout
