"""What-if replay: the recorded inputs re-executed under an amended procedure version, each
seq whose outcome would change reported with the explanations that changed; nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_support import ROOT, four
from test_cli_run_replay import _yishi
from test_replay_properties import SETTINGS, run_random_case
from whatif_support import (
    amended,
    amended_election,
    amended_election_file,
    election,
    election_run,
    seq_of,
)

from engine.audit.jsonl import write_file
from engine.definition.loader import load_procedure
from engine.runtime.attempt import Runner
from engine.runtime.whatif import what_if

PRESENT_R16 = (
    "黄钰 赞成票 279, 实到会党员 497: 须超过实到会党员的 1/2 (> 248.5) — "
    "赞成票超过实到会有选举权的人数的一半: 符合"
)
EXPECTED_R16 = (
    "黄钰 赞成票 279, 应到会党员 560: 须超过应到会党员的 1/2 (> 280) — "
    "赞成票超过应到会有选举权的人数的一半: 不符合"
)


def test_the_elected_set_changes_at_the_members_vote_with_both_explanations(
    tmp_path: Path,
) -> None:
    """What-if: 279 of 497 present elects under the present base (> 248.5) and not under the
    expected base (> 280): reported at the vote's seq, with both R16 lines and both counts."""
    records = election_run(tmp_path, approvals=279)
    runner = Runner(amended())

    report = what_if(records, runner)

    (case,) = report.cases
    vote = seq_of(records, "members_vote")
    first = case.differences[0]
    assert (first.seq, first.event, first.changes) == (vote, "members_vote", ("count result",))
    assert first.recorded.counts[0]["elected"] == ["黄钰"]
    assert first.amended.counts[0]["elected"] == []
    assert (first.recorded.counts[0]["status"], first.amended.counts[0]["status"]) == (
        "elected",
        "shortfall",
    )
    assert (PRESENT_R16, EXPECTED_R16) in first.explanations
    # nothing before the vote differs
    assert all(d.seq >= vote for d in case.differences)
    announce = case.differences[1]
    assert (announce.seq, announce.changes) == (seq_of(records, "announce_final"), ("transition",))
    assert (announce.recorded.to, announce.amended.to) == ("reported", "members_meeting")
    assert case.final_recorded == "approved"
    assert case.final_amended == "members_meeting"
    assert report.differs


@pytest.mark.parametrize(("approvals", "differs"), [(280, True), (281, False)])
def test_the_expected_base_edge(tmp_path: Path, approvals: int, differs: bool) -> None:
    """What-if at R16's edge under the expected base: 280 of 560 is not more than half, so the
    outcome changes; 281 is, so no seq differs (both bases elect)."""
    records = election_run(tmp_path, approvals=approvals)

    report = what_if(records, Runner(amended()))

    assert report.differs is differs
    assert bool(report.cases[0].differences) is differs


def test_identical_procedure_reports_no_difference_on_the_election(tmp_path: Path) -> None:
    """What-if under the very procedure the case ran under: no seq differs, same final state."""
    records = election_run(tmp_path, approvals=279)

    report = what_if(records, Runner(election()))

    assert not report.differs
    assert report.cases[0].final_amended == report.cases[0].final_recorded == "approved"


@SETTINGS
@given(st.data())
def test_identical_procedure_reports_no_difference_for_any_trail(data: st.DataObject) -> None:
    """What-if, as a property: any generated 四议两公开 trail (refusals, timers, wrong actors,
    bad payloads included) replayed under its own procedure reports no difference."""
    run = run_random_case(data)

    report = what_if(run.records, Runner(four()))

    assert not report.differs, report.as_json()


def test_data_invalid_under_the_amended_schema_stops_at_the_opening(tmp_path: Path) -> None:
    """What-if: initial data the amended data schema rejects cannot open the case; the report
    says so at seq 1 and does not invent later outcomes."""
    text = amended_election(tmp_path).read_text(encoding="utf-8")
    required = "required: [town, plenary_members, expected_members, reconvened"
    text = text.replace(f"{required}]", f"{required}, county]")
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(text, encoding="utf-8")
    records = election_run(tmp_path, approvals=300)

    report = what_if(records, Runner(load_procedure(stricter)))

    (case,) = report.cases
    assert [d.seq for d in case.differences] == [1]
    assert case.differences[0].amended.kind == "not-run"
    assert case.stopped is not None and "county" in case.stopped
    assert case.final_amended is None


def test_cli_prints_a_table_and_json_and_changes_nothing(tmp_path: Path) -> None:
    """yishi replay --under: a readable table naming the seq, both counts and both R16 lines;
    --json the same facts; exit 1 when outcomes differ; the log's bytes are unchanged."""
    log = tmp_path / "election.jsonl"
    write_file(log, election_run(tmp_path, approvals=279))
    before = log.read_bytes()
    amended = amended_election_file()

    table = _yishi("replay", log, "--under", amended)
    as_json = _yishi("replay", log, "--under", amended, "--json")

    assert table.returncode == 1, table.stdout + table.stderr
    for text in ("seq 11 members_vote: count result", "elected 黄钰", "shortfall elected —",
                 f"- {PRESENT_R16}", f"+ {EXPECTED_R16}", "final state: recorded approved",
                 "amended members_meeting (differs)"):  # fmt: skip
        assert text in table.stdout, text
    assert as_json.returncode == 1, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["differs"] is True
    assert body["amended"]["version"] == "2.0.0"
    first = body["cases"][0]["differences"][0]
    assert first["seq"] == 11
    assert {"recorded": PRESENT_R16, "amended": EXPECTED_R16} in first["explanations"]
    assert log.read_bytes() == before


def test_cli_exit_0_when_nothing_differs_and_2_when_the_log_is_broken(tmp_path: Path) -> None:
    """yishi replay --under: exit 0 when no outcome differs; a log that does not verify is not
    compared (exit 2, one line, no traceback)."""
    log = tmp_path / "election.jsonl"
    write_file(log, election_run(tmp_path, approvals=300))
    same = _yishi("replay", log, "--under", amended_election_file())
    lines = log.read_bytes().splitlines(keepends=True)
    (tmp_path / "broken.jsonl").write_bytes(b"".join(lines[:3] + lines[4:]))

    broken = _yishi("replay", tmp_path / "broken.jsonl", "--under", amended_election_file())

    assert same.returncode == 0, same.stdout + same.stderr
    assert "no outcome differs in 1 case(s)" in same.stdout
    assert broken.returncode == 2
    assert "does not verify" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_the_auditing_page_example_is_what_the_cli_prints(tmp_path: Path) -> None:
    """docs/auditing.md: the what-if example is the CLI's output for that trail, line for line
    (from the case line on; the first line names the file given)."""
    text = (ROOT / "docs" / "auditing.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- whatif-example -->\n```text\n(.*?)```", text, re.S)
    assert found is not None
    log = tmp_path / "election.jsonl"
    write_file(log, election_run(tmp_path, approvals=279))

    shown = _yishi("replay", log, "--under", amended_election_file())

    printed = shown.stdout[shown.stdout.index("case ") :]
    assert printed == found.group(1)
