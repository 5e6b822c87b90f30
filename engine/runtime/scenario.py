"""Scenarios: dry runs of a procedure, and how procedures are tested.

A scenario names a procedure file, a case id, initial data and a list of steps
(attempts, or ``tick`` to fire due timers), with optional expectations per step
and at the end. Running one gives every outcome, the audit records and the
list of expectations that did not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure, read_source
from engine.definition.strict_yaml import Document, YamlProblems, format_path, parse_yaml
from engine.errors import EngineError, Forbidden, Problem, ProcedureInvalid
from engine.runtime.clock import FixedClock, parse_time
from engine.runtime.engine import Engine
from engine.runtime.types import Actor, Outcome
from engine.schemas import load_schema
from engine.storage.base import Store


class ScenarioInvalid(ProcedureInvalid):
    """A scenario file has problems (located like a procedure's)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A checked scenario file."""

    file: str
    procedure_path: Path
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """One step and what became of it."""

    index: int
    step: Mapping[str, Any]
    outcomes: tuple[Outcome, ...]
    mismatches: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioResult:
    """Everything a scenario run produced."""

    scenario: Scenario
    procedure: CompiledProcedure
    opened: Outcome
    steps: tuple[StepResult, ...]
    records: tuple[dict[str, Any], ...]
    final_state: str
    final_data: Mapping[str, Any]
    mismatches: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not any(s.mismatches for s in self.steps)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file.

    Raises:
        ProcedureError: when the file cannot be read.
        ScenarioInvalid: with every located problem.
    """
    file = str(path)
    source = read_source(path)
    try:
        doc = parse_yaml(source, file)
    except YamlProblems as exc:
        raise ScenarioInvalid(exc.problems) from exc
    if isinstance(doc.value, dict) and {"states", "events"} <= set(doc.value):
        raise ScenarioInvalid(
            [
                Problem(
                    location=doc.locate(()),
                    message="this is a procedure, not a scenario: yishi run takes a scenario "
                    "that names a procedure (see procedures/examples/); check a procedure "
                    "with yishi validate",
                    code="scenario.is-procedure",
                )
            ]
        )
    validator = Draft202012Validator(load_schema("scenario.schema.json"))
    problems = [
        Problem(
            location=doc.locate(tuple(error.absolute_path)),
            message=error.message,
            code=f"scenario.{error.validator}",
        )
        for error in validator.iter_errors(doc.value)
    ]
    if problems:
        raise ScenarioInvalid(problems)
    problems = _time_problems(doc)
    if problems:
        raise ScenarioInvalid(problems)
    procedure_path = (Path(path).parent / doc.value["procedure"]).resolve()
    return Scenario(file=file, procedure_path=procedure_path, body=doc.value)


def _time_problems(doc: Document) -> list[Problem]:
    """Steps must not go back in time: each ``at`` or ``tick`` is at or after the one before.

    A case's records are in time order (its audit log could not be trusted otherwise),
    so a scenario that steps backwards is refused where the step is written, rather
    than quietly run at the later time.
    """
    problems: list[Problem] = []
    body = doc.value
    latest_path: tuple[str | int, ...] = ("opened_at",)
    try:
        latest = parse_time(body["opened_at"])
        latest.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        return [_time_problem(doc, ("opened_at",), f"not a valid time: {exc}")]
    for index, step in enumerate(body["steps"]):
        key = "tick" if "tick" in step else "at" if "at" in step else None
        if key is None:
            continue  # runs at the time of the step before
        where = ("steps", index, key)
        try:
            moment = parse_time(step[key])
            moment.astimezone(UTC)  # records hold UTC: an instant must have a UTC form
        except (ValueError, OverflowError) as exc:
            problems.append(_time_problem(doc, where, f"not a valid time: {exc}"))
            continue
        if moment < latest:
            earlier = format_path(latest_path)
            problems.append(
                _time_problem(
                    doc,
                    where,
                    f"step {index + 1} is at {step[key]}, before {earlier} "
                    f"({_text_at(body, latest_path)}); steps run in time order: "
                    "a case's time never goes back",
                )
            )
            continue
        latest, latest_path = moment, where
    return problems


def _text_at(body: Mapping[str, Any], path: tuple[str | int, ...]) -> str:
    node: Any = body
    for part in path:
        node = node[part]
    return str(node)


def _time_problem(doc: Document, path: tuple[str | int, ...], message: str) -> Problem:
    return Problem(location=doc.locate(path), message=message, code="scenario.time")


def _actor(scenario: Scenario, value: Any) -> Actor:
    if isinstance(value, str):
        actors = scenario.body.get("actors", {})
        if value not in actors:
            raise EngineError(f"{scenario.file}: unknown actor {value!r}; declare it under actors")
        return Actor.of(actors[value])
    return Actor.of(value)


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def run_scenario(
    scenario: Scenario,
    *,
    store: Store | None = None,
    procedure: CompiledProcedure | None = None,
) -> ScenarioResult:
    """Run every step of ``scenario`` on a fresh engine (or the given store).

    Raises:
        ProcedureError, ProcedureInvalid: when the procedure cannot be loaded.
        EngineError: when a step names an unknown actor or the case cannot be opened.
    """
    body = scenario.body
    compiled = procedure or load_procedure(scenario.procedure_path)
    opened_at = parse_time(body["opened_at"])
    clock = FixedClock(opened_at)
    engine = Engine(store=store, clock=clock)
    case_id = body["case"]
    opened = engine.open_case(
        compiled, case_id, body["data"], actor=_actor(scenario, body["opened_by"]), at=opened_at
    )
    steps = []
    for index, step in enumerate(body["steps"]):
        if "tick" in step:
            moment = parse_time(step["tick"])
            clock.at = max(clock.at, moment)
            fired = tuple(engine.tick(moment))
            problems = []
            expected = step.get("expect_fired")
            if expected is not None and expected != len(fired):
                problems.append(
                    f"step {index + 1}: expected {expected} timer(s) to fire, {len(fired)} fired"
                )
            steps.append(
                StepResult(index=index, step=step, outcomes=fired, mismatches=tuple(problems))
            )
            continue
        at = parse_time(step["at"]) if "at" in step else clock.at
        clock.at = max(clock.at, at)
        try:
            outcome = engine.fire(
                case_id,
                step["event"],
                actor=_actor(scenario, step["actor"]),
                payload=step.get("payload", {}),
                at=at,
                idempotency_key=step.get("idempotency_key"),
            )
        except Forbidden as exc:
            # Refused at the door: nothing is recorded, so there is no outcome to expect.
            problem = f"step {index + 1} ({step['event']}): refused at the door: {exc}"
            steps.append(StepResult(index=index, step=step, outcomes=(), mismatches=(problem,)))
            continue
        steps.append(
            StepResult(
                index=index,
                step=step,
                outcomes=(outcome,),
                mismatches=_check_step(index, step, outcome),
            )
        )
    view = engine.case(case_id)
    return ScenarioResult(
        scenario=scenario,
        procedure=compiled,
        opened=opened,
        steps=tuple(steps),
        records=tuple(dict(r) for r in view.history),
        final_state=view.state,
        final_data=view.data,
        mismatches=_check_end(body.get("expect", {}), view.state, view.data, steps),
    )


def _check_step(index: int, step: Mapping[str, Any], outcome: Outcome) -> tuple[str, ...]:
    problems = []
    where = f"step {index + 1} ({step['event']})"
    if "expect" in step and step["expect"] != outcome.status:
        why = f": {outcome.reason.message}" if outcome.reason else ""
        problems.append(f"{where}: expected {step['expect']}, got {outcome.status}{why}")
    if "expect_reason" in step:
        got = outcome.reason.code if outcome.reason else "(applied)"
        if got != step["expect_reason"]:
            problems.append(f"{where}: expected reason {step['expect_reason']}, got {got}")
    if "expect_to" in step and step["expect_to"] != outcome.to_state:
        problems.append(f"{where}: expected state {step['expect_to']}, got {outcome.to_state}")
    return tuple(problems)


def _check_end(
    expect: Mapping[str, Any], state: str, data: Mapping[str, Any], steps: list[StepResult]
) -> tuple[str, ...]:
    problems = []
    if "state" in expect and expect["state"] != state:
        problems.append(f"final state: expected {expect['state']}, got {state}")
    for dotted, wanted in expect.get("data", {}).items():
        got = _lookup(data, dotted)
        if got != wanted:
            problems.append(f"data.{dotted}: expected {wanted!r}, got {got!r}")
    outcomes = [o for s in steps for o in s.outcomes]
    for status in ("applied", "refused"):
        if status in expect:
            count = sum(1 for o in outcomes if o.status == status)
            if count != expect[status]:
                problems.append(f"{status} attempts: expected {expect[status]}, got {count}")
    return tuple(problems)
