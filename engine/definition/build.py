"""Turn a schema-valid document into the immutable ``Procedure`` model.

The schema has already vouched for shapes and types; this module only
translates, attaching a ``SourceLocation`` to every element so later checks can
point at the exact line. Cross-references (states, roles, events) are checked
by ``lint``; expressions and fractions by ``compile``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from engine.definition.model import (
    ActionCall,
    CountRef,
    Deadline,
    DocumentSpec,
    Event,
    Procedure,
    Role,
    RuleSet,
    State,
    Transition,
    frozen_mapping,
)
from engine.definition.strict_yaml import Document, Path
from engine.errors import Problem, SourceLocation
from engine.governance.counting_rule import CountingRule, RuleError, parse_rule
from engine.guards.arithmetic import OPERATORS, Operator, parse_fraction
from engine.guards.cel_time import DEFAULT_TIME_ZONE, zone
from engine.guards.registry import build_guard


def sha256_text(source: str) -> str:
    """The sha256 of a procedure's exact source text (UTF-8)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def build_procedure(doc: Document, source: str) -> tuple[Procedure, list[Problem]]:
    """Build the model from a schema-valid document.

    Returns:
        The procedure and the problems met on the way: a threshold naming no operator
        or several, a fraction that is not p/q, or one outside (0, 1].
    """
    builder = _Builder(doc)
    return builder.build(source), builder.problems


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def build(self, source: str) -> Procedure:
        value: dict[str, Any] = self.doc.value
        rule_set = value["rule_set"]
        return Procedure(
            id=value["id"],
            version=str(value["version"]),
            title=value["title"],
            description=value.get("description", ""),
            rule_set=RuleSet(
                name=rule_set["name"],
                basis=rule_set.get("basis", ""),
                choices=frozen_mapping(rule_set.get("choices", {})),
            ),
            roles=frozen_mapping(
                {
                    rid: Role(id=rid, label=r["label"], description=r.get("description", ""))
                    for rid, r in value["roles"].items()
                }
            ),
            opened_by=tuple(value.get("opened_by", ())),
            opened_by_locations=tuple(
                self.doc.locate(("opened_by", i)) for i in range(len(value.get("opened_by", ())))
            ),
            data_schema=frozen_mapping(value.get("data", {"type": "object"})),
            initial=value["initial"],
            states=frozen_mapping({sid: self._state(sid, s) for sid, s in value["states"].items()}),
            events=frozen_mapping({eid: self._event(eid, e) for eid, e in value["events"].items()}),
            documents=tuple(self._document(i, d) for i, d in enumerate(value.get("documents", ()))),
            counting=frozen_mapping(self._counting(value.get("counting", {}))),
            source=source,
            sha256=sha256_text(source),
            file=self.doc.file,
            time_zone=self._time_zone(value),
            # Scalars (initial, id) are shown at their value, sections at their key.
            top_locations=frozen_mapping(
                {
                    key: self.doc.locate((key,), key=isinstance(item, dict | list))
                    for key, item in value.items()
                }
            ),
        )

    def _time_zone(self, value: dict[str, Any]) -> str:
        """The declared IANA zone, reported (and the default kept) when it is not one."""
        name = str(value.get("time_zone", DEFAULT_TIME_ZONE))
        try:
            zone(name)
        except ValueError as exc:
            self.report(("time_zone",), str(exc), "time-zone.unknown")
            return DEFAULT_TIME_ZONE
        return name

    def _counting(self, rules: dict[str, Any]) -> dict[str, CountingRule]:
        """The procedure's counting rules, each checked; a rule in error is left out."""
        out: dict[str, CountingRule] = {}
        for name, raw in rules.items():
            try:
                out[name] = parse_rule(name, raw)
            except RuleError as exc:
                self.report(("counting", name, *exc.path), exc.message, "counting.rule")
        return out

    def _state(self, sid: str, raw: dict[str, Any]) -> State:
        path: Path = ("states", sid)
        deadline = raw.get("deadline")
        return State(
            id=sid,
            label=raw["label"],
            description=raw.get("description", ""),
            final=bool(raw.get("final", False)),
            deadline=Deadline(
                period=deadline["after"],
                days=deadline.get("days", "calendar"),
                event=deadline["event"],
                location=self.doc.locate((*path, "deadline")),
                period_location=self.doc.locate((*path, "deadline", "after")),
                event_location=self.doc.locate((*path, "deadline", "event")),
            )
            if deadline
            else None,
            location=self.doc.locate(path, key=True),
        )

    def _document(self, index: int, raw: dict[str, Any]) -> DocumentSpec:
        path: Path = ("documents", index)
        return DocumentSpec(
            name=raw["name"],
            title=raw["title"],
            after=tuple(raw["after"]),
            template=raw["template"],
            location=self.doc.locate(path),
            after_locations=tuple(
                self.doc.locate((*path, "after", i)) for i in range(len(raw["after"]))
            ),
            template_location=self.doc.locate((*path, "template")),
        )

    def _event(self, eid: str, raw: dict[str, Any]) -> Event:
        path: Path = ("events", eid)
        return Event(
            id=eid,
            label=raw["label"],
            description=raw.get("description", ""),
            roles=tuple(raw.get("roles", ())),
            payload_schema=frozen_mapping(raw.get("payload", {"type": "object"})),
            secret_ballot=bool(raw.get("secret_ballot", False)),
            transitions=tuple(
                self._transition((*path, "transitions", i), i, t)
                for i, t in enumerate(raw["transitions"])
            ),
            location=self.doc.locate(path, key=True),
            role_locations=tuple(
                self.doc.locate((*path, "roles", i)) for i in range(len(raw.get("roles", ())))
            ),
        )

    def _transition(self, path: Path, index: int, raw: dict[str, Any]) -> Transition:
        sources = raw["from"]
        source_paths: list[Path] = (
            [(*path, "from")]
            if isinstance(sources, str)
            else [(*path, "from", i) for i in range(len(sources))]
        )
        return Transition(
            sources=(sources,) if isinstance(sources, str) else tuple(sources),
            target=raw["to"],
            guards=tuple(
                build_guard(self, (*path, "guards", i), g)
                for i, g in enumerate(raw.get("guards", ()))
            ),
            actions=tuple(
                self._action((*path, "actions", i), a) for i, a in enumerate(raw.get("actions", ()))
            ),
            label=raw.get("label", ""),
            index=index,
            location=self.doc.locate(path),
            source_locations=tuple(self.doc.locate(p) for p in source_paths),
            target_location=self.doc.locate((*path, "to")),
        )

    # -- what guard kinds may ask while they are built (engine.guards.kind.BuildContext) ----

    def locate(self, path: Path) -> SourceLocation:
        """Where ``path`` is written."""
        return self.doc.locate(path)

    def count(self, path: Path, value: str | int) -> CountRef:
        """A count written at ``path``."""
        return CountRef(source=value, location=self.doc.locate(path))

    def meetings(self) -> Mapping[str, Any]:
        """The meetings stated under ``rule_set.choices.meetings``."""
        meetings: Mapping[str, Any] = (
            self.doc.value["rule_set"].get("choices", {}).get("meetings", {})
        )
        return meetings

    def report(self, path: Path, message: str, code: str) -> None:
        """Report a problem at ``path``."""
        self.problems.append(Problem(location=self.doc.locate(path), message=message, code=code))

    def fraction(self, path: Path, text: str | int) -> Fraction:
        """Read a fraction, reporting syntax and range problems: it must lie in (0, 1]."""
        try:
            fraction = parse_fraction(text)
        except ValueError as exc:
            self.report(path, str(exc), "fraction.syntax")
            return Fraction(1)
        if not 0 < fraction <= 1:
            self.report(
                path,
                f"the fraction {text} is outside (0, 1]: a threshold is a part of its base, "
                'such as "1/2", "2/3" or "4/5"',
                "fraction.range",
            )
        return fraction

    def operator(self, path: Path, raw: Mapping[str, Any]) -> tuple[Operator, Fraction]:
        """The one (operator, fraction) pair of a threshold; zero or several are reported."""
        given = [op for op in OPERATORS if op in raw]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            self.report(
                path,
                f"name exactly one operator of {', '.join(OPERATORS)} (found: {found})",
                "threshold.operator",
            )
        if not given:
            return "at_least", Fraction(1)
        return given[0], self.fraction((*path, given[0]), raw[given[0]])

    def _action(self, path: Path, raw: dict[str, Any]) -> ActionCall:
        ((name, params),) = raw.items()
        params = params or {}
        return ActionCall(
            name=name,
            params=frozen_mapping(params),
            location=self.doc.locate((*path, name), key=True),
            param_locations=frozen_mapping(
                {key: self.doc.locate((*path, name, key)) for key in params}
            ),
        )
