"""Check a scenario's names against its procedure before anything runs.

A misspelt event used to be refused at run time, and a step without ``expect``
let the run print "every expectation held". Now every event, state, actor, role,
payload field and data field a scenario names is checked against the procedure
first, and every problem is reported at once with file:line:col, in each file a
``from`` chain read. A field is unknown when the data or payload schema lists its
properties and does not allow others explicitly (``additionalProperties``): a
guard can read only declared fields, so an undeclared one is a typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from engine.definition.compile import CompiledProcedure
from engine.definition.strict_yaml import Document
from engine.errors import Problem

Path = tuple[str | int, ...]


class Scenario(Protocol):
    """What the check reads of a loaded scenario (``engine.runtime.scenario.Scenario``).

    A protocol, not that class: the scenario runner calls this check, so this
    module does not import the runner back.
    """

    @property
    def body(self) -> Mapping[str, Any]:
        """The effective case and the actors."""
        ...

    @property
    def docs(self) -> tuple[Document, ...]:
        """The files read, the base first."""
        ...


def check_scenario(scenario: Scenario, compiled: CompiledProcedure) -> list[Problem]:
    """Every name in ``scenario`` (and the scenario it starts from) its procedure lacks.

    Args:
        scenario: what ``load_scenario`` returned.
        compiled: its procedure.

    Returns:
        The problems in file order, each located where the name is written.
    """
    checker = _Checker(scenario, compiled)
    for doc in scenario.docs:
        checker.document(doc)
    return sorted(checker.problems, key=lambda p: p.sort_key)


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _declared(schema: Mapping[str, Any]) -> list[str] | None:
    """The fields a schema declares, or None when it lets any field in."""
    properties = schema.get("properties")
    if (
        not isinstance(properties, Mapping)
        or schema.get("additionalProperties", False) is not False
    ):
        return None
    return list(properties)


class _Checker:
    def __init__(self, scenario: Scenario, compiled: CompiledProcedure) -> None:
        self.procedure = compiled.procedure
        self.actors: Mapping[str, Any] = scenario.body.get("actors", {})
        self.problems: list[Problem] = []

    def report(self, doc: Document, path: Path, message: str, code: str) -> None:
        # A field is shown at its key; a name written as a value, at the value.
        location = doc.locate(path, key="field" in code)
        self.problems.append(Problem(location=location, message=message, code=code))

    def unknown(
        self, doc: Document, path: Path, kind: str, name: str, known: Iterable[str]
    ) -> None:
        known = list(known)
        self.report(
            doc,
            path,
            f"unknown {kind} {name!r}{_hint(name, known)}",
            f"scenario.unknown-{kind.replace(' ', '-')}",
        )

    def document(self, doc: Document) -> None:
        value: Mapping[str, Any] = doc.value
        for name, actor in value.get("actors", {}).items():
            self.roles(doc, ("actors", name), actor)
        if "opened_by" in value:
            self.actor(doc, ("opened_by",), value["opened_by"])
        if "data" in value:
            self.fields(doc, ("data",), value["data"], self.procedure.data_schema, "data field")
        for index, step in enumerate(value["steps"]):
            self.step(doc, ("steps", index), step)
        expect = value.get("expect", {})
        if "state" in expect:
            self.state(doc, ("expect", "state"), expect["state"])
        declared = _declared(self.procedure.data_schema)
        for dotted in expect.get("data", {}):
            head = dotted.split(".", 1)[0]
            if declared is not None and head not in declared:
                self.unknown(doc, ("expect", "data", dotted), "data field", head, declared)

    def step(self, doc: Document, path: Path, step: Mapping[str, Any]) -> None:
        if "tick" in step:
            return
        self.actor(doc, (*path, "actor"), step["actor"])
        if "expect_to" in step:
            self.state(doc, (*path, "expect_to"), step["expect_to"])
        event = self.procedure.events.get(step["event"])
        if event is None:
            self.unknown(doc, (*path, "event"), "event", step["event"], self.procedure.events)
            return
        payload = step.get("payload", {})
        self.fields(doc, (*path, "payload"), payload, event.payload_schema, "payload field")

    def actor(self, doc: Document, path: Path, actor: Any) -> None:
        if isinstance(actor, str):
            if actor not in self.actors:
                self.unknown(doc, path, "actor", actor, self.actors)
        else:
            self.roles(doc, path, actor)

    def roles(self, doc: Document, path: Path, actor: Mapping[str, Any]) -> None:
        for index, role in enumerate(actor.get("roles", [])):
            if role not in self.procedure.roles:
                self.unknown(doc, (*path, "roles", index), "role", role, self.procedure.roles)

    def state(self, doc: Document, path: Path, state: str) -> None:
        if state not in self.procedure.states:
            self.unknown(doc, path, "state", state, self.procedure.states)

    def fields(
        self,
        doc: Document,
        path: Path,
        values: Mapping[str, Any],
        schema: Mapping[str, Any],
        kind: str,
    ) -> None:
        declared = _declared(schema)
        if declared is None:
            return
        for key in values:
            if key not in declared:
                self.unknown(doc, (*path, key), kind, key, declared)
