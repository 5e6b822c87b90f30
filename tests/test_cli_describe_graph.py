"""Specification of ``yishi describe``, ``yishi graph`` and ``yishi demo``, run as a user does.

Each test runs the command line in process (``cli_support.completed``): real exit
codes, real stdout and stderr, and never a traceback. The installed ``yishi`` script
(next to the interpreter) is spawned by the smoke test of ``describe``, which checks
that its Chinese output reaches a pipe as UTF-8.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import completed

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
YISHI = Path(sys.executable).with_name("yishi")

# An unknown target state: loads as YAML and passes the schema, fails the semantic checks.
INVALID = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: broken
version: "1"
title: 坏的
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
initial: start
states:
  start:
    label: 开始
  done:
    label: 完成
    final: true
events:
  finish:
    label: 完成
    roles: [clerk]
    transitions:
      - from: start
        to: dnoe
"""


def yishi(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the command line in process with a wide terminal so rich does not wrap lines."""
    return completed(*args, cwd=cwd, env={"COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})


def yishi_script(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the installed ``yishi`` script with a wide terminal so rich does not wrap lines."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [str(YISHI), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    """A procedure with a misspelt target state."""
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID, encoding="utf-8")
    return path


@pytest.mark.subprocess
def test_the_yishi_script_is_installed_next_to_the_interpreter() -> None:
    """The console script the other tests run exists."""
    assert YISHI.exists(), f"{YISHI} is missing: install the package (make install)"


@pytest.mark.subprocess
def test_describe_prints_states_roles_events_and_guards_in_words() -> None:
    """``describe`` exits 0 and shows Chinese labels, deadlines, roles and guard wording
    (from the installed script: its UTF-8 output through a pipe)."""
    result = yishi_script("describe", BUNDLED)

    assert result.returncode == 0, result.stderr
    for text in (
        "四议两公开",
        "拟议",
        "村党支部书记",
        "after 7 calendar days: fires resolution_period_ended (决议公示期满)",
        "from drafting (拟议) → proposed (党支部已提议)",
        "present (payload.present) at least 1/2 of expected",
        "fired by: the deadline timer in resolution_disclosed (决议公开中)",
    ):
        assert text in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(("fmt", "start"), [("mermaid", "stateDiagram-v2\n"), ("dot", "digraph ")])
def test_graph_prints_only_the_diagram_on_stdout(fmt: str, start: str) -> None:
    """``graph --format mermaid|dot`` exits 0 with the diagram alone on stdout."""
    result = yishi("graph", BUNDLED, "--format", fmt)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(start)
    assert "办结" in result.stdout
    assert result.stderr == ""


def test_graph_defaults_to_mermaid() -> None:
    """Without ``--format`` the diagram is Mermaid."""
    result = yishi("graph", BUNDLED)

    assert result.returncode == 0
    assert result.stdout.startswith("stateDiagram-v2\n")


def test_graph_refuses_an_unknown_format_with_exit_2() -> None:
    """An unknown ``--format`` is a usage error: exit 2, the known formats named."""
    result = yishi("graph", BUNDLED, "--format", "svg")

    assert result.returncode == 2
    assert "unknown format 'svg'" in result.stderr
    assert "mermaid" in result.stderr
    assert "dot" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["describe"], ["graph"], ["graph", "--format", "dot"]])
def test_a_missing_file_is_reported_located_with_exit_1(command: list[str], tmp_path: Path) -> None:
    """A missing file gives ``file:1:1: … no such file`` on stderr, exit 1, no traceback."""
    missing = tmp_path / "nope.yaml"

    result = yishi(*command, missing)

    assert result.returncode == 1
    assert f"{missing}:1:1:" in result.stderr
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["describe"], ["graph"], ["graph", "--format", "dot"]])
def test_an_invalid_file_prints_its_located_problems_with_exit_1(
    command: list[str], invalid_file: Path
) -> None:
    """An invalid procedure gives each problem as ``file:line:col: path: message`` (with the
    "did you mean" hint), exit 1, nothing on stdout and no traceback."""
    result = yishi(*command, invalid_file)

    assert result.returncode == 1
    located = [line for line in result.stderr.splitlines() if line.startswith(f"{invalid_file}:")]
    assert any(":25:" in line and "dnoe" in line and "done" in line for line in located), (
        result.stderr
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_demo_runs_the_main_job_end_to_end(tmp_path: Path) -> None:
    """``demo`` validates every bundled procedure, runs every happy-path scenario on a
    SQLite store, and exports an audit log per case that ``yishi verify`` accepts."""
    result = yishi("demo", "--out", tmp_path, cwd=ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list((ROOT / "procedures").glob("*.yaml")))
    scenarios = len(list((ROOT / "procedures" / "examples").glob("*happy-path*.yaml")))
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{count} procedure(s) validated, {scenarios} scenario(s) run on ")
    assert last.endswith(": all good")
    assert "四议两公开" in result.stdout
    audits = sorted(tmp_path.glob("*.audit.jsonl"))
    assert len(audits) == scenarios
    for audit in audits:
        verified = yishi("verify", audit)
        assert verified.returncode == 0, verified.stdout + verified.stderr
