"""``yishi run`` and ``yishi replay`` as a user runs them: the command line, run in process.

``cli_support.completed`` gives the same exit status, stdout and stderr as the installed
script without starting an interpreter per command (the subprocess smoke tests live in
test_cli_describe_graph.py, test_cli_sweep.py and test_case_cli.py).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from cli_support import completed
from runtime_support import BUNDLED_PATH, FOUR_PATH, FROZEN_HAPPY_PATH, HAPPY_PATH, ROOT

from engine.audit.chain import seal
from engine.audit.jsonl import read_file, write_file


def _yishi(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return completed(*args, cwd=cwd, env={"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"})


def _wrong_scenario(tmp_path: Path) -> Path:
    """The happy path with a wrong final state: JSON is YAML, and keeps ``yes`` a string key."""
    from engine.definition.strict_yaml import parse_yaml

    body: dict[str, Any] = json.loads(
        json.dumps(parse_yaml(FROZEN_HAPPY_PATH.read_text(encoding="utf-8"), "happy").value)
    )
    body["procedure"] = str(FOUR_PATH)
    body["expect"]["state"] = "rejected"
    path = tmp_path / "wrong.yaml"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def test_run_prints_the_table_writes_a_verified_log_and_exits_0(tmp_path: Path) -> None:
    """yishi run: exit 0, each step in a table, expectations held, audit log written, verified."""
    out = tmp_path / "audit.jsonl"

    result = _yishi("run", FROZEN_HAPPY_PATH, "--audit", out)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "四议两公开 (four-deliberations-two-disclosures 1.0.0)" in result.stdout
    # The table's layout is the CLI's to choose; it must show each step and why.
    for text in ("seq", "event", "outcome", "why", "sign_off", "not-authorised", "支委会到会不足"):
        assert text in result.stdout, text
    assert "final state: closed (办结)" in result.stdout
    assert "✓ every expectation held" in result.stdout
    assert f"audit log: {out} (14 records, verified)" in result.stdout
    assert [r["seq"] for r in read_file(out)] == list(range(1, 15))


def test_run_and_replay_of_the_bundled_happy_path(tmp_path: Path) -> None:
    """yishi run then yishi replay on the bundled procedure and scenario, as they stand: both
    exit 0, and replay reproduces every record the run wrote."""
    out = tmp_path / "audit.jsonl"

    ran = _yishi("run", HAPPY_PATH, "--audit", out)
    replayed = _yishi("replay", out, "--procedure", BUNDLED_PATH)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "✓ every expectation held" in ran.stdout
    count = len(read_file(out))
    assert f"audit log: {out} ({count} records, verified)" in ran.stdout
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"ok: {count} records in 1 case(s) reproduced exactly" in replayed.stdout


def test_run_with_a_wrong_expectation_exits_1_with_the_mismatch(tmp_path: Path) -> None:
    """yishi run: a scenario whose expectation does not hold exits 1 and says what differed."""
    result = _yishi("run", _wrong_scenario(tmp_path))

    assert result.returncode == 1
    assert "✗ final state: expected rejected, got closed" in result.stdout
    assert "every expectation held" not in result.stdout


def test_run_of_a_missing_file_exits_1(tmp_path: Path) -> None:
    """yishi run: a scenario file that does not exist is an error, exit 1."""
    result = _yishi("run", tmp_path / "nope.yaml")

    assert result.returncode == 1
    assert "nope.yaml" in result.stderr


def test_replay_of_the_written_log_exits_0(tmp_path: Path) -> None:
    """yishi replay: the log written by run is reproduced exactly, exit 0."""
    out = tmp_path / "audit.jsonl"
    assert _yishi("run", FROZEN_HAPPY_PATH, "--audit", out).returncode == 0

    result = _yishi("replay", out, "--procedure", FOUR_PATH)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: 14 records in 1 case(s) reproduced exactly" in result.stdout
    # The verdict names the exact procedure text it replayed under.
    sha = hashlib.sha256(FOUR_PATH.read_bytes()).hexdigest()
    assert f"under four-deliberations-two-disclosures 1.0.0 sha256 {sha}" in result.stdout


def test_replay_as_of_prints_the_case_at_that_seq(tmp_path: Path) -> None:
    """yishi replay --as-of SEQ: prints the case's state and data at that seq."""
    out = tmp_path / "audit.jsonl"
    assert _yishi("run", FROZEN_HAPPY_PATH, "--audit", out).returncode == 0

    result = _yishi("replay", out, "--procedure", FOUR_PATH, "--as-of", "4")

    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert (shown["seq"], shown["state"]) == (4, "proposed")
    assert shown["data"]["decisions"] == [
        {"step": "propose", "present": 4, "yes": 3, "adopted": True}
    ]


def test_replay_of_a_tampered_log_exits_1(tmp_path: Path) -> None:
    """yishi replay: a log edited after writing fails (it no longer verifies), exit 1."""
    out = tmp_path / "audit.jsonl"
    assert _yishi("run", FROZEN_HAPPY_PATH, "--audit", out).returncode == 0
    text = out.read_text(encoding="utf-8")
    out.write_text(text.replace('"yes":3', '"yes":1', 1), encoding="utf-8")

    result = _yishi("replay", out, "--procedure", FOUR_PATH)

    assert result.returncode == 1
    assert "does not verify" in result.stdout


def test_replay_of_a_resealed_forgery_exits_1_naming_the_seq(tmp_path: Path) -> None:
    """yishi replay: a forgery with every hash recomputed verifies, but replay finds it."""
    out = tmp_path / "audit.jsonl"
    assert _yishi("run", FROZEN_HAPPY_PATH, "--audit", out).returncode == 0
    records = read_file(out)
    records[3]["to"] = "deliberated"  # seq 4: claim the proposal skipped a step
    prev = records[2]["hash"]
    for index in range(3, len(records)):
        records[index] = seal(records[index], prev)
        prev = records[index]["hash"]
    write_file(out, records)
    assert _yishi("verify", out).returncode == 0

    result = _yishi("replay", out, "--procedure", FOUR_PATH)

    assert result.returncode == 1
    assert "replay diverges at case 2024-柳树村-道路硬化 seq 4: " in result.stdout
    assert '"to": "deliberated"' in result.stdout


def test_replay_without_the_procedure_version_exits_1(tmp_path: Path) -> None:
    """yishi replay: when the named procedure version is not given, say so and exit 1."""
    out = tmp_path / "audit.jsonl"
    assert _yishi("run", FROZEN_HAPPY_PATH, "--audit", out).returncode == 0
    changed = tmp_path / "changed.yaml"
    changed.write_text(FOUR_PATH.read_text(encoding="utf-8") + "\n# amended\n", encoding="utf-8")

    result = _yishi("replay", out, "--procedure", changed)

    assert result.returncode == 1
    assert "that exact source was not given" in result.stderr


def test_run_on_a_missing_file_names_it_once(tmp_path: Path) -> None:
    """A missing scenario is one located line, the path said once, exit 1, no traceback."""
    missing = tmp_path / "nowhere.yaml"
    result = _yishi("run", missing)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{missing}:1:1: no such file"


def test_run_on_a_procedure_says_it_wants_a_scenario() -> None:
    """Handing ``run`` a procedure file gets one clear message, not the scenario schema's
    list of missing keys."""
    procedure = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
    result = _yishi("run", procedure)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "this is a procedure, not a scenario" in lines[0]
    assert lines[0].startswith(f"{procedure}:2:1: ")
