"""Specification: the CLI is a trusted local operator — it names the actor, roles and unit.

The CLI has no tokens: ``yishi case open`` acts as the ``--actor`` with the
roles given by ``--role``, so the procedure's opening roles still apply (an actor with
none is refused, one line, nothing stored), and ``--unit`` sets the case's unit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import completed
from server_support import DATA, PROCEDURE_PATH


def yishi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``yishi`` command line in process with ``args``."""
    return completed(*args, cwd=cwd)


def test_case_open_takes_a_unit_and_shows_it(tmp_path: Path) -> None:
    """case open --unit: the case belongs to the unit; case show --json says which."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    opened = yishi("case", "open", str(PROCEDURE_PATH), "c-1", "--actor", "张书记",
                   "--role", "branch_secretary", "--data", json.dumps(DATA),
                   "--unit", "柳河县/城关镇/柳树村", "--db", db, cwd=tmp_path)  # fmt: skip
    shown = yishi("case", "show", "c-1", "--json", "--db", db, cwd=tmp_path)

    assert opened.returncode == 0, opened.stderr
    assert json.loads(shown.stdout)["unit"] == "柳河县/城关镇/柳树村"


def test_case_open_without_an_opening_role_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    """case open by an actor with no role of the procedure: exit 1, one line, no case."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    refused = yishi("case", "open", str(PROCEDURE_PATH), "c-1", "--actor", "路人",
                    "--data", json.dumps(DATA), "--db", db, cwd=tmp_path)  # fmt: skip
    shown = yishi("case", "show", "c-1", "--db", db, cwd=tmp_path)

    assert refused.returncode == 1
    assert (
        refused.stderr.strip().splitlines() == [refused.stderr.strip()]
        and "路人 may not open a case" in refused.stderr
    )
    assert "Traceback" not in refused.stderr
    assert shown.returncode != 0


def test_case_open_with_a_malformed_unit_is_one_line(tmp_path: Path) -> None:
    """case open --unit with an empty part: exit 1, one line naming the unit."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    refused = yishi("case", "open", str(PROCEDURE_PATH), "c-1", "--actor", "张书记",
                    "--role", "branch_secretary", "--data", json.dumps(DATA),
                    "--unit", "柳河县//柳树村", "--db", db, cwd=tmp_path)  # fmt: skip

    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "柳河县//柳树村" in refused.stderr


def test_describe_names_who_may_open_a_case(tmp_path: Path) -> None:
    """describe: the header says which roles may open a case (all, when opened_by is absent)."""
    shown = completed("describe", PROCEDURE_PATH, cwd=tmp_path, env={"COLUMNS": "400"})

    assert shown.returncode == 0, shown.stderr
    (line,) = [text for text in shown.stdout.splitlines() if "opened by 可立案:" in text]
    assert "branch_secretary (村党支部书记)" in line and "supervision_committee" in line


def test_the_console_width_follows_each_run_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule: a host running several commands in one process gets each at its own width
    (piped output: the terminal's width or ``COLUMNS``, at least 150): the console is not
    fixed by the first command that printed."""
    from engine.cli.output import console

    monkeypatch.setenv("COLUMNS", "300")
    wide = console().width
    monkeypatch.setenv("COLUMNS", "180")
    narrower = console().width

    assert (wide, narrower) == (300, 180)
