"""The door of the HTTP API: a token's scope applied to cases, before the engine is asked.

Every case endpoint fetches the case through here, except an event attempt: the
engine hands ``write_refusal`` the snapshot it fires on (``Engine.fire``'s
``door``), so the case is not read twice. A case outside the token's
units, a write by an auditor, or an attempt by an actor who holds no role in the
case's procedure is answered ``403 forbidden`` and logged by the server, one
bounded line per refusal; the attempt is not recorded, so nothing is written to
any chain. The engine makes the same role checks itself (``Forbidden``), so an
embedding system that bypasses this module is held to them too.
"""

from __future__ import annotations

import logging

from fastapi import Request

from engine.definition.model import Procedure
from engine.runtime.snapshot import CaseSnapshot
from engine.server.auth import Principal
from engine.server.deps import Services
from engine.server.problems import ProblemError

_log = logging.getLogger("yishi.server")

_LOGGED = 240
"""How many characters of a path, an actor id or a reason one log line repeats."""


def _clip(text: str, limit: int = _LOGGED) -> str:
    # Chinese names stay readable; control characters (a forged log line) are escaped.
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return shown if len(shown) <= limit else shown[:limit] + "…"


def log_refusal(request: Request, detail: str) -> None:
    """One bounded log line for a request refused at the door (never the token)."""
    who = getattr(request.state, "principal", None)
    actor = who.actor if isinstance(who, Principal) else "?"
    _log.warning(
        "forbidden: %s %s actor=%s: %s",
        request.method,
        _clip(request.url.path, 120),
        _clip(actor, 64),
        _clip(detail),
    )


def forbidden(request: Request, detail: str) -> ProblemError:
    """A logged ``403 forbidden`` problem, to raise."""
    log_refusal(request, detail)
    return ProblemError(403, "forbidden", detail)


def readable_case(
    services: Services, caller: Principal, request: Request, case_id: str
) -> CaseSnapshot:
    """The case, when the caller's units cover it.

    Raises:
        UnknownCase: answered 404.
        ProblemError: 403 when the case lies outside the caller's units.
    """
    snapshot = services.engine.snapshot(case_id)
    if not caller.may_read(snapshot.unit):
        raise forbidden(request, _unseen(caller, case_id))
    return snapshot


def _unseen(caller: Principal, case_id: str) -> str:
    return f"{caller.actor} may not see case {case_id}: outside their units"


def procedure_of(services: Services, snapshot: CaseSnapshot) -> Procedure:
    """The procedure version a case runs under (compiled once, kept by the engine)."""
    compiled = services.engine.procedure(snapshot.procedure_sha256)
    if compiled is None:
        raise ProblemError(
            503, "store-unavailable", "the case's procedure version is not in the store"
        )
    return compiled.procedure


def write_refusal(services: Services, caller: Principal, snapshot: CaseSnapshot) -> str | None:
    """Why ``caller`` may not attempt events on the case ``snapshot`` shows; None when they may.

    Raises:
        ProblemError: 503 when the case's procedure version is not in the store.
    """
    if not caller.may_read(snapshot.unit):
        return _unseen(caller, snapshot.id)
    if caller.auditor:
        return f"{caller.actor} is an auditor: auditors read, they do not act"
    procedure = procedure_of(services, snapshot)
    if not caller.may_write(procedure, snapshot.unit):
        return (
            f"{caller.actor} holds no role of {procedure.id} ({procedure.title}); "
            "the attempt was not recorded"
        )
    return None


def writable_case(
    services: Services, caller: Principal, request: Request, case_id: str
) -> CaseSnapshot:
    """The case, when the caller may attempt events on it.

    Raises:
        UnknownCase: answered 404.
        ProblemError: 403 for an auditor, a case outside the caller's units, or a
            caller who holds no role in the case's procedure.
    """
    snapshot = services.engine.snapshot(case_id)
    detail = write_refusal(services, caller, snapshot)
    if detail is not None:
        raise forbidden(request, detail)
    return snapshot
