"""``ActionSpec``: what an action declares of itself, and the signature it runs with.

Apart from the registry so that the action modules (which each declare specs)
and the registry (which gathers them) import this module, not each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.context import ActionContext

ActionFunction = Callable[[Mapping[str, Any], ActionContext], Any]
"""An action: ``run(params, context)`` returns its JSON-ready output."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """A registered action.

    Attributes:
        name: how procedures call it.
        description: what it does, in plain words (shown by describe).
        params_schema: JSON Schema of its parameters.
        run: the function itself.
        expressions: parameters holding CEL expressions, compiled at load time.
        writes: the parameter holding the ``data.…`` path it writes, if any.
        rule: the parameter naming one of the procedure's counting rules, if any
            (``validate`` checks that the rule exists).
        writes_shape: what it writes into the data, in words (for the reference).
        statuses: the ``status`` values its output may carry (for the reference).
        example: a call as a procedure writes it (for the reference).
    """

    name: str
    description: str
    params_schema: Mapping[str, Any]
    run: ActionFunction
    expressions: tuple[str, ...] = ()
    writes: str | None = None
    rule: str | None = None
    writes_shape: str = ""
    statuses: tuple[str, ...] = ()
    example: str = ""
