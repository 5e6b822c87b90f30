"""Shared material for what-if and migration tests: the secretary election decided under the
present-based majority (the 1990 rules' base), and the same procedure amended to the
expected-based majority, both derived from the bundled text so they follow its changes."""

from __future__ import annotations

import copy
import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

from compile_cache import fixed_folder
from runtime_support import ROOT

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure, load_source
from engine.definition.strict_yaml import parse_yaml
from engine.runtime.clock import parse_time
from engine.runtime.engine import Engine
from engine.runtime.scenario import load_scenario, run_scenario
from engine.runtime.types import Actor

ELECTION = ROOT / "procedures" / "three-ballot-system.yaml"
ELECTION_HAPPY = ROOT / "procedures" / "examples" / "three-ballot-system-happy-path.yaml"
PRESENT = 497
EXPECTED = 560


def amended_election(tmp_path: Path, version: str = "2.0.0") -> Path:
    """The election under the 2020 rules: the members' count takes the 2020 preset, whose
    "more than half" is of the members expected (应到会), not of those present (1990)."""
    text = ELECTION.read_text(encoding="utf-8")
    assert text.count("preset: party-election-1990") == 1, "the bundled election changed"
    text = text.replace("preset: party-election-1990", "preset: party-election-2020")
    current = election().procedure.version
    text = text.replace(f'version: "{current}"', f'version: "{version}"', 1)
    path = tmp_path / f"three-ballot-system-{version}.yaml"
    path.write_text(text, encoding="utf-8")
    copy_templates(tmp_path)
    return path


@cache
def amended_election_file(version: str = "2.0.0") -> Path:
    """``amended_election`` written once per test process into a folder no test changes
    (``compile_cache.fixed_folder``): the CLI runs given its path check it once per
    process, not a second of CEL and template checks each."""
    return amended_election(fixed_folder("yishi-amended-"), version)


@cache
def amended(version: str = "2.0.0") -> CompiledProcedure:
    """``amended_election`` compiled once per test process (a compiled procedure is frozen,
    so shared)."""
    return load_procedure(amended_election_file(version))


def copy_templates(directory: Path) -> None:
    """The bundled document templates beside a copied procedure (they are read relative to it)."""
    shutil.copytree(ELECTION.parent / "templates", directory / "templates", dirs_exist_ok=True)


def election_run(tmp_path: Path, approvals: int) -> list[dict[str, Any]]:
    """The happy path with 黄钰 given ``approvals`` approvals of 497 ballots (李明 the rest
    of the two-way ballots), recorded under the bundled present-based rules."""
    body = election_body(approvals)
    body["procedure"] = str(ELECTION)
    for step in body["steps"]:
        step.pop("expect_to", None)
    body.pop("expect", None)
    path = tmp_path / f"election-{approvals}.yaml"
    text = json.dumps(body, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return copy.deepcopy(_records(text, path))


_RUNS: dict[str, list[dict[str, Any]]] = {}
"""The records of each scenario text run so far: the election takes a second or more to
run, and several tests read the same run (each gets its own deep copy)."""


def _records(text: str, path: Path) -> list[dict[str, Any]]:
    """The records of the scenario ``text`` (written at ``path``), run once per process."""
    if text not in _RUNS:
        _RUNS[text] = [dict(r) for r in run_scenario(load_scenario(path)).records]
    return _RUNS[text]


def election_body(approvals: int = 300) -> dict[str, Any]:
    """The happy-path scenario's body with 黄钰 given ``approvals`` approvals of 497 ballots."""
    body: dict[str, Any] = json.loads(
        json.dumps(parse_yaml(ELECTION_HAPPY.read_text(encoding="utf-8"), "happy").value)
    )
    for step in body["steps"]:
        if step["event"] == "members_vote":
            set_approvals(step["payload"], approvals)
    return body


def set_approvals(payload: dict[str, Any], approvals: int) -> None:
    """Give 黄钰 ``approvals`` approvals in a members_vote payload of 497 ballots."""
    ballots = payload["ballots"]
    # 黄钰 also gets 10 approvals from a one-mark ballot (the 9 marking both are
    # over-marked, invalid); 497 ballots in all.
    ballots[0]["count"] = approvals - 10
    ballots[1]["count"] = 470 - ballots[0]["count"]


def drive(engine: Engine, case: str, body: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    """Fire scenario ``steps`` on ``case``; each must apply."""
    for step in steps:
        who = Actor.of(body["actors"][step["actor"]])
        outcome = engine.fire(case, step["event"], actor=who, payload=step.get("payload", {}),
                              at=parse_time(step["at"]))  # fmt: skip
        assert outcome.applied, (step["event"], outcome.reason)


def open_election(engine: Engine, case: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Open ``case`` under the bundled election and take every step before the members' vote;
    return the steps from the vote on."""
    engine.open_case(election(), case, body["data"], actor=Actor.of(body["actors"]["group"]),
                     at=parse_time(body["opened_at"]))  # fmt: skip
    steps = body["steps"]
    vote = next(i for i, s in enumerate(steps) if s["event"] == "members_vote")
    drive(engine, case, body, steps[:vote])
    return [dict(s) for s in steps[vote:]]


def renumbered(version: str) -> CompiledProcedure:
    """The bundled election under another version number, text otherwise unchanged."""
    current = election().procedure
    text = current.source.replace(f'version: "{current.version}"', f'version: "{version}"', 1)
    return load_source(text, f"<{version}>")


@cache
def election() -> CompiledProcedure:
    """The bundled election, compiled once per test process (compiling it, its CEL and its
    document templates costs a second; a compiled procedure is frozen, so sharing is safe)."""
    return load_procedure(ELECTION)


def seq_of(records: list[dict[str, Any]], event: str) -> int:
    """The seq of the first record of ``event``."""
    return next(int(r["seq"]) for r in records if r["event"] == event)
