"""The guard-kind registry: every kind of guard a procedure may write, in schema order.

Like the action registry, this is the one list the rest of the engine reads: the
builder finds an entry's kind here, the compiler its check, ``engine.reference``
its documentation, and a drift test holds the procedure schema's
``$defs.guard.oneOf`` to the kinds' schema branches. Nothing else asks which kind
a guard is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.guards.checks import GuardCheck
from engine.guards.kind import BuildContext, CompileContext, GuardKind, GuardModel, Path
from engine.guards.kinds import cel, margin, meeting_rule, threshold, weights

GUARD_KINDS: tuple[GuardKind, ...] = (
    cel.KIND,
    threshold.QUORUM,
    threshold.THRESHOLD,
    margin.KIND,
    weights.KIND,
    meeting_rule.KIND,
)
"""Every guard kind, in the order the procedure schema lists them."""

_BY_NAME: Mapping[str, GuardKind] = {kind.name: kind for kind in GUARD_KINDS}

GUARD_DESCRIPTION = (
    "A condition that must hold for the transition to run. Exactly one kind per entry."
)


def guard_schema() -> dict[str, Any]:
    """``$defs.guard`` of the procedure schema, from the kinds' branches."""
    return {
        "description": GUARD_DESCRIPTION,
        "oneOf": [dict(kind.schema) for kind in GUARD_KINDS],
    }


def kind_named(name: str) -> GuardKind:
    """The kind called ``name`` (a model guard's or a check's ``kind``).

    Raises:
        KeyError: for a name no kind has.
    """
    return _BY_NAME[name]


def kind_of(entry: Mapping[str, Any]) -> GuardKind:
    """The kind of a schema-valid guard entry: the one whose key the entry holds.

    Raises:
        KeyError: when the entry holds no kind's key (the schema check rules that out).
    """
    for kind in GUARD_KINDS:
        if kind.name in entry:
            return kind
    raise KeyError(f"no guard kind among {sorted(entry)}")


def build_guard(ctx: BuildContext, path: Path, entry: Mapping[str, Any]) -> GuardModel:
    """The model of a schema-valid guard entry written at ``path``."""
    return kind_of(entry).build(ctx, path, entry)


def compile_guard(guard: GuardModel, ctx: CompileContext) -> GuardCheck | None:
    """The check of a model guard; None when its expression is unusable (reported)."""
    return kind_named(guard.kind).compile(guard, ctx)
