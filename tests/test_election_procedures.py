"""The 三荐一审两会两票决 and 三票制 procedures reproduce the seed's figures in their audit records.

The scenarios under ``procedures/examples/`` run in ``test_scenarios.py``; this module reads the
records they write and checks the numbers a reader of the seed would look for: the 75 applicants
by route, the trust-vote puzzle (32 of 33 = 96.97 against 19 of 19 = 100.00), the 497-member
round and its explanation, and that ``yishi run`` prints every round's counts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_support import completed
from scenario_support import example_run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "procedures" / "examples"
THREE_BALLOT = EXAMPLES / "three-ballot-system-happy-path.yaml"
THREE_NOMINATIONS = EXAMPLES / "three-nominations-one-review-happy-path.yaml"


def _outputs(path: Path, action: str) -> list[dict[str, Any]]:
    """Every output of ``action`` in the audit records of the scenario at ``path``, in order."""
    result = example_run(path)
    assert result.ok
    return [
        a["output"]
        for record in result.records
        for a in record.get("actions", [])
        if a["name"] == action
    ]


def test_the_trust_vote_puzzle_is_reproduced_in_the_scores() -> None:
    """§3: 黄钰 32 of 33 scores 96.97 and 任参 19 of 19 scores 100.00, exact fractions kept."""
    (scoring,) = _outputs(THREE_BALLOT, "score_layers")
    trust = {s["name"]: s["trust"] for s in scoring["scores"]}

    assert (trust["黄钰"]["yes"], trust["黄钰"]["base"]) == (32, 33)
    assert (trust["黄钰"]["rate"], trust["黄钰"]["rate_display"]) == ("3200/33", "96.97")
    assert (trust["任参"]["rate"], trust["任参"]["rate_display"]) == ("100/1", "100.00")
    assert any("trust 32/33=96.97×1/10" in line for line in scoring["explanation"])


def test_the_structured_recommendation_selects_five_and_compares_rules() -> None:
    """§3: top 5 by the seed's weights; the roster rule scores the same ballots differently."""
    (scoring,) = _outputs(THREE_BALLOT, "score_layers")

    assert scoring["selected"] == ["黄钰", "王建国", "李明", "任参", "陈静"]
    assert scoring["scores"][0]["composite_display"] == "89.97"
    by_roster = {s["name"]: s["trust"] for s in scoring["compare"][0]["scores"]}
    # Per unit roster (35 and 22) the puzzle reverses: 91.43 against 86.36.
    assert by_roster["黄钰"]["rate_display"] == "91.43"
    assert by_roster["任参"]["rate_display"] == "86.36"


def test_the_497_member_round_counts_and_explains() -> None:
    """The members' count (1990 preset): 497 issued and returned, 9 invalid, 黄钰 310 > 248.5
    elected, 李明 173 not; the plenary takes the 2 with most votes."""
    plenary, final = _outputs(THREE_BALLOT, "count_vote")

    assert (plenary["most_votes"], plenary["elected"], plenary["ballots"]["invalid"]) == (
        True, ["黄钰", "李明"], 1,
    )  # fmt: skip
    assert final["people"]["voters"] == 497
    ballots = final["ballots"]
    assert (ballots["issued"], ballots["returned"]) == (497, 497)
    assert (ballots["valid"], ballots["invalid"], ballots["blank"]) == (488, 9, 5)
    votes = {c["name"]: (c["votes"], c["disapprove"], c["abstain"]) for c in final["counts"]}
    assert votes == {"黄钰": (310, 170, 8), "李明": (173, 300, 15)}
    assert final["checks"]["黄钰"]["bound"] == "497/2"
    assert final["elected"] == ["黄钰"]
    assert "黄钰: 赞成 310, 不赞成 170, 弃权 8" in final["explanation"]
    assert (
        "黄钰 赞成票 310, 实到会党员 497: 须超过实到会党员的 1/2 (> 248.5) — "
        "赞成票超过实到会有选举权的人数的一半: 符合"
    ) in final["explanation"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("three-ballot-system-*.yaml")), ids=str)
def test_three_ballot_records_speak_their_own_words(path: Path) -> None:
    """三票制 counts with its own rules and the party-election preset: no record of any of its
    scenarios carries an internal rule number (R1–R20) or a tally_round/reduce_seats call."""
    result = example_run(path)
    assert result.ok
    text = json.dumps(result.records, ensure_ascii=False)
    assert re.search(r"\bR\d+\b", text) is None
    names = {a["name"] for r in result.records for a in r.get("actions", [])}
    assert not names & {"tally_round", "reduce_seats"}


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("three-nominations-one-review-*.yaml")), ids=str
)
def test_three_nominations_counts_speak_the_rulebooks_words(path: Path) -> None:
    """三荐一审 counts every round with count_vote (the 1990 preset) and reduces seats with
    decide_seat_reduction; no record of any of its scenarios (counts, slate checks,
    attendance, exclusions, the recommendation meeting's ranking, guards, refusals) carries
    an internal rule number: docs/rules.md's R-numbers are that document's, never a record's."""
    result = example_run(path)
    assert result.ok
    assert re.search(r"\bR\d+\b", json.dumps(result.records, ensure_ascii=False)) is None
    names = {a["name"] for r in result.records for a in r.get("actions", [])}
    assert not names & {"tally_round", "reduce_seats"}


def test_the_eligibility_review_names_each_failed_condition() -> None:
    """三票制: 18 registered, 孙强 (43) and 何平 (no civil-servant status) are not eligible."""
    (review,) = _outputs(THREE_BALLOT, "check_eligibility")

    assert len(review["results"]) == 18
    assert review["ineligible"] == ["孙强", "何平"]
    assert "孙强: 不符合: 年龄42周岁以下 (age = 43, 应 ≤ 42)" in review["explanation"]


def test_the_three_routes_are_counted_as_in_the_seed() -> None:
    """三荐: 75 applicants, 40 self, 10 organisation, 25 joint."""
    result = example_run(THREE_NOMINATIONS)

    assert result.final_state == "approved"
    counts = next(
        a["output"]["value"]
        for r in result.records
        for a in r["actions"]
        if a["name"] == "set" and a["params"]["path"] == "data.nomination_counts"
    )
    assert counts == {"self": 40, "organisation": 10, "joint": 25, "total": 75}


def test_the_election_meeting_applies_r1_to_r3() -> None:
    """三荐: 47 full members less 2 approved exclusions = 45 expected; 40 present ≥ 36."""
    (attendance,) = _outputs(THREE_NOMINATIONS, "count_attendance")

    assert (attendance["voters"], attendance["expected"], attendance["present"]) == (47, 45, 40)
    assert [e["member"] for e in attendance["excluded"]] == ["m46", "m47"]
    assert attendance["non_voting_present"] == ["m48"]
    assert attendance["quorum"]["met"] is True
    assert (
        attendance["quorum"]["explanation"]
        == "到会党员不少于应到会党员的五分之四: 40 present of 45 expected ≥ 4/5 (36): met"
    )


def test_posts_are_uncontested_then_contested() -> None:
    """R6–R8: secretary and deputy 1 candidate each, committee 7 for 5 seats, by strokes."""
    slates = _outputs(THREE_NOMINATIONS, "check_slate")

    assert [s["slate"]["contest"] for s in slates] == ["uncontested", "uncontested", "contested"]
    committee = slates[2]
    assert (committee["slate"]["candidates"], committee["slate"]["required"]) == (7, 6)
    assert committee["ballot_order"]["order"] == "strokes"


@pytest.mark.parametrize(
    ("scenario", "needle"),
    [
        ("write-in-and-further-round", "另选他人当选，须经审查: 王国庆"),
        ("void-round-and-tie-revote", "选举收回的选票多于投票人数，选举无效，应当重新选举"),
    ],
)
def test_failure_branches_are_explained(scenario: str, needle: str) -> None:
    """The void round and the elected write-in are said in the count's explanation, in the
    party-election preset's words."""
    rounds = _outputs(EXAMPLES / f"three-nominations-one-review-{scenario}.yaml", "count_vote")

    assert any(needle in line for r in rounds for line in r["explanation"])


def test_yishi_run_prints_every_rounds_counts_and_explanations(tmp_path: Path) -> None:
    """yishi run (三票制): from registration to the elected secretary, each round's counts shown."""
    audit = tmp_path / "audit.jsonl"

    done = completed("run", THREE_BALLOT, "--audit", audit, env={"COLUMNS": "240"})

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for text in (
        "审查 18 人: 符合 16 人, 不符合 2 人",
        "trust 32/33=96.97×1/10",
        "trust 19/19=100.00×1/10",
        "全委会到会: 30 present of 35 expected ≥ 2/3",
        "有效票 29 张 (空白票 1 张), 无效票 1 张",
        "黄钰: 赞成 20, 反对 0, 弃权 9",
        "党员大会到会: 497 present of 560 expected ≥ 4/5 (448): met",
        "发出选票 497 张, 收回选票 497 张",
        "须超过实到会党员的 1/2 (> 248.5)",
        "黄钰: 赞成 310, 不赞成 170, 弃权 8",
        "李明: 赞成 173, 不赞成 300, 弃权 15",
        "final state: approved",
        "verified",
    ):
        assert text in out, text
