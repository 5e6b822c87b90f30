"""The token's scope on the pages: the same door the API's ``access`` module keeps.

A page reads a case only inside the principal's units, acts only where the API
would let the same token act (not an auditor, a role in the procedure), and
opens a case only with an ``opened_by`` role in a unit the principal covers. A
refusal is a plain 403 page, logged one bounded line like the API's; nothing
reaches the engine, so nothing is written to any chain.
"""

from __future__ import annotations

from starlette.requests import Request

from engine.definition.model import Procedure
from engine.errors import UnknownCase
from engine.runtime.snapshot import CaseSnapshot
from engine.server.access import log_refusal
from engine.server.auth import Principal
from engine.web.context import deps_of
from engine.web.sessions import Session


class Refused(Exception):
    """The principal may not do this: answered with a 403 page (and logged)."""

    def __init__(self, detail: str, session: Session) -> None:
        super().__init__(detail)
        self.session = session


def refuse(request: Request, session: Session, detail: str) -> Refused:
    """A logged refusal, to raise (the log line names the actor, never the token)."""
    request.state.principal = session.principal
    log_refusal(request, detail)
    return Refused(detail, session)


def readable(request: Request, session: Session, case_id: str) -> CaseSnapshot | None:
    """The case when the principal's units cover it; None when there is no such case.

    Raises:
        Refused: when the case lies outside the principal's units.
    """
    try:
        snapshot = deps_of(request).engine.snapshot(case_id)
    except UnknownCase:
        return None
    who = session.principal
    if not who.may_read(snapshot.unit):
        raise refuse(
            request, session, f"{who.actor} may not see case {case_id}: outside their units"
        )
    return snapshot


def check_writer(
    request: Request, session: Session, procedure: Procedure, snapshot: CaseSnapshot
) -> None:
    """Refuse an auditor, or a principal with no role in the case's procedure.

    Raises:
        Refused: saying why; the attempt is not recorded.
    """
    who = session.principal
    if who.auditor:
        raise refuse(request, session, f"{who.actor} is an auditor: auditors read, they do not act")
    if not who.may_write(procedure, snapshot.unit):
        raise refuse(
            request,
            session,
            f"{who.actor} holds no role of {procedure.id} ({procedure.title}); "
            "the attempt was not recorded",
        )


def open_unit(principal: Principal, given: str | None) -> str:
    """The unit a new case opens in: the one typed, else the principal's only unit, else none."""
    if given:
        return given
    units = principal.units
    return units[0] if units is not None and len(units) == 1 else ""


def unit_choice(principal: Principal) -> tuple[str, ...] | None:
    """The units offered in the open form, or None when the only unit is implied.

    A principal of one unit opens there without a field; with several units (or
    none named: not limited to units) the form asks which.
    """
    if principal.units is not None and len(principal.units) == 1:
        return None
    return principal.units or ()


def check_opener(request: Request, session: Session, procedure: Procedure, unit: str) -> None:
    """Refuse opening a case of ``procedure`` in ``unit`` where the API's ``POST /cases`` would.

    Raises:
        Refused: saying why; nothing is stored.
    """
    who = session.principal
    if who.may_open(procedure, unit):
        return
    if who.auditor:
        why = "auditors read, they do not act"
    elif not who.covers(unit):
        why = f"the unit {unit or '(none)'} is outside their units"
    else:
        why = f"opening a case of {procedure.id} needs one of the roles: " + ", ".join(
            procedure.opening_roles
        )
    raise refuse(request, session, f"{who.actor} may not open this case: {why}")
