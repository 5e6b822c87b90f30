"""Turn a schema-valid document into the immutable ``Procedure`` model.

The schema has already vouched for shapes and types; this module only
translates, attaching a ``SourceLocation`` to every element so later checks can
point at the exact line. Cross-references (states, roles, events) are checked
by ``lint``; expressions and fractions by ``compile``.
"""

from __future__ import annotations

import difflib
import hashlib
from fractions import Fraction
from typing import Any, Literal

from engine.definition.model import (
    ActionCall,
    CelGuard,
    CountRef,
    Deadline,
    DocumentSpec,
    Event,
    Guard,
    MarginGuard,
    MeetingPart,
    MeetingRuleGuard,
    Procedure,
    Role,
    RuleSet,
    State,
    ThresholdGuard,
    Transition,
    WeightsGuard,
    frozen_mapping,
)
from engine.definition.strict_yaml import Document, Path
from engine.errors import Problem, SourceLocation
from engine.governance.counting_rule import CountingRule, RuleError, parse_rule
from engine.guards.arithmetic import OPERATORS, parse_fraction
from engine.guards.cel_time import DEFAULT_TIME_ZONE, zone


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
            self._report(("time_zone",), str(exc), "time-zone.unknown")
            return DEFAULT_TIME_ZONE
        return name

    def _counting(self, rules: dict[str, Any]) -> dict[str, CountingRule]:
        """The procedure's counting rules, each checked; a rule in error is left out."""
        out: dict[str, CountingRule] = {}
        for name, raw in rules.items():
            try:
                out[name] = parse_rule(name, raw)
            except RuleError as exc:
                self._report(("counting", name, *exc.path), exc.message, "counting.rule")
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
                self._guard((*path, "guards", i), g) for i, g in enumerate(raw.get("guards", ()))
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

    def _count(self, path: Path, value: str | int) -> CountRef:
        return CountRef(source=value, location=self.doc.locate(path))

    def _fraction(self, path: Path, text: str | int) -> Fraction:
        """Read a fraction, reporting syntax and range problems: it must lie in (0, 1]."""
        try:
            fraction = parse_fraction(text)
        except ValueError as exc:
            self._report(path, str(exc), "fraction.syntax")
            return Fraction(1)
        if not 0 < fraction <= 1:
            self._report(
                path,
                f"the fraction {text} is outside (0, 1]: a threshold is a part of its base, "
                'such as "1/2", "2/3" or "4/5"',
                "fraction.range",
            )
        return fraction

    def _report(self, path: Path, message: str, code: str) -> None:
        self.problems.append(Problem(location=self.doc.locate(path), message=message, code=code))

    def _operator(self, path: Path, raw: dict[str, Any]) -> tuple[Any, Fraction]:
        """The one (operator, fraction) pair of a threshold; zero or several are reported."""
        given = [op for op in OPERATORS if op in raw]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            self._report(
                path,
                f"name exactly one operator of {', '.join(OPERATORS)} (found: {found})",
                "threshold.operator",
            )
        if not given:
            return "at_least", Fraction(1)
        return given[0], self._fraction((*path, given[0]), raw[given[0]])

    def _guard(self, path: Path, raw: dict[str, Any]) -> Guard:
        location = self.doc.locate(path)
        if "cel" in raw:
            return CelGuard(
                expression=raw["cel"],
                explain=raw.get("explain", ""),
                label=raw.get("label", ""),
                location=self.doc.locate((*path, "cel")),
            )
        if "quorum" in raw or "threshold" in raw:
            kind: Literal["quorum", "threshold"] = "quorum" if "quorum" in raw else "threshold"
            body = raw[kind]
            count_key, base_key = ("present", "expected") if kind == "quorum" else ("count", "of")
            operator, fraction = self._operator((*path, kind), body)
            return ThresholdGuard(
                kind=kind,
                count=self._count((*path, kind, count_key), body[count_key]),
                base=self._count((*path, kind, base_key), body[base_key]),
                operator=operator,
                fraction=fraction,
                # Only a threshold names its base in words; a quorum's base is "expected".
                base_words=body.get("base", "") if kind == "threshold" else "",
                label=body.get("label", ""),
                location=location,
            )
        if "meeting_rule" in raw:
            return self._meeting_rule((*path, "meeting_rule"), raw["meeting_rule"], location)
        if "margin" in raw:
            body = raw["margin"]
            fraction = self._fraction((*path, "margin", "at_least"), body["at_least"])
            return MarginGuard(
                candidates=self._count((*path, "margin", "candidates"), body["candidates"]),
                seats=self._count((*path, "margin", "seats"), body["seats"]),
                fraction=fraction,
                label=body.get("label", ""),
                location=location,
            )
        body = raw["weights"]
        return WeightsGuard(
            expression=body["of"],
            label=body.get("label", ""),
            location=self.doc.locate((*path, "weights", "of")),
        )

    def _meeting_rule(
        self, path: Path, body: dict[str, Any], location: SourceLocation
    ) -> MeetingRuleGuard:
        """Apply a meeting's stated rule: its fractions come from the rule set's choices."""
        meetings = self.doc.value["rule_set"].get("choices", {}).get("meetings", {})
        name = body["meeting"]
        stated = meetings.get(name)
        if stated is None:
            close = difflib.get_close_matches(name, list(meetings), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            listed = ", ".join(meetings) or "none"
            self._report(
                (*path, "meeting"),
                f"no meeting {name!r} is stated under rule_set.choices.meetings "
                f"(stated: {listed}){hint}",
                "meeting.unknown",
            )
            stated = {"label": name}
        rule_path: Path = ("rule_set", "choices", "meetings", name)
        given = body.get("quorum", {})
        quorum = dict(stated.get("quorum", {}))
        combine = quorum.pop("combine", "all")
        for part in sorted(set(quorum) ^ set(given)):
            where = "the stated rule" if part in quorum else "this guard"
            self._report(
                (*path, "quorum") if part in quorum else (*path, "quorum", part),
                f"the quorum of {name} has the parts {sorted(quorum)}; {part!r} is only in "
                f"{where}: give present and expected for each stated part, and no other",
                "meeting.quorum-parts",
            )
        parts = tuple(
            self._meeting_part(
                part, rule_path=(*rule_path, "quorum", part), rule=quorum[part],
                path=(*path, "quorum", part), count=given[part]["present"],
                base=given[part]["expected"],
            )
            for part in quorum
            if part in given
        )  # fmt: skip
        adoption = None
        if "adoption" in body:
            if "adoption" not in stated:
                self._report(
                    (*path, "adoption"),
                    f"{name} states no adoption rule under rule_set.choices.meetings",
                    "meeting.adoption",
                )
            else:
                given_adoption = body["adoption"]
                adoption = self._meeting_part(
                    "adoption", rule_path=(*rule_path, "adoption"), rule=stated["adoption"],
                    path=(*path, "adoption"), count=given_adoption["yes"],
                    base=given_adoption["of"],
                )  # fmt: skip
        return MeetingRuleGuard(
            meeting=name,
            meeting_label=str(stated.get("label", name)),
            quorum=parts,
            combine="any" if combine == "any" else "all",
            adoption=adoption,
            label=body.get("label", ""),
            location=location,
        )

    def _meeting_part(
        self,
        name: str,
        *,
        rule_path: Path,
        rule: dict[str, Any],
        path: Path,
        count: str | int,
        base: str | int,
    ) -> MeetingPart:
        operator, fraction = self._operator(rule_path, rule)
        count_key, base_key = ("yes", "of") if name == "adoption" else ("present", "expected")
        return MeetingPart(
            name=name,
            count=self._count((*path, count_key), count),
            base=self._count((*path, base_key), base),
            operator=operator,
            fraction=fraction,
            base_words=str(rule.get("of", "")),
        )

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
