"""The ``cel`` guard: a CEL expression over data, payload, actor and now that must be true.

The expression is compiled (and checked against the declared schemas) when the
procedure loads; the record keeps the expression and the values of the fields it
read, so an auditor sees what it was judged on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.errors import SourceLocation
from engine.guards.cel import CelExpression, CelRuntimeError
from engine.guards.checks import Env, GuardResult, guard_result
from engine.guards.kind import LABEL_SCHEMA, BuildContext, CompileContext, GuardKind, Path


@dataclass(frozen=True, slots=True, kw_only=True)
class CelGuard:
    """A CEL expression that must be true."""

    expression: str
    explain: str = ""
    label: str = ""
    location: SourceLocation
    kind: Literal["cel"] = "cel"


@dataclass(frozen=True, slots=True, kw_only=True)
class CelCheck:
    """A compiled CEL expression that must be true."""

    expression: CelExpression
    explain: str = ""
    label: str = ""
    kind: Literal["cel"] = "cel"
    # Each field the expression reads, split once: the record quotes their values.
    _fields: tuple[tuple[str, tuple[str, ...]], ...] = field(init=False, repr=False, compare=False)
    # The explanations of a verdict, written once (the guard runs on every attempt).
    _verdicts: dict[bool, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = tuple((dotted, tuple(dotted.split("."))) for dotted in self.expression.fields)
        object.__setattr__(self, "_fields", fields)
        verdicts = {True: f"{self.describe()}: holds", False: f"{self.describe()}: does not hold"}
        object.__setattr__(self, "_verdicts", verdicts)

    def describe(self) -> str:
        return self.explain or f"{self.expression.source} holds"

    def words(self) -> str:
        # An author's explanation is shown with the expression, so a reader sees what is tested.
        if self.explain:
            return f"{self.explain} ({self.expression.source})"
        return self.describe()

    def evaluate(self, env: Env) -> GuardResult:
        reads = self._reads(env)
        inputs = {"expression": self.expression.source, "reads": reads}
        try:
            value = self.expression.evaluate(env, reads)
        except CelRuntimeError as exc:
            return guard_result(
                kind="cel",
                label=self.label,
                passed=False,
                inputs=inputs,
                explanation=f"{self.describe()}: cannot be evaluated ({exc.message})",
                error=exc.message,
            )
        if not isinstance(value, bool):
            message = f"gave {value!r}, not true or false"
            return guard_result(
                kind="cel",
                label=self.label,
                passed=False,
                inputs=inputs,
                explanation=f"{self.describe()}: {message}",
                error=message,
            )
        return guard_result(
            kind="cel",
            label=self.label,
            passed=value,
            inputs=inputs,
            explanation=self._verdicts[value],
        )

    def _reads(self, env: Env) -> dict[str, Any]:
        """The values of the fields the expression reads (scalars and missing ones only)."""
        out: dict[str, Any] = {}
        for dotted, parts in self._fields:
            node: Any = env
            for part in parts:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                else:
                    node = None
                    break
            # Counts first: a union ``isinstance`` costs several times a ``type`` test.
            if node is None or type(node) is int or isinstance(node, str | int | bool):
                out[dotted] = node
        return out


def build(ctx: BuildContext, path: Path, raw: Mapping[str, Any]) -> CelGuard:
    """``{cel: …, explain: …, label: …}`` as a model guard."""
    return CelGuard(
        expression=raw["cel"],
        explain=raw.get("explain", ""),
        label=raw.get("label", ""),
        location=ctx.locate((*path, "cel")),
    )


def compile_guard(guard: CelGuard, ctx: CompileContext) -> CelCheck | None:
    """The check, or None when the expression is unusable (reported by the context)."""
    expression = ctx.cel(guard.expression, guard.location)
    if expression is None:
        return None
    return CelCheck(expression=expression, explain=guard.explain, label=guard.label)


KIND = GuardKind(
    name="cel",
    schema={
        "type": "object",
        "description": (
            "A CEL expression over data, payload, actor and now that must be true. Never Python."
        ),
        "additionalProperties": False,
        "properties": {
            "cel": {
                "type": "string",
                "description": "The CEL expression, compiled when the procedure loads.",
                "minLength": 1,
            },
            "explain": {
                "type": "string",
                "description": (
                    "What the expression checks, in plain words "
                    "(shown in explanations and describe)."
                ),
            },
            "label": LABEL_SCHEMA,
        },
        "required": ["cel"],
    },
    build=build,
    compile=compile_guard,
)
