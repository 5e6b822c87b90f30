"""The door: who may open a procedure's cases, and who may act on a case at all.

These checks run before anything else of an attempt — before the case's rules,
its payload schema or any guard — and a refusal here is raised, not recorded: a
caller who holds no role in a procedure has no business in its chain, so their
attempts cannot grow it, bump its seq or fill it with their payloads. Everyone
who passes the door is held to the recorded checks of ``attempt`` (an actor with
a role in the procedure but not the event's is refused *and recorded*).
"""

from __future__ import annotations

from engine.definition.model import Procedure
from engine.errors import Forbidden
from engine.runtime.types import Actor

_SHOWN = 64
"""How many characters of an actor id a message repeats."""


def _name(actor: Actor) -> str:
    return actor.id if len(actor.id) <= _SHOWN else actor.id[:_SHOWN] + "…"


def _roles(procedure: Procedure, roles: tuple[str, ...]) -> str:
    return ", ".join(f"{r} ({procedure.roles[r].label})" for r in roles if r in procedure.roles)


def holds_role_in(procedure: Procedure, actor: Actor) -> bool:
    """Whether ``actor`` holds at least one role the procedure declares."""
    return any(role in procedure.roles for role in actor.roles)


def may_open(procedure: Procedure, actor: Actor) -> bool:
    """Whether ``actor`` holds a role that may open the procedure's cases."""
    return any(role in procedure.opening_roles for role in actor.roles)


def check_opener(procedure: Procedure, actor: Actor) -> None:
    """Refuse (unrecorded) an actor who may not open a case of ``procedure``.

    Raises:
        Forbidden: naming the roles that may.
    """
    if not may_open(procedure, actor):
        raise Forbidden(
            f"{_name(actor)} may not open a case of {procedure.id} ({procedure.title}): "
            f"it may be opened by {_roles(procedure, procedure.opening_roles) or 'nobody'}"
        )


def check_member(procedure: Procedure, actor: Actor) -> None:
    """Refuse (unrecorded) an actor who holds no role at all in ``procedure``.

    Raises:
        Forbidden: saying that nothing was recorded.
    """
    if not holds_role_in(procedure, actor):
        raise Forbidden(
            f"{_name(actor)} holds no role of {procedure.id} ({procedure.title}); "
            "the attempt was not recorded"
        )
