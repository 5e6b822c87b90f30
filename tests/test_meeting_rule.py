"""meeting_rule: a meeting's rule is written once, in rule_set.choices.meetings, applied by name."""

from __future__ import annotations

import pytest

from engine.definition.loader import SCHEMA_COMMENT, check_source
from engine.guards.kinds.meeting_rule import MeetingRuleCheck

MEETINGS = """
    meetings:
      villagers_meeting:
        label: 村民会议
        quorum:
          combine: any
          adults: {of: 本村十八周岁以上村民, more_than: "1/2"}
          households: {of: 本村户数, at_least: "2/3"}
        adoption: {of: 到会人员, more_than: "1/2"}
      committee:
        label: 委员会
        quorum:
          combine: all
          members: {of: 委员, at_least: "1/2"}
"""


def _procedure(guard: str) -> str:
    return f"""{SCHEMA_COMMENT}
id: meeting
version: "1.0.0"
title: 会议
rule_set:
  name: meeting
  choices:{MEETINGS}
roles:
  clerk: {{label: 文书}}
initial: open
states:
  open: {{label: 开放}}
  done: {{label: 结束, final: true}}
events:
  decide:
    label: 决定
    roles: [clerk]
    payload:
      type: object
      properties:
        adults: {{type: integer}}
        households: {{type: integer}}
        present: {{type: integer}}
        yes: {{type: integer}}
    transitions:
      - from: open
        to: done
        guards:
          - meeting_rule:
{guard}
"""


VILLAGERS = """              meeting: villagers_meeting
              quorum:
                adults: {present: payload.adults, expected: 1000}
                households: {present: payload.households, expected: 300}
              adoption: {yes: payload.yes, of: payload.present}"""


def _check() -> MeetingRuleCheck:
    report = check_source(_procedure(VILLAGERS), "m.yaml")
    assert [str(p) for p in report.problems] == []
    assert report.compiled is not None
    (compiled,) = report.compiled.transitions["decide"]
    (check,) = compiled.guards
    assert isinstance(check, MeetingRuleCheck)
    return check


@pytest.mark.parametrize(
    ("adults", "households", "yes", "present", "passed"),
    [
        (500, 0, 400, 500, False),  # exactly half of the adults, too few households
        (501, 0, 400, 501, True),  # one more than half of the adults
        (0, 200, 150, 200, True),  # exactly two thirds of the households: any one suffices
        (0, 199, 150, 199, False),  # one below two thirds, and no adults
        (600, 0, 300, 600, False),  # quorum met; exactly half of those present is not adoption
        (600, 0, 301, 600, True),
    ],
)
def test_stated_rule_applied_at_its_edges(
    adults: int, households: int, yes: int, present: int, passed: bool
) -> None:
    """The guard applies the stated fractions: any quorum part (or all), then the adoption."""
    env = {"payload": {"adults": adults, "households": households, "yes": yes, "present": present}}
    result = _check().evaluate(env)
    assert result.passed is passed
    assert result.inputs["meeting"] == "villagers_meeting"
    assert result.explanation.startswith("村民会议: ")


def test_unknown_meeting_is_located_with_a_suggestion() -> None:
    """A guard naming a meeting the rule set does not state is reported at the name."""
    guard = "              meeting: villager_meeting\n"
    problems = check_source(_procedure(guard), "m.yaml").problems
    (problem,) = [p for p in problems if p.code == "meeting.unknown"]
    assert problem.location.path.endswith("meeting_rule.meeting")
    assert "did you mean villagers_meeting?" in problem.message


def test_quorum_parts_must_match_the_stated_rule() -> None:
    """Every stated quorum part needs its counts, and the guard may add no other part."""
    guard = """              meeting: committee
              quorum:
                memberz: {present: payload.present, expected: 9}"""
    problems = check_source(_procedure(guard), "m.yaml").problems
    codes = [p.code for p in problems]
    assert codes.count("meeting.quorum-parts") == 2


def test_adoption_needs_a_stated_adoption_rule() -> None:
    """A guard giving adoption counts for a meeting that states no adoption rule is refused."""
    guard = """              meeting: committee
              quorum:
                members: {present: payload.present, expected: 9}
              adoption: {yes: payload.yes, of: payload.present}"""
    problems = check_source(_procedure(guard), "m.yaml").problems
    assert [p.code for p in problems] == ["meeting.adoption"]
