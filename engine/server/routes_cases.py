"""``/cases``: open, read, list, fire and explain — the engine's calls, as the token's actor.

A refused attempt is recorded in the audit like any other, and answered
``422`` with a problem carrying the engine's reason (``code``: ``not-allowed``,
``not-authorised``, ``invalid-payload`` with ``violations``, ``guards-failed``
with ``guards``, ``action-failed``) and the ``case``/``seq`` it was recorded
at. An applied attempt is ``200`` with the outcome. ``ETag`` is the case's seq;
``If-Match: "<seq>"`` makes the attempt conditional (412 when the case moved),
and ``Idempotency-Key`` (the caller's own: keys are scoped per actor) makes a
retry return the first outcome.

Before any of that, ``engine.server.access`` keeps each token to its scope: a
case outside its units, a write by an auditor, or an attempt by an actor with no
role in the procedure is ``403`` and never reaches the engine or a chain.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from engine.errors import Conflict
from engine.runtime.queries import CaseFilter
from engine.runtime.snapshot import CaseSnapshot
from engine.runtime.types import Actor, Outcome
from engine.runtime.types import Reason as ReasonValue
from engine.server.access import forbidden, readable_case, writable_case, write_refusal
from engine.server.auth import Principal
from engine.server.deps import MAX_PAGE, Caller, Deps, Services
from engine.server.exact_json import require_exact, require_shallow
from engine.server.models import (
    CASE_ID,
    IDEMPOTENCY_KEY,
    CaseOut,
    CasePage,
    CaseSummary,
    Deadline,
    ExplainEvent,
    ExplanationOut,
    FireEvent,
    OpenCase,
    OutcomeOut,
    ProcedureRef,
    Reason,
    TransitionOut,
)
from engine.server.problems import PROBLEM_TYPE, ProblemError, documented, problem_body
from engine.units import check_unit

router = APIRouter(tags=["cases"])

CaseId = Annotated[str, Path(pattern=CASE_ID, description="The case id.")]
IF_MATCH = r'^(\*|"[0-9]{1,18}"|[0-9]{1,18})$'
PROCEDURE_ID = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
STATE_ID = r"^[a-z][a-z0-9_]*$"
CURSOR = r'^\[-?[0-9]{1,19},".+"\]$'
_NOT_A_CURSOR = "after: not a cursor from a previous page"


def actor_of(caller: Principal) -> Actor:
    """The actor the engine records: the token's, never one from the body."""
    return caller.as_actor()


def etag(seq: int) -> str:
    """The ``ETag`` of a case at ``seq`` (a strong tag)."""
    return f'"{seq}"'


def reason_out(reason: ReasonValue | None) -> Reason | None:
    """An engine reason as the API returns it."""
    if reason is None:
        return None
    return Reason(code=reason.code, message=reason.message, details=list(reason.details))


class OutcomeJSON(JSONResponse):
    """``JSONResponse``'s bytes, written by orjson (a sixth of the time, measured).

    An outcome's values come from its sealed record, and the seal refuses floats
    (docs/audit-log.md): for strings (every code point), integers, booleans, null,
    lists and objects the two encoders write the same bytes (a property test checks
    it). What orjson cannot write (an integer beyond 64 bits, a key that is not a
    string) takes ``JSONResponse``'s own road, error included.
    """

    def render(self, content: Any) -> bytes:
        """The compact UTF-8 JSON of ``content``, as ``JSONResponse.render`` writes it."""
        try:
            return orjson.dumps(content)
        except TypeError:
            return super().render(content)


def outcome_response(
    outcome: Outcome, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An engine outcome as the API returns it: ``Outcome.to_json()``, the CLI's ``--json`` form.

    The engine built it from checked values, so it is sent as it is (``OutcomeOut``
    documents it in the OpenAPI schema) rather than validated again per request.
    """
    return OutcomeJSON(outcome.to_json(), status_code=status_code, headers=headers)


def refusal(outcome: Outcome) -> JSONResponse:
    """A recorded refusal as a 422 problem with the engine's reason.

    The problem carries the outcome's fields a client needs at a glance, and the
    whole outcome, in its one JSON form, as ``outcome``.
    """
    reason = outcome.reason
    assert reason is not None
    extra: dict[str, Any] = {
        "case": outcome.case,
        "seq": outcome.seq,
        "event": outcome.event,
        "state": outcome.from_state,
        "recorded": True,
        "replayed": outcome.replayed,
        "hash": outcome.record.get("hash"),
    }
    if reason.code in ("invalid-payload", "action-failed") and reason.details:
        extra["violations"] = [dict(d) for d in reason.details if isinstance(d, dict)]
    if outcome.guards:
        extra["guards"] = [dict(g) for g in outcome.guards]
    extra["outcome"] = outcome.to_json()
    headers = {} if outcome.replayed else {"ETag": etag(outcome.seq)}
    return OutcomeJSON(
        problem_body(422, reason.code, reason.message, extra),
        status_code=422,
        media_type=PROBLEM_TYPE,
        headers=headers,
    )


@router.post(
    "/cases",
    status_code=201,
    response_model=OutcomeOut,
    response_model_by_alias=True,
    responses=documented(403, 404, 409, 413),
)
def open_case(body: OpenCase, request: Request, deps: Deps, caller: Caller) -> JSONResponse:
    """Open a case of a registered procedure version in its initial state (201).

    The token must hold one of the procedure's ``opened_by`` roles and cover the
    case's unit; the data is checked against the procedure's data schema.

    Raises:
        ProblemError: 404 for an unknown procedure version; 403 (logged, nothing
            stored) when the token may not open it in that unit.
        CaseExists: answered 409 ``case-exists``.
        InvalidData: answered 422 ``invalid-data`` with each violation.
        InvalidUnit: answered 422 ``invalid-unit``.
    """
    compiled = deps.engine.procedure(body.procedure)
    if compiled is None:
        raise ProblemError(404, "unknown-procedure", f"no procedure version {body.procedure}")
    unit = body.unit
    if unit is None:
        # A token for exactly one unit opens there; otherwise the unit must be named.
        unit = caller.units[0] if caller.units is not None and len(caller.units) == 1 else ""
    check_unit(unit)
    procedure = compiled.procedure
    if not caller.may_open(procedure, unit):
        if caller.auditor:
            why = "auditors read, they do not act"
        elif not caller.covers(unit):
            why = f"the unit {unit or '(none)'} is outside their units"
        else:
            roles = ", ".join(procedure.opening_roles)
            why = f"opening a case of {procedure.id} needs one of the roles: {roles}"
        raise forbidden(request, f"{caller.actor} may not open this case: {why}")
    require_exact(body.data, "body.data")
    outcome = deps.engine.open_case(compiled, body.id, body.data, actor=actor_of(caller), unit=unit)
    headers = {"Location": f"/cases/{body.id}", "ETag": etag(outcome.seq)}
    return outcome_response(outcome, status_code=201, headers=headers)


@router.get("/cases", response_model=CasePage, responses=documented())
def list_cases(
    *,
    deps: Deps,
    caller: Caller,
    procedure: Annotated[
        str | None, Query(pattern=PROCEDURE_ID, description="Procedure id.")
    ] = None,
    state: Annotated[str | None, Query(pattern=STATE_ID, description="State id.")] = None,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="Updated at or after (RFC 3339).")
    ] = None,
    updated_before: Annotated[
        AwareDatetime | None, Query(description="Updated before (RFC 3339).")
    ] = None,
    after: Annotated[
        str | None,
        Query(pattern=CURSOR, max_length=300, description="The previous page's next."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> CasePage:
    """Cases, most recently updated first, one page at a time (keyset paging).

    Raises:
        InvalidCursor: answered 422 ``invalid-request``.
    """
    where = CaseFilter(
        units=caller.units,
        procedure=procedure,
        state=state,
        updated_since=_bounded(updated_since, "updated_since"),
        updated_before=_bounded(updated_before, "updated_before"),
    )
    page = deps.engine.list_cases(where, after=after, limit=limit)
    return CasePage(
        cases=[
            CaseSummary(
                id=c.id,
                procedure=ProcedureRef(
                    id=c.procedure_id, version=c.procedure_version, sha256=c.procedure_sha256
                ),
                state=c.state,
                final=c.final,
                seq=c.seq,
                updated_at=c.updated_at,
                unit=c.unit,
            )
            for c in page.cases
        ],
        next=page.next,
    )


def _bounded(moment: Any, name: str) -> Any:
    """A filter time in UTC, refused (located at the query parameter ``name``) when it has
    no UTC form: outside the years 1–9999 that records hold and the store orders."""
    if moment is None:
        return None
    from engine.runtime.clock import normalise

    try:
        return normalise(moment)
    except ValueError as exc:
        path = f"query.{name}"
        raise ProblemError(
            422,
            "invalid-request",
            f"{path}: {exc}",
            extra={"violations": [{"path": path, "message": str(exc)}]},
        ) from exc


@router.get("/cases/{case_id}", response_model=CaseOut, responses=documented(403, 404))
def get_case(
    case_id: CaseId, request: Request, response: Response, deps: Deps, caller: Caller
) -> CaseOut:
    """The case as it stands: state, data, seq (also its ``ETag``), head, deadline, unit."""
    readable_case(deps, caller, request, case_id)
    view = deps.engine.case(case_id, history=False)
    response.headers["ETag"] = etag(view.seq)
    return CaseOut(
        id=view.id,
        procedure=ProcedureRef(**dict(view.procedure)),
        state=view.state,
        final=view.final,
        seq=view.seq,
        head=view.head,
        deadline=Deadline(**dict(view.deadline)) if view.deadline else None,
        data=dict(view.data),
        unit=view.unit,
    )


@router.post(
    "/cases/{case_id}/events",
    response_model=OutcomeOut,
    response_model_by_alias=True,
    responses=documented(403, 404, 409, 412, 413),
)
def fire(
    *,
    case_id: CaseId,
    body: FireEvent,
    request: Request,
    deps: Deps,
    caller: Caller,
    idempotency_key: Annotated[
        str | None,
        Header(pattern=IDEMPOTENCY_KEY, description="A retry with this key applies once."),
    ] = None,
    if_match: Annotated[
        str | None, Header(pattern=IF_MATCH, description='The seq the case must be at: "3".')
    ] = None,
) -> JSONResponse:
    """Attempt an event as the token's actor: 200 applied, 422 refused (recorded all the same).

    Raises:
        UnknownCase: answered 404.
        ProblemError: 412 when ``If-Match`` names another seq (or the case moved meanwhile);
            403 (logged, not recorded) outside the token's scope.
        Conflict: answered 409 when a concurrent writer committed first (retry).
        IdempotencyMismatch: answered 422 ``idempotency-key-reused``.
    """
    return fire_checked(
        deps,
        caller,
        request,
        case_id,
        event=body.event,
        payload=body.payload,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )


class _Refused(Exception):
    """The door's refusal inside ``Engine.fire``: answered 403 and logged once, outside it."""


def fire_checked(
    deps: Services,
    caller: Principal,
    request: Request,
    case_id: str,
    *,
    event: str,
    payload: dict[str, Any],
    idempotency_key: str | None,
    if_match: str | None,
) -> JSONResponse:
    """``fire`` once the request has been read and checked: the door, then the engine.

    Shared by the route and by ``engine.server.fast_fire`` (which reads and checks
    the request itself), so both answer alike from here on. Blocking: run it in
    the thread pool.

    Raises:
        as ``fire``.
    """
    expected = None
    if if_match is not None and if_match != "*":
        expected = int(if_match.strip('"'))

    def door(snapshot: CaseSnapshot) -> None:
        # Asked by the engine about the snapshot it fires on, so the door reads nothing.
        detail = write_refusal(deps, caller, snapshot)
        if detail is not None:
            raise _Refused(detail)
        # Inexact values go on to the engine, which refuses and records them (payload
        # withheld); only nesting too deep to copy is stopped, after the door.
        require_shallow(payload, "body.payload")

    try:
        outcome = deps.engine.fire(
            case_id,
            event,
            actor=actor_of(caller),
            payload=payload,
            idempotency_key=idempotency_key,
            expected_seq=expected,
            door=door,
        )
    except _Refused as exc:
        raise forbidden(request, str(exc)) from None
    except Conflict as exc:
        if expected is None:
            raise
        raise ProblemError(412, "precondition-failed", str(exc)) from exc
    if not outcome.applied:
        return refusal(outcome)
    # A retry's first outcome is not the case's current seq: no ETag for it.
    headers = None if outcome.replayed else {"ETag": etag(outcome.seq)}
    return outcome_response(outcome, headers=headers)


@router.post(
    "/cases/{case_id}/explain", response_model=ExplanationOut, responses=documented(403, 404)
)
def explain(
    case_id: CaseId, body: ExplainEvent, request: Request, deps: Deps, caller: Caller
) -> ExplanationOut:
    """What the event would need now, for the token's actor: each transition's guards.

    The event, the actor's role and the payload (when given) are checked first; a
    failing check is the answer and no guard is evaluated. An auditor's
    explanation is for no particular actor (roles are not checked).
    """
    if caller.auditor:
        readable_case(deps, caller, request, case_id)
        who = None
    else:
        writable_case(deps, caller, request, case_id)
        who = actor_of(caller)
    require_exact(body.payload, "body.payload")  # guards would bind it; nothing is recorded
    explained = deps.engine.explain(case_id, body.event, actor=who, payload=body.payload)
    return ExplanationOut(
        case=explained.case,
        event=explained.event,
        state=explained.state,
        allowed=explained.allowed,
        reason=reason_out(explained.reason),
        transitions=[
            TransitionOut(
                index=t.index,
                target=t.target,
                label=t.label,
                ready=t.ready,
                guards=[dict(g) for g in t.guards],
            )
            for t in explained.transitions
        ],
    )
