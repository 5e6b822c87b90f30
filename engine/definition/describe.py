"""A procedure in plain words: the structure ``yishi describe`` prints.

Ops staff and auditors read a procedure through this description rather than
its YAML: every state with its Chinese label and deadline, every event with who
may fire it and what its payload carries, and every transition with each guard
and action said in words. The description is plain frozen data built by pure
functions, so the CLI, the HTTP API or a document generator can render it as
they like, and tests can compare it exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.registry import Registry
from engine.definition.compile import CompiledProcedure, CompiledTransition
from engine.definition.model import ActionCall, Procedure, State
from engine.definition.periods import period_words
from engine.governance.counting_rule import describe_rule
from engine.guards.checks import GuardCheck


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleDescription:
    """A role: its id, Chinese label and what it is for."""

    id: str
    label: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateDescription:
    """A state with its label, whether it starts or ends a case, and its deadline in words."""

    id: str
    label: str
    description: str = ""
    initial: bool = False
    final: bool = False
    deadline: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldDescription:
    """One top-level field of an event's payload."""

    name: str
    type: str
    title: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionDescription:
    """One transition: where it goes, and its guards and actions in words."""

    sources: tuple[tuple[str, str], ...]
    target: tuple[str, str]
    label: str = ""
    guards: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def route(self) -> str:
        """``from drafting (拟议) → proposed (党支部已提议)``."""
        sources = ", ".join(f"{state} ({label})" for state, label in self.sources)
        state, label = self.target
        return f"from {sources} → {state} ({label})"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventDescription:
    """An event: who may fire it, its payload, and its transitions in the order tried."""

    id: str
    label: str
    description: str = ""
    roles: tuple[RoleDescription, ...] = ()
    timer_states: tuple[tuple[str, str], ...] = ()
    secret_ballot: bool = False
    payload: tuple[FieldDescription, ...] = ()
    transitions: tuple[TransitionDescription, ...] = ()

    @property
    def fired_by(self) -> str:
        """Who may fire the event, in words: roles with labels, and any deadline timer."""
        who = [f"{role.id} ({role.label})" for role in self.roles]
        who += [f"the deadline timer in {state} ({label})" for state, label in self.timer_states]
        return ", ".join(who) or "nobody"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureDescription:
    """Everything ``yishi describe`` shows about a procedure."""

    id: str
    version: str
    title: str
    description: str
    sha256: str
    file: str
    rule_set: str
    basis: str
    choices: tuple[tuple[str, str], ...]
    roles: tuple[RoleDescription, ...]
    counting: tuple[tuple[str, str], ...] = ()
    states: tuple[StateDescription, ...]
    events: tuple[EventDescription, ...]
    opened_by: tuple[RoleDescription, ...] = ()
    """The roles that may open a case (every declared role when the file names none)."""


def describe_procedure(compiled: CompiledProcedure) -> ProcedureDescription:
    """Describe a compiled procedure in plain words.

    Args:
        compiled: a procedure that loaded without errors.

    Returns:
        The description: states, roles, events, payloads, transitions, guards and actions,
        in file order.
    """
    procedure = compiled.procedure
    roles = tuple(
        RoleDescription(id=role.id, label=role.label, description=role.description)
        for role in procedure.roles.values()
    )
    return ProcedureDescription(
        id=procedure.id,
        version=procedure.version,
        title=procedure.title,
        description=procedure.description,
        sha256=procedure.sha256,
        file=procedure.file,
        rule_set=procedure.rule_set.name,
        basis=procedure.rule_set.basis,
        choices=tuple(_flatten(procedure.rule_set.choices)),
        roles=roles,
        opened_by=tuple(r for r in roles if r.id in procedure.opening_roles),
        counting=tuple((name, describe_rule(r)) for name, r in procedure.counting.items()),
        states=tuple(describe_state(procedure, state) for state in procedure.states.values()),
        events=tuple(
            _describe_event(compiled, event_id, {role.id: role for role in roles})
            for event_id in procedure.events
        ),
    )


def describe_state(procedure: Procedure, state: State) -> StateDescription:
    """Describe one state, its deadline in words (``after 7 calendar days: fires …``).

    Args:
        procedure: the procedure the state belongs to (for the deadline event's label).
        state: the state.

    Returns:
        The state's description.
    """
    deadline = ""
    if state.deadline is not None:
        event = procedure.events.get(state.deadline.event)
        label = f" ({event.label})" if event is not None else ""
        deadline = (
            f"after {period_words(state.deadline.period, state.deadline.days)}: "
            f"fires {state.deadline.event}{label}"
        )
    return StateDescription(
        id=state.id,
        label=state.label,
        description=state.description,
        initial=state.id == procedure.initial,
        final=state.final,
        deadline=deadline,
    )


def describe_guard(check: GuardCheck) -> str:
    """A compiled guard in words.

    The check's own ``describe()`` is the wording; a CEL guard whose author gave an
    explanation also shows its expression, so a reader can see exactly what is tested.

    Args:
        check: a compiled guard.

    Returns:
        For example ``"支委会到会: present (payload.present) at least 1/2 of expected
        (data.branch_committee_members)"``.
    """
    return check.words()


def describe_action(call: ActionCall, registry: Registry) -> str:
    """An action call in words.

    Args:
        call: the action as the procedure calls it.
        registry: the registry the procedure was compiled with (for other actions' help).

    Returns:
        For the built-ins a sentence (``append {…} to data.decisions``); for other actions
        their name, parameters and registered description.
    """
    params = call.params
    path = str(params.get("path", ""))
    if call.name in ("set", "append") and path:
        value = str(params["expr"]) if "expr" in params else _literal(params.get("value"))
        if call.name == "set":
            return f"set {path} to {value}"
        return f"append {value} to {path}"
    if call.name == "increment" and path:
        return f"add {_literal(params.get('by', 1))} to {path}"
    shown = ", ".join(f"{key}={_literal(value)}" for key, value in params.items())
    help_text = registry[call.name].description if call.name in registry else ""
    text = f"{call.name}({shown})"
    return f"{text}: {help_text}" if help_text else text


def describe_payload(schema: Mapping[str, Any]) -> tuple[FieldDescription, ...]:
    """The top-level fields of a payload schema, in declaration order.

    Args:
        schema: the event's payload JSON Schema.

    Returns:
        One description per declared property: name, type, title and whether required.
    """
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ()
    required = schema.get("required")
    needed = set(required) if isinstance(required, list) else set()
    return tuple(
        FieldDescription(
            name=name,
            type=_type_words(spec),
            title=str(spec.get("title", "")) if isinstance(spec, Mapping) else "",
            required=name in needed,
        )
        for name, spec in properties.items()
    )


def _describe_event(
    compiled: CompiledProcedure, event_id: str, roles: Mapping[str, RoleDescription]
) -> EventDescription:
    procedure = compiled.procedure
    event = procedure.events[event_id]
    timer_states = tuple(
        (state.id, state.label)
        for state in procedure.states.values()
        if state.deadline is not None and state.deadline.event == event_id
    )
    return EventDescription(
        id=event.id,
        label=event.label,
        description=event.description,
        roles=tuple(roles.get(role, RoleDescription(id=role, label="?")) for role in event.roles),
        timer_states=timer_states,
        secret_ballot=event.secret_ballot,
        payload=describe_payload(event.payload_schema),
        transitions=tuple(
            _describe_transition(compiled, step) for step in compiled.transitions.get(event_id, ())
        ),
    )


def _describe_transition(
    compiled: CompiledProcedure, step: CompiledTransition
) -> TransitionDescription:
    states = compiled.procedure.states
    transition = step.transition

    def named(state_id: str) -> tuple[str, str]:
        state = states.get(state_id)
        return (state_id, state.label if state is not None else "?")

    return TransitionDescription(
        sources=tuple(named(source) for source in transition.sources),
        target=named(transition.target),
        label=transition.label,
        guards=tuple(describe_guard(check) for check in step.guards),
        actions=tuple(describe_action(call, compiled.registry) for call in transition.actions),
    )


def _type_words(spec: Any) -> str:
    if not isinstance(spec, Mapping):
        return "any"
    if "enum" in spec and isinstance(spec["enum"], list):
        return "one of " + ", ".join(_literal(value) for value in spec["enum"])
    if "const" in spec:
        return f"exactly {_literal(spec['const'])}"
    declared = spec.get("type")
    if isinstance(declared, list):
        return " or ".join(str(t) for t in declared)
    if declared == "array" and isinstance(spec.get("items"), Mapping):
        return f"array of {_type_words(spec['items'])}"
    return str(declared) if declared else "any"


def _literal(value: Any) -> str:
    """A parameter value as it would be written in JSON (Chinese kept readable)."""
    return json.dumps(value, ensure_ascii=False)


def _flatten(choices: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested rule-set choices as ``("disclosure.period", "P7D")`` pairs."""
    out: list[tuple[str, str]] = []
    for key, value in choices.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _flatten(value, f"{name}.")
        elif isinstance(value, str):
            out.append((name, value))
        else:
            out.append((name, _literal(value)))
    return out
