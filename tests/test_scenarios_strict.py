"""Strict scenarios: a step expects ``applied`` unless it says otherwise, names are checked
before anything runs, and a scenario may start ``from`` another ``until`` a seq.

The tests build variants of the frozen 1.0.0 happy path in a temporary directory (JSON is
YAML), so the bundled procedure can change without moving the numbers pinned here.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_support import completed
from runtime_support import FOUR_PATH, FROZEN_HAPPY_PATH, ROOT

from engine.definition.strict_yaml import parse_yaml
from engine.runtime.scenario import ScenarioInvalid, load_scenario, run_scenario

EXAMPLES = ROOT / "procedures" / "examples"


def _happy() -> dict[str, Any]:
    body = parse_yaml(FROZEN_HAPPY_PATH.read_text(encoding="utf-8"), "happy").value
    body = copy.deepcopy(body)
    body["procedure"] = str(FOUR_PATH)
    return body


def _write(path: Path, body: dict[str, Any]) -> Path:
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _yishi(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return completed(*args, env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})


# --- a step without expect expects applied ------------------------------------------------


def test_a_refused_step_without_expect_is_a_mismatch(tmp_path: Path) -> None:
    """A step that is refused and says nothing about it fails: no expect means applied."""
    body = _happy()
    del body["steps"][1]["expect"]  # 李主任 may not propose: refused
    result = run_scenario(load_scenario(_write(tmp_path / "s.yaml", body)))

    assert not result.ok
    assert (
        result.steps[1]
        .mismatches[0]
        .startswith(
            "seq 3, step 2 (propose): expected applied (a step without expect must be applied), "
            "got refused: 李主任 holds village_director"
        )
    )


def test_an_applied_step_without_expect_holds(tmp_path: Path) -> None:
    """The other side of the default: an applied step without expect is no mismatch."""
    body = _happy()
    del body["steps"][0]["expect"]
    result = run_scenario(load_scenario(_write(tmp_path / "s.yaml", body)))

    assert result.steps[0].mismatches == ()
    assert result.ok


def test_yishi_run_exits_1_on_a_refused_step_without_expect(tmp_path: Path) -> None:
    """``yishi run`` fails (exit 1) and prints the step, by the seq its table shows."""
    body = _happy()
    del body["steps"][1]["expect"]
    done = _yishi("run", _write(tmp_path / "s.yaml", body))

    assert done.returncode == 1
    assert "✗ seq 3, step 2 (propose): expected applied" in done.stdout
    assert "every expectation held" not in done.stdout


# --- names checked before running ---------------------------------------------------------


def _misspelt(body: dict[str, Any]) -> None:
    body["actors"]["director"]["roles"] = ["village_directr"]
    body["data"]["representativs"] = 57
    body["steps"][2]["event"] = "propse"
    body["steps"][3]["actor"] = "secretery"
    body["steps"][3]["expect_to"] = "deliberatd"
    body["steps"][0]["payload"]["yess"] = 1
    body["expect"]["state"] = "closd"
    body["expect"]["data"]["sign_of"] = "x"


def test_every_unknown_name_is_reported_at_once_with_its_location(tmp_path: Path) -> None:
    """Events, states, actors, roles, data and payload fields are checked against the
    procedure before the case opens, every problem at once, each with file:line:col and
    a suggestion."""
    body = _happy()
    _misspelt(body)
    path = _write(tmp_path / "s.yaml", body)

    with pytest.raises(ScenarioInvalid) as caught:
        run_scenario(load_scenario(path))

    texts = [p.message for p in caught.value.problems]
    assert sorted(texts) == sorted(
        [
            "unknown role 'village_directr'; did you mean 'village_director'?",
            "unknown data field 'representativs'; did you mean 'representatives'?",
            "unknown payload field 'yess'; did you mean 'yes'?",
            "unknown event 'propse'; did you mean 'propose'?",
            "unknown actor 'secretery'; did you mean 'secretary'?",
            "unknown state 'deliberatd'; did you mean 'deliberated'?",
            "unknown state 'closd'; did you mean 'closed'?",
            "unknown data field 'sign_of'; did you mean 'sign_off'?",
        ]
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    for problem in caught.value.problems:
        where = problem.location
        assert where.file == str(path)
        assert where.line >= 1
        assert where.path
        written = lines[where.line - 1][where.column - 1 :]
        name = problem.message.split("'")[1]
        assert written.lstrip('"').startswith(name), (problem, written)


def test_yishi_run_reports_every_unknown_name_and_runs_nothing(tmp_path: Path) -> None:
    """``yishi run`` exits 1 with every located problem and writes no audit log."""
    body = _happy()
    _misspelt(body)
    path = _write(tmp_path / "s.yaml", body)
    audit = tmp_path / "out.jsonl"

    done = _yishi("run", path, "--audit", audit)

    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert output.count(f"{path}:") == 8
    assert "unknown event 'propse'" in output
    assert not audit.exists()


def test_a_scenario_with_correct_names_has_no_name_problems(tmp_path: Path) -> None:
    """The check does not reject what the procedure declares (the frozen happy path)."""
    result = run_scenario(load_scenario(_write(tmp_path / "s.yaml", _happy())))
    assert result.ok


# --- from / until -------------------------------------------------------------------------


def _base_and_edge(tmp_path: Path, until: int, rest: int) -> tuple[Path, Path]:
    """The happy path as a base, and a scenario starting from it until ``until`` with the
    last ``rest`` steps of the happy path as its own."""
    body = _happy()
    base = _write(tmp_path / "base.yaml", body)
    edge = {
        "from": "base.yaml",
        "until": until,
        "steps": body["steps"][len(body["steps"]) - rest :],
        "expect": body["expect"],
    }
    return base, _write(tmp_path / "edge.yaml", edge)


def test_a_scenario_from_another_until_a_seq_runs_exactly_the_same_case(tmp_path: Path) -> None:
    """Starting from the happy path until seq 10 (after step 9) and adding its last 5 steps
    writes the very same records as the happy path itself: same chain, same hashes."""
    base, edge = _base_and_edge(tmp_path, until=10, rest=5)

    whole = run_scenario(load_scenario(base))
    derived = run_scenario(load_scenario(edge))

    assert derived.ok
    assert derived.records == whole.records
    assert [s.inherited_from for s in derived.steps] == ["base.yaml"] * 9 + [""] * 5
    assert derived.steps[8].outcomes[-1].seq == 10


def test_until_past_the_end_of_the_base_is_refused(tmp_path: Path) -> None:
    """until must be a seq the base's run reaches (the frozen happy path ends at seq 14)."""
    _, edge = _base_and_edge(tmp_path, until=15, rest=0)

    with pytest.raises(ScenarioInvalid) as caught:
        run_scenario(load_scenario(edge))

    assert [p.message for p in caught.value.problems] == [
        "base.yaml ends at seq 14: until must be a seq its run reaches"
    ]
    assert caught.value.problems[0].location.path == "until"


def test_with_from_the_inherited_keys_may_not_be_given_again(tmp_path: Path) -> None:
    """procedure, opened_at, opened_by and data come from the base: repeating one is refused
    (a different value would change the inherited steps); case may differ."""
    _, edge = _base_and_edge(tmp_path, until=10, rest=5)
    body = json.loads(edge.read_text(encoding="utf-8"))
    body["data"] = {"matter": "x"}
    body["case"] = "another-case"
    _write(edge, body)

    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(edge)

    assert [p.message for p in caught.value.problems] == [
        "'data' comes from the scenario this one starts from (base.yaml): remove it here"
    ]
    del body["data"]
    derived = run_scenario(load_scenario(_write(edge, body)))
    assert derived.opened.case == "another-case"
    assert derived.ok


def test_from_needs_until_and_without_from_the_case_is_required(tmp_path: Path) -> None:
    """The schema: from goes with until; a scenario without from names its procedure, case,
    opening and data."""
    no_until = _write(tmp_path / "a.yaml", {"from": "base.yaml", "steps": []})
    no_case = _happy()
    del no_case["case"]

    with pytest.raises(ScenarioInvalid) as first:
        load_scenario(no_until)
    with pytest.raises(ScenarioInvalid) as second:
        load_scenario(_write(tmp_path / "b.yaml", no_case))

    assert [p.message for p in first.value.problems] == ["'until' is a required property"]
    assert [p.message for p in second.value.problems] == ["'case' is a required property"]


def test_a_chain_or_a_cycle_of_from_is_refused(tmp_path: Path) -> None:
    """from names a scenario with all its steps: one that starts from another (a chain, or
    itself, a cycle) is refused at the from line, so loading always ends."""
    _, edge = _base_and_edge(tmp_path, until=10, rest=5)
    chained = _write(tmp_path / "chained.yaml", {"from": "edge.yaml", "until": 11, "steps": []})
    selfish = _write(tmp_path / "self.yaml", {"from": "self.yaml", "until": 1, "steps": []})

    for path, base in [(chained, "edge.yaml"), (selfish, "self.yaml")]:
        with pytest.raises(ScenarioInvalid) as caught:
            load_scenario(path)
        (problem,) = caught.value.problems
        assert problem.code == "scenario.from-chain"
        assert problem.location.path == "from"
        assert base in problem.message
    assert edge.exists()


def test_bundled_edge_scenarios_start_from_a_happy_path() -> None:
    """The bundled edge cases do not repeat a happy path's steps: at least 15 start from
    another scenario, and every scenario they start from has all its own steps."""
    starting = [p for p in sorted(EXAMPLES.glob("*.yaml")) if "from" in load_scenario(p).doc.value]

    assert len(starting) >= 15
    for path in starting:
        scenario = load_scenario(path)
        assert scenario.inherited
        assert scenario.until is not None
