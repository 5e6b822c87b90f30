"""Counting rules inside a procedure: located errors, the new procedures' choices and words."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from engine.definition.loader import SCHEMA_COMMENT, check_source
from engine.guards.arithmetic import parse_fraction

ROOT = Path(__file__).resolve().parent.parent

PROCEDURE = f"""{SCHEMA_COMMENT}
id: counted
version: "1.0.0"
title: 计票
rule_set: {{name: counted}}
counting:
  recall:
    label: 罢免表决
    form: motion
    decide:
      threshold: {{base: voters, more_than: "1/2"}}
  broken:
    label: 坏规则
    form: motion
    decide:
      most_votes: {{}}
roles:
  clerk: {{label: 文书}}
data:
  type: object
  properties:
    result: {{type: object}}
initial: open
states:
  open: {{label: 开放}}
  done: {{label: 结束, final: true}}
events:
  count:
    label: 计票
    roles: [clerk]
    payload:
      type: object
      properties:
        present: {{type: integer}}
    transitions:
      - from: open
        to: done
        actions:
          - count_vote: {{rule: recal, present: payload.present, into: data.result}}
"""


def test_rule_errors_and_unknown_rules_are_located() -> None:
    """validate points at the key of a rule in error and at an action naming an unknown rule."""
    problems = check_source(PROCEDURE, "counted.yaml").problems
    found = {(p.code, p.location.line, p.location.path) for p in problems}
    assert ("counting.rule", 16, "counting.broken.decide") in found
    unknown = [p for p in problems if p.code == "counting.unknown-rule"]
    assert len(unknown) == 1
    assert unknown[0].location.line == 39
    assert "did you mean recall?" in unknown[0].message


def test_appraisal_local_choices_agree_with_its_counting_rule() -> None:
    """The appraisal's recorded local choices are the shares its counting rule applies."""
    raw = yaml.safe_load((ROOT / "procedures" / "party-member-appraisal.yaml").read_text())
    local = raw["rule_set"]["choices"]["local"]
    findings = {f["grade"]: f for f in raw["counting"]["assessment"]["findings"]}
    for key in ("excellent", "examined"):
        choice = local[key]
        finding = findings[choice["grade"]]
        (operator,) = [op for op in ("more_than", "at_least") if op in choice]
        assert parse_fraction(finding[operator]) == parse_fraction(choice[operator])
        assert finding["base"] == "valid"


def test_recall_proxy_cap_agrees_with_its_local_choice() -> None:
    """The recall's proxy cap in its counting rule is the local choice it records."""
    raw = yaml.safe_load((ROOT / "procedures" / "villager-committee-recall.yaml").read_text())
    cap = raw["counting"]["recall"]["proxies"]["cap"]
    assert cap == raw["rule_set"]["choices"]["local"]["proxy_cap"]


def test_new_procedures_use_only_the_general_vocabulary() -> None:
    """The two new procedures count with count_vote only and carry no rulebook's rule numbers."""
    for name in ("villager-committee-recall", "party-member-appraisal"):
        text = (ROOT / "procedures" / f"{name}.yaml").read_text()
        for action in ("tally_round", "reduce_seats", "rank", "score_layers", "survey_rate"):
            assert f"{action}:" not in text
        assert re.search(r"\bR\d+\b", text) is None
        assert "count_vote:" in text
