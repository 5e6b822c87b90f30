"""What a guard kind is: its schema fragment, its builder and its check, in one place.

Each kind of guard (``cel``, ``quorum``, ``threshold``, ``margin``, ``weights``,
``meeting_rule``) lives in one module under ``engine.guards.kinds`` that holds
everything about it: the JSON Schema branch a procedure entry of that kind must
match, the frozen model built from the entry, the builder that reads the entry,
the compiler that turns the model into a check, and the check that evaluates and
explains itself. ``engine.guards.registry`` lists the kinds; the definition layer
dispatches through it and never asks which kind a guard is.

The builder and compiler are handed small contexts (``BuildContext``,
``CompileContext``) by the definition layer, so this package knows nothing of
procedures, documents or schemas beyond what the contexts offer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import SourceLocation
from engine.guards.arithmetic import Operator

if TYPE_CHECKING:
    # Only named in annotations: the procedure model imports this module, and drawing
    # or describing a procedure must not load the CEL core (tests/test_lazy_imports.py).
    from engine.guards.cel import CelExpression
    from engine.guards.checks import Count, GuardCheck

Path = tuple[str | int, ...]
"""Where an entry sits in the procedure document (keys and list indexes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CountRef:
    """A count named in a guard: an integer literal or a CEL expression."""

    source: str | int
    location: SourceLocation

    @property
    def is_literal(self) -> bool:
        return isinstance(self.source, int)


class GuardModel(Protocol):
    """What every guard of the procedure model has: its kind, label and where it is written."""

    @property
    def kind(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def location(self) -> SourceLocation: ...


class BuildContext(Protocol):
    """What a kind's builder may ask of the procedure being built."""

    def locate(self, path: Path) -> SourceLocation:
        """Where ``path`` is written."""
        ...

    def count(self, path: Path, value: str | int) -> CountRef:
        """A count written at ``path``."""
        ...

    def fraction(self, path: Path, text: str | int) -> Fraction:
        """A fraction in (0, 1] written at ``path``; problems are reported, 1 returned."""
        ...

    def operator(self, path: Path, body: Mapping[str, Any]) -> tuple[Operator, Fraction]:
        """The one (operator, fraction) pair of a bound written at ``path``."""
        ...

    def report(self, path: Path, message: str, code: str) -> None:
        """Report a problem at ``path``."""
        ...

    def meetings(self) -> Mapping[str, Any]:
        """The meetings stated under ``rule_set.choices.meetings``."""
        ...


class CompileContext(Protocol):
    """What a kind's compiler may ask of the procedure being compiled."""

    def cel(self, source: str, location: SourceLocation) -> CelExpression | None:
        """The checked, compiled expression; None (and a reported problem) when it is unusable."""
        ...

    def count(self, ref: CountRef) -> Count:
        """A count ready to evaluate (an expression's type checked against the schemas)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardKind:
    """One kind of guard.

    Attributes:
        name: the key that marks an entry of this kind (``quorum: {…}``).
        schema: the JSON Schema branch of ``$defs.guard.oneOf`` for this kind.
        build: reads a schema-valid entry (at a path) into the frozen model.
        compile: turns the model into a check; None when an expression is unusable
            (the problem is reported through the context).
    """

    name: str
    schema: Mapping[str, Any]
    build: Callable[[BuildContext, Path, Mapping[str, Any]], GuardModel]
    compile: Callable[[Any, CompileContext], GuardCheck | None]


# -- schema pieces the kinds share ------------------------------------------------------------

LABEL_SCHEMA: Mapping[str, Any] = {
    "type": "string",
    "description": "Plain-language name of this check, shown in explanations (Chinese welcome).",
}


def count_schema(description: str) -> dict[str, Any]:
    """A count: an integer literal or a CEL expression."""
    return {
        "anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1}],
        "description": description,
    }


def fraction_schema(description: str) -> dict[str, Any]:
    """A fraction written ``p/q`` (or an integer), never a decimal."""
    return {"type": "string", "pattern": "^-?[0-9]+(/[0-9]+)?$", "description": description}


OPERATOR_SCHEMAS: Mapping[str, Any] = {
    "more_than": fraction_schema(
        "Met when the count is strictly more than this fraction of the base (超过, 过半数): "
        "2*k > N for 1/2."
    ),
    "at_least": fraction_schema(
        "Met when the count is this fraction of the base or more (以上, 不少于): "
        "3*k >= 2*N for 2/3."
    ),
    "less_than": fraction_schema(
        "Met when the count is strictly less than this fraction of the base (低于, 不满): "
        "5*k < 3*N for 3/5."
    ),
    "at_most": fraction_schema(
        "Met when the count is this fraction of the base or less (以下, 以内)."
    ),
}
"""The four operators of a bound, one of which a threshold or quorum names."""


def entry_schema(name: str, description: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The branch for an entry ``{name: body}`` holding one check."""
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": {name: body},
        "required": [name],
    }
