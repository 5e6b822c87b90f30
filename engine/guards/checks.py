"""What every compiled guard shares: its result, its counts, and the check protocol.

An environment is the plain dict CEL sees: ``data``, ``payload``, ``actor``
(``{"id": …, "roles": […]}``) and ``now`` (the attempt's recorded time). A guard
never reads anything else, so the same recorded inputs always give the same
result, which is what makes replay possible.

Every evaluation returns a ``GuardResult`` carrying its inputs, its result and
an explanation in words; a guard whose inputs are missing or of the wrong type
fails with the reason instead of raising. Each kind's check is in its own module
under ``engine.guards.kinds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.frozen import builder
from engine.guards.cel import CelExpression, CelRuntimeError

Env = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardResult:
    """One guard's verdict, with its inputs and an explanation (recorded in the audit)."""

    kind: str
    label: str
    passed: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    explanation: str
    error: str | None = None

    def record(self) -> dict[str, Any]:
        """The JSON-ready form stored in audit records."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "inputs": self.inputs,
            "result": self.passed,
            "explanation": self.explanation,
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    def record_for(self, transition: int) -> dict[str, Any]:
        """The form stored in an attempt's record: ``record()`` naming its transition first."""
        out: dict[str, Any] = {
            "transition": transition,
            "kind": self.kind,
            "label": self.label,
            "inputs": self.inputs,
            "result": self.passed,
            "explanation": self.explanation,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


guard_result = builder(GuardResult)
"""``GuardResult(...)`` at a fraction of the cost (``engine.frozen``): every guard of every
attempt makes one."""


class InputError(Exception):
    """A count could not be read: missing, not an integer, or its expression failed."""


@dataclass(frozen=True, slots=True)
class Count:
    """A count in a guard: an integer literal or a compiled CEL expression.

    When the expression is a bare field path (``payload.present``), ``path`` holds its
    parts and the value is read directly, without a round trip through CEL.
    """

    literal: int | None = None
    expression: CelExpression | None = None
    path: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return str(self.literal) if self.expression is None else self.expression.source

    def value(self, env: Env) -> int:
        if self.expression is None:
            return int(self.literal or 0)
        if self.path:
            # Read inline rather than through a helper: three counts an event are read
            # this way, and the call cost as much as the walk. Plain subscripts (the
            # values are JSON: anything but a dict refuses a key) cost a third less than
            # testing each node first; the part that is missing is found only on failure.
            result: Any = env
            try:
                for part in self.path:
                    result = result[part]
            except (KeyError, TypeError, IndexError):
                missing = self._missing(env)
                raise InputError(f"{self.expression.source}: no value for {missing!r}") from None
        else:
            try:
                result = self.expression.evaluate(env)
            except CelRuntimeError as exc:
                raise InputError(f"{self.expression.source}: {exc.message}") from exc
        if type(result) is int:  # the common case, checked first: counts are read per guard
            return result
        if isinstance(result, bool) or not isinstance(result, int):
            raise InputError(f"{self.expression.source} gave {result!r}, not an integer")
        return result

    def _missing(self, env: Env) -> str:
        """The first part of ``path`` that ``env`` holds no value for."""
        node: Any = env
        for part in self.path:
            if not isinstance(node, dict) or part not in node:
                return part
            node = node[part]
        return self.path[-1]  # pragma: no cover - called only when a part is missing


class GuardCheck(Protocol):
    """A compiled guard of any kind (see ``engine.guards.kind``)."""

    @property
    def kind(self) -> str: ...

    @property
    def label(self) -> str: ...

    def describe(self) -> str:
        """What the guard tests, in words (the start of a failure's explanation)."""
        ...

    def words(self) -> str:
        """The guard in words for ``describe``: ``describe()`` and whatever makes it exact."""
        ...

    def evaluate(self, env: Env) -> GuardResult:
        """The verdict on ``env``, explained; never raises on bad inputs."""
        ...


def failed(kind: str, label: str, described: str, reason: str) -> GuardResult:
    """The result of a guard that cannot be evaluated: its inputs are missing or wrong."""
    return guard_result(
        kind=kind,
        label=label,
        passed=False,
        inputs={},
        explanation=f"{described}: cannot be evaluated ({reason})",
        error=reason,
    )
