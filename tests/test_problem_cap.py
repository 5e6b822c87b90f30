"""Problem reports are capped: the first MAX_PROBLEMS in file order, then one "and N more".

A file with 70,000 misspelt keys once returned a 16.5 MB problem list.
"""

from __future__ import annotations

from engine.definition.loader import MAX_PROBLEMS, check_source

HEAD = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: capped
version: "1.0.0"
title: 上限
rule_set:
  name: test
roles:
  clerk:
    label: 文书
initial: s0
states:
  s0:
    label: 开始
"""
TAIL = """\
  s1:
    label: 完成
    final: true
events:
  go:
    label: 走
    roles: [clerk]
    transitions:
      - from: s0
        to: s1
"""


def _with_unknown_keys(count: int, name: str = "lable") -> str:
    return HEAD + "".join(f"    {name}{i}: x\n" for i in range(count)) + TAIL


def test_exactly_the_cap_is_listed_in_full() -> None:
    """Edge: MAX_PROBLEMS problems are all listed, with no closing line."""
    report = check_source(_with_unknown_keys(MAX_PROBLEMS), "capped.yaml")

    assert len(report.problems) == MAX_PROBLEMS
    assert all(p.code != "problems.more" for p in report.problems)


def test_one_more_than_the_cap_ends_with_and_1_more() -> None:
    """Edge: MAX_PROBLEMS + 1 problems list the first MAX_PROBLEMS and "and 1 more problem",
    located where the first omitted one is."""
    report = check_source(_with_unknown_keys(MAX_PROBLEMS + 1), "capped.yaml")

    *shown, last = report.problems
    assert len(shown) == MAX_PROBLEMS
    assert last.code == "problems.more"
    assert last.message.startswith("and 1 more problem from here on (1 error, 0 warnings)")
    assert last.location.line == 14 + MAX_PROBLEMS  # the keys start on line 14
    assert last.severity == "error"
    assert report.counts == (MAX_PROBLEMS + 1, 0)


def test_a_huge_report_stays_small() -> None:
    """60,000 unknown keys (a file just under the 1 MB limit) give a report of
    MAX_PROBLEMS + 1 lines, under 20 KB."""
    report = check_source(_with_unknown_keys(60_000, "k"), "capped.yaml")

    assert len(report.problems) == MAX_PROBLEMS + 1
    assert report.problems[-1].message.startswith("and 59900 more problems")
    assert sum(len(str(p)) for p in report.problems) < 20_000
    assert report.compiled is None
    assert report.counts == (60_000, 0)
