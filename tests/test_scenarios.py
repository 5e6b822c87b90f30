"""engine.runtime.scenario: every bundled scenario runs and holds; mismatches are reported.

The example list is a glob, so a scenario added under ``procedures/examples/``
is tested without touching this file. Tests that pin step numbers and messages
use the frozen 1.0.0 copy in ``tests/data/``, so amending the bundled procedure
and its scenario does not break them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from runtime_support import FOUR_PATH, FROZEN_HAPPY_PATH, HAPPY_PATH, ROOT, jcs_hash
from scenario_support import example_run

from engine.definition.strict_yaml import parse_yaml
from engine.runtime.scenario import ScenarioInvalid, load_scenario, run_scenario

EXAMPLES = sorted((ROOT / "procedures" / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    """Scenarios: the glob finds the bundled examples (guards against a moved directory)."""
    assert HAPPY_PATH in EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_scenario_holds(path: Path) -> None:
    """Scenarios: each bundled example runs and every expectation in it holds."""
    result = example_run(path)

    problems = list(result.mismatches) + [m for s in result.steps for m in s.mismatches]
    assert problems == []
    assert result.ok


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_writes_a_sound_chain(path: Path) -> None:
    """Scenarios: the records a run writes are a hash chain, each hash recomputable."""
    result = example_run(path)

    prev = "0" * 64
    for seq, record in enumerate(result.records, start=1):
        assert (record["seq"], record["prev"]) == (seq, prev)
        assert record["hash"] == jcs_hash(record)
        prev = record["hash"]


def test_the_frozen_happy_path_outcomes() -> None:
    """Scenarios: the 1.0.0 happy path reaches closed with 10 applied and 3 refused attempts."""
    result = run_scenario(load_scenario(FROZEN_HAPPY_PATH))

    statuses = [o.status for s in result.steps for o in s.outcomes]
    assert result.final_state == "closed"
    assert (statuses.count("applied"), statuses.count("refused")) == (10, 3)
    assert [r["kind"] for r in result.records].count("timer.fired") == 2
    assert result.opened.record["kind"] == "case.opened"


def _variant(tmp_path: Path, change: Any) -> Path:
    # The strict reader (PyYAML would read the payload key ``yes`` as True); JSON is YAML.
    body = copy.deepcopy(parse_yaml(FROZEN_HAPPY_PATH.read_text(encoding="utf-8"), "happy").value)
    body["procedure"] = str(FOUR_PATH)
    change(body)
    path = tmp_path / "variant.yaml"
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_a_wrong_final_expectation_is_reported(tmp_path: Path) -> None:
    """Scenarios: a wrong final state, data value or count is reported, expected vs got."""

    def wrong(body: dict[str, Any]) -> None:
        body["expect"]["state"] = "rejected"
        body["expect"]["data"]["reconvened"] = 2
        body["expect"]["refused"] = 4

    result = run_scenario(load_scenario(_variant(tmp_path, wrong)))

    assert not result.ok
    assert result.mismatches == (
        "final state: expected rejected, got closed",
        "data.reconvened: expected 2, got 1",
        "refused attempts: expected 4, got 3",
    )


def test_a_wrong_step_expectation_is_reported_with_the_reason(tmp_path: Path) -> None:
    """Scenarios: a step expected to apply that was refused says so, with the refusal; the
    message names the seq the table shows (the case's opening is seq 1) and the step."""

    def wrong(body: dict[str, Any]) -> None:
        body["steps"][1]["expect"] = "applied"
        body["steps"][1]["expect_reason"] = "guards-failed"
        body["steps"][2]["expect_to"] = "deliberated"

    result = run_scenario(load_scenario(_variant(tmp_path, wrong)))

    assert not result.ok
    assert result.steps[1].mismatches == (
        "seq 3, step 2 (propose): expected applied, got refused: 李主任 holds village_director; "
        "propose (党支部提议) may be fired by: branch_secretary (村党支部书记)",
        "seq 3, step 2 (propose): expected reason guards-failed, got not-authorised",
    )
    assert result.steps[1].outcomes[0].seq == 3
    assert result.steps[2].mismatches == (
        "seq 4, step 3 (propose): expected state deliberated, got proposed",
    )


def test_a_wrong_timer_count_is_reported(tmp_path: Path) -> None:
    """Scenarios: a tick expected to fire a different number of timers is reported."""

    def wrong(body: dict[str, Any]) -> None:
        body["steps"][9]["expect_fired"] = 1

    result = run_scenario(load_scenario(_variant(tmp_path, wrong)))

    assert result.steps[9].mismatches == ("step 10 (tick): expected 1 timer(s) to fire, 0 fired",)


def test_a_missing_data_path_is_shown_as_missing(tmp_path: Path) -> None:
    """Scenarios: an expected data path that does not exist is reported as (missing)."""

    def wrong(body: dict[str, Any]) -> None:
        body["expect"]["data"] = {"decisions.9.present": 38}

    result = run_scenario(load_scenario(_variant(tmp_path, wrong)))

    assert result.mismatches == ("data.decisions.9.present: expected 38, got (missing)",)


def test_an_invalid_scenario_file_reports_located_problems(tmp_path: Path) -> None:
    """Scenarios: a scenario breaking its schema raises ScenarioInvalid with file:line:col."""

    def wrong(body: dict[str, Any]) -> None:
        del body["opened_by"]
        body["steps"][0]["evnt"] = "propose"

    path = _variant(tmp_path, wrong)

    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)

    texts = [str(p) for p in caught.value.problems]
    assert any("'opened_by' is a required property" in t for t in texts)
    assert all(t.startswith(f"{path}:") for t in texts)
