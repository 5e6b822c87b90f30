"""``yishi run``'s table: long explanations fold onto further lines (never cut with "…"),
and each CEL guard shows the values it read, bounded in count and length."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from runtime_support import FOUR_PATH, FROZEN_HAPPY_PATH

from engine.cli import run_cmd
from engine.definition.strict_yaml import parse_yaml
from engine.runtime.scenario import load_scenario, run_scenario

LONG = "赞成票不超过到会人数" * 12  # 120 characters without a space: one "word" to rich


def _shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, change: Any = None) -> str:
    """The table ``show`` prints for a variant of the frozen happy path, at ``width``."""
    procedure = tmp_path / "procedure.yaml"
    text = FOUR_PATH.read_text(encoding="utf-8")
    procedure.write_text(
        text.replace("explain: 赞成票不超过到会人数", f"explain: {LONG}"), encoding="utf-8"
    )
    body = copy.deepcopy(parse_yaml(FROZEN_HAPPY_PATH.read_text(encoding="utf-8"), "h").value)
    body["procedure"] = str(procedure)
    if change is not None:
        change(body)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    screen = Console(width=width, record=True, highlight=False, color_system=None)
    monkeypatch.setattr(run_cmd, "console", lambda: screen)
    run_cmd.show(run_scenario(load_scenario(scenario)))
    return screen.export_text()


def _why_column(table: str) -> str:
    """The text of the table's last column, its folded lines joined back together."""
    cells = [line.split("│")[-2] for line in table.splitlines() if line.count("│") >= 6]
    return "".join(cell.strip() for cell in cells)


@pytest.mark.parametrize("width", [80, 150])
def test_a_long_explanation_folds_and_is_never_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """An explanation longer than its column (120 characters, no space) is shown whole
    over several lines, at a narrow and at the piped width; no "…" appears."""
    table = _shown(tmp_path, monkeypatch, width)

    assert "…" not in table
    assert f"{LONG}: holds" in _why_column(table)


def test_a_cel_guard_shows_the_values_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under an applied CEL guard: the paths it read and their values."""
    table = _shown(tmp_path, monkeypatch, 200)

    assert "read: payload.present = 4; payload.yes = 3" in _why_column(table)


def test_a_failed_cel_guard_shows_the_values_that_failed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal by guards shows the reads of each failing CEL guard, so the reader sees
    why 9 yes votes of 4 present do not hold."""

    def more_yes_than_present(body: dict[str, Any]) -> None:
        body["steps"][2]["payload"] = {"present": 4, "yes": 9}

    table = _shown(tmp_path, monkeypatch, 200, more_yes_than_present)
    why = _why_column(table)

    assert "[guards-failed]" in why
    assert "read: payload.present = 4; payload.yes = 9" in why


def test_reads_are_bounded_in_count_and_length() -> None:
    """At most MAX_READS values, then "and N more"; a value longer than MAX_VALUE_CHARS
    shows its start and its full length; guards other than CEL show no reads."""
    reads = {f"data.f{i}": i for i in range(run_cmd.MAX_READS + 3)}
    reads["data.f0"] = "长" * 500
    guard = {"kind": "cel", "inputs": {"reads": reads}}

    (line,) = run_cmd._reads_lines(guard)

    assert line.endswith("; and 3 more")
    assert line.count(" = ") == run_cmd.MAX_READS
    assert f'data.f0 = "{"长" * (run_cmd.MAX_VALUE_CHARS - 1)}… (502 characters)' in line
    assert run_cmd._bounded("短") == '"短"'
    assert len(run_cmd._bounded("长" * 500)) < run_cmd.MAX_VALUE_CHARS + 20
    assert run_cmd._reads_lines({"kind": "threshold", "inputs": {"reads": reads}}) == []
    assert run_cmd._reads_lines({"kind": "cel", "inputs": {"reads": {}}}) == []
