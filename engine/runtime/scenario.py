"""Scenarios: dry runs of a procedure, and how procedures are tested.

A scenario names a procedure file, a case id, initial data and a list of steps
(attempts, or ``tick`` to fire due timers), with optional expectations per step
and at the end. Running one gives every outcome, the audit records and the
list of expectations that did not hold.

Scenarios are strict, because a test that checks nothing passes silently: a step
without ``expect`` expects ``applied``, and before anything runs every event,
state, actor, role and data field a scenario names is checked against the
procedure, all problems reported at once with file:line:col. An edge case can
start ``from`` another scenario ``until`` a seq of that scenario's run (the seq
its table shows) instead of repeating its steps. Messages name the seq of the
record a step wrote, as the table does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure, read_source
from engine.definition.strict_yaml import Document, YamlProblems, format_path, parse_yaml
from engine.errors import EngineError, Forbidden, Problem
from engine.errors import ScenarioInvalid as ScenarioInvalid
from engine.runtime.clock import FixedClock, parse_time
from engine.runtime.engine import Engine
from engine.runtime.types import Actor, Outcome
from engine.schemas import load_schema
from engine.storage.base import Store

if TYPE_CHECKING:
    from engine.audit.signing import Signer


# What a scenario that starts ``from`` another takes from it unchanged: a different value
# would change the inherited steps' outcomes. The case id may differ (each scenario names
# its own case, so two runs stored together do not collide).
INHERITED_KEYS = ("procedure", "opened_at", "opened_by", "data")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioStep:
    """One step as written: in which file (``doc``), at which position (1-based ``number``)."""

    step: Mapping[str, Any]
    number: int
    doc: Document

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("steps", self.number - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A checked scenario file, with the steps it starts from when it names ``from``.

    ``body`` holds the effective case (``INHERITED_KEYS`` taken from the scenario it
    starts from) and the actors of both. ``inherited`` are the steps of that scenario,
    run only until seq ``until``; ``docs`` are the files read, the base first.
    """

    file: str
    procedure_path: Path
    body: Mapping[str, Any]
    doc: Document
    steps: tuple[ScenarioStep, ...] = ()
    inherited: tuple[ScenarioStep, ...] = ()
    until: int | None = None
    docs: tuple[Document, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """One step and what became of it."""

    index: int
    step: Mapping[str, Any]
    outcomes: tuple[Outcome, ...]
    mismatches: tuple[str, ...] = ()
    inherited_from: str = ""


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
    """Read and check a scenario file, and the scenarios it starts ``from``.

    Raises:
        ProcedureError: when a file cannot be read.
        ScenarioInvalid: with every located problem.
    """
    return _load(Path(path), str(path))


def _load(path: Path, file: str, *, base_of: Document | None = None) -> Scenario:
    doc = _parse(path, file)
    value: dict[str, Any] = doc.value
    steps = tuple(
        ScenarioStep(step=step, number=i + 1, doc=doc) for i, step in enumerate(value["steps"])
    )
    if "from" not in value:
        procedure_path = (path.parent / value["procedure"]).resolve()
        return Scenario(
            file=file, procedure_path=procedure_path, body=value, doc=doc, steps=steps, docs=(doc,)
        )
    if base_of is not None:
        # One level only: the run stops at one until, and a chain's inner until would
        # have to be honoured too; a cycle (a from b, b from a) is refused the same way.
        raise ScenarioInvalid(
            [
                _problem(
                    base_of,
                    ("from",),
                    f"{file} starts from another scenario itself: start from a scenario "
                    "that has all its steps, with until naming the seq to stop at",
                    "scenario.from-chain",
                )
            ]
        )
    problems = [
        _problem(
            doc,
            (key,),
            f"{key!r} comes from the scenario this one starts from "
            f"({value['from']}): remove it here",
            "scenario.from-inherited",
            key=True,
        )
        for key in INHERITED_KEYS
        if key in value
    ]
    if problems:
        raise ScenarioInvalid(problems)
    base_file = str(Path(file).parent / value["from"])
    base = _load(path.parent / value["from"], base_file, base_of=doc)
    body = {key: base.body[key] for key in (*INHERITED_KEYS, "case")}
    body.update({k: v for k, v in value.items() if k not in ("from", "until")})
    body["actors"] = {**base.body.get("actors", {}), **value.get("actors", {})}
    return Scenario(
        file=file,
        procedure_path=base.procedure_path,
        body=body,
        doc=doc,
        steps=steps,
        inherited=base.steps,
        until=value["until"],
        docs=(base.doc, doc),
    )


def _parse(path: Path, file: str) -> Document:
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
    return doc


def _problem(
    doc: Document, path: tuple[str | int, ...], message: str, code: str, *, key: bool = False
) -> Problem:
    return Problem(location=doc.locate(path, key=key), message=message, code=code)


def _time_problems(doc: Document) -> list[Problem]:
    """Steps must not go back in time: each ``at`` or ``tick`` is at or after the one before.

    A case's records are in time order (its audit log could not be trusted otherwise),
    so a scenario that steps backwards is refused where the step is written, rather
    than quietly run at the later time.
    """
    problems: list[Problem] = []
    body = doc.value
    latest_path: tuple[str | int, ...] = ("opened_at",)
    latest: datetime | None = None
    if "opened_at" in body:  # a scenario that starts ``from`` another inherits it
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
        if latest is not None and moment < latest:
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
    engine: Engine | None = None,
    signer: Signer | None = None,
) -> ScenarioResult:
    """Check ``scenario`` against its procedure, then run every step on a fresh engine
    (or the given store, or on ``engine``'s store and compiled procedures, with the
    scenario's own clock): the inherited steps until seq ``until``, then its own.
    With ``signer`` (and no ``engine``, which brings its own) every record is signed, as a
    server or ``yishi case`` signs them.

    Raises:
        ProcedureError, ProcedureInvalid: when the procedure cannot be loaded.
        ScenarioInvalid: with every name the scenario gets wrong, before anything runs;
            or when ``until`` is not a seq at the end of an inherited step.
        EngineError: when the case cannot be opened.
    """
    from engine.runtime.scenario_check import check_scenario

    body = scenario.body
    compiled = procedure or load_procedure(scenario.procedure_path)
    problems = check_scenario(scenario, compiled)
    if problems:
        raise ScenarioInvalid(problems)
    opened_at = parse_time(body["opened_at"])
    clock = FixedClock(opened_at)
    if engine is not None:
        engine = engine.with_clock(clock)
    else:
        engine = Engine(store=store, clock=clock, signer=signer)
    case_id = body["case"]
    opened = engine.open_case(
        compiled, case_id, body["data"], actor=_actor(scenario, body["opened_by"]), at=opened_at
    )
    steps: list[StepResult] = []
    last_seq = opened.seq
    if scenario.until is not None:
        for written in scenario.inherited:
            if last_seq >= scenario.until:
                break
            result = _run_step(engine, scenario, clock, case_id, written=written, index=len(steps))
            steps.append(result)
            last_seq = max([last_seq, *(o.seq for o in result.outcomes)])
        if last_seq != scenario.until:
            raise ScenarioInvalid([_until_problem(scenario, last_seq, steps)])
    for written in scenario.steps:
        steps.append(_run_step(engine, scenario, clock, case_id, written=written, index=len(steps)))
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


def _until_problem(scenario: Scenario, last_seq: int, steps: list[StepResult]) -> Problem:
    source = scenario.body.get("from") or scenario.doc.value.get("from")
    if last_seq < (scenario.until or 0):
        message = f"{source} ends at seq {last_seq}: until must be a seq its run reaches"
    else:
        ends = sorted({o.seq for s in steps[:-1] for o in s.outcomes[-1:]})
        message = (
            f"seq {scenario.until} falls inside a step of {source} that wrote seq "
            f"{steps[-1].outcomes[0].seq}–{last_seq}: until names the last seq of a step"
            + (f" (e.g. {ends[-1]} or {last_seq})" if ends else f" (e.g. {last_seq})")
        )
    return _problem(scenario.doc, ("until",), message, "scenario.until")


def _run_step(
    engine: Engine,
    scenario: Scenario,
    clock: FixedClock,
    case_id: str,
    *,
    written: ScenarioStep,
    index: int,
) -> StepResult:
    step = written.step
    inherited_from = "" if written.doc is scenario.doc else Path(written.doc.file).name
    where = f"step {written.number}" + (f" of {inherited_from}" if inherited_from else "")
    if "tick" in step:
        moment = parse_time(step["tick"])
        clock.at = max(clock.at, moment)
        fired = tuple(engine.tick(moment))
        problems = []
        expected = step.get("expect_fired")
        if expected is not None and expected != len(fired):
            seqs = f"seq {fired[0].seq}–{fired[-1].seq}, " if fired else ""
            problems.append(
                f"{seqs}{where} (tick): expected {expected} timer(s) to fire, {len(fired)} fired"
            )
        return StepResult(
            index=index,
            step=step,
            outcomes=fired,
            mismatches=tuple(problems),
            inherited_from=inherited_from,
        )
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
        # Refused at the door: nothing is recorded, so there is no outcome (and no seq).
        problem = f"{where} ({step['event']}): refused at the door: {exc}"
        return StepResult(
            index=index,
            step=step,
            outcomes=(),
            mismatches=(problem,),
            inherited_from=inherited_from,
        )
    return StepResult(
        index=index,
        step=step,
        outcomes=(outcome,),
        mismatches=_check_step(f"seq {outcome.seq}, {where}", step, outcome),
        inherited_from=inherited_from,
    )


def _check_step(where: str, step: Mapping[str, Any], outcome: Outcome) -> tuple[str, ...]:
    """What did not hold; a step without ``expect`` expects ``applied``."""
    problems = []
    where = f"{where} ({step['event']})"
    expected = step.get("expect", "applied")
    if expected != outcome.status:
        why = f": {outcome.reason.message}" if outcome.reason else ""
        implied = "" if "expect" in step else " (a step without expect must be applied)"
        problems.append(f"{where}: expected {expected}{implied}, got {outcome.status}{why}")
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
