"""The cases list and the case page: diagram, timeline, deadlines, chain status, and acting.

Reading goes through the same store and engine calls the API's ``/cases`` routes
use; acting goes through ``Engine.explain`` ("check first", records nothing) and
``Engine.fire`` with the seq the page was drawn at as the expected seq, exactly
as the API's ``If-Match`` does — so a second person who acted first is shown
as a conflict, never silently overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine.audit.verify import verify_lines
from engine.definition.model import Procedure
from engine.errors import CaseExists, Conflict, EngineError, UnknownCase
from engine.runtime.attempt import InvalidData
from engine.runtime.snapshot import CaseSnapshot
from engine.server.models import CASE_ID, EVENT_ID
from engine.server.routes_cases import actor_of
from engine.storage.base import CaseFilter
from engine.storage.rows import decode_cursor, encode_cursor, text_micros
from engine.units import InvalidUnit, check_unit
from engine.web.context import check_csrf, deps_of, session_of
from engine.web.diagram import case_dot, path_of, to_svg
from engine.web.forms import candidate_rows, fields_of, read_form, table_rows
from engine.web.pages_documents import document_rows
from engine.web.render import page, secure
from engine.web.scope import check_opener, check_writer, open_unit, readable
from engine.web.sessions import Session
from engine.web.views import local_time, remaining, shown, timeline, zone_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
TIMELINE_ROWS = 200
"""Records the case page shows at first (newest first); ``?all=1`` shows every one."""
SCAN_LIMIT = 5_000
"""Cases a text or deadline search looks at per page before offering to continue."""


def _procedure(request: Request, sha256: str) -> Procedure | None:
    try:
        compiled = deps_of(request).catalog.get(sha256)
    except EngineError:
        return None
    return compiled.procedure if compiled is not None else None


def _matches(case: CaseSnapshot, text: str, due_by: datetime | None) -> bool:
    if due_by is not None and (case.deadline_at is None or case.deadline_at > due_by):
        return False
    if not text:
        return True
    needle = text.casefold()
    if needle in case.id.casefold():
        return True
    return any(isinstance(v, str) and needle in v.casefold() for v in case.data.values())


def find_cases(
    request: Request,
    *,
    procedure: str | None,
    state: str | None,
    text: str,
    due_days: int | None,
    after: str | None,
    units: tuple[str, ...] | None = None,
) -> tuple[list[CaseSnapshot], str | None, int]:
    """One page of cases matching the filters, the cursor of the next page, and cases scanned.

    The store filters by procedure and state; text (id and the data's text values)
    and "deadline due within N days" are checked here over at most ``SCAN_LIMIT``
    cases per page, continuing from where the previous page stopped. ``units``
    keeps only the cases of those units (None: every unit), as the API's list does.
    """
    store = deps_of(request).engine.store
    where = CaseFilter(procedure=procedure or None, state=state or None, units=units)
    due_by = None
    if due_days is not None:
        from datetime import timedelta

        due_by = datetime.now(UTC) + timedelta(days=due_days)
    if not text and due_by is None:
        found = store.list_cases(where, after=after, limit=PAGE_SIZE)
        return list(found.cases), found.next, len(found.cases)
    picked: list[CaseSnapshot] = []
    scanned = 0
    cursor = after
    while scanned < SCAN_LIMIT:
        batch = store.list_cases(where, after=cursor, limit=200)
        for case in batch.cases:
            scanned += 1
            if _matches(case, text, due_by):
                picked.append(case)
                if len(picked) == PAGE_SIZE:
                    return picked, _cursor_at(case), scanned
        if batch.next is None:
            return picked, None, scanned
        cursor = batch.next
    return picked, cursor, scanned


def _cursor_at(case: CaseSnapshot) -> str:
    return encode_cursor(text_micros(case.updated_at), case.id)


def _valid_cursor(text: str | None) -> str | None:
    if not text:
        return None
    try:
        decode_cursor(text)
    except EngineError:
        return None
    return text


@router.get("/ui/cases")
def cases_page(request: Request) -> Response:
    """The cases list with its filters and paging."""
    session = session_of(request)
    query = request.query_params
    due = query.get("due", "")
    due_days = int(due) if due.isdigit() and len(due) <= 4 else None
    text = query.get("q", "").strip()[:100]
    procedure = query.get("procedure", "")[:100]
    state = query.get("state", "")[:100]
    cases, more, scanned = find_cases(
        request,
        procedure=procedure,
        state=state,
        text=text,
        due_days=due_days,
        after=_valid_cursor(query.get("after")),
        units=session.principal.units,
    )
    refs = deps_of(request).engine.store.procedures()
    labels: dict[str, Procedure | None] = {}
    rows = []
    for case in cases:
        if case.procedure_sha256 not in labels:
            labels[case.procedure_sha256] = _procedure(request, case.procedure_sha256)
        spec = labels[case.procedure_sha256]
        state_spec = spec.states.get(case.state) if spec is not None else None
        rows.append(
            {
                "id": case.id,
                "title": spec.title if spec is not None else case.procedure_id,
                "version": case.procedure_version,
                "state": case.state,
                "state_label": state_spec.label if state_spec is not None else "",
                "final": case.final,
                "seq": case.seq,
                "updated": case.updated_at,
                "deadline": case.deadline_at.isoformat() if case.deadline_at else "",
            }
        )
    return page(
        "cases.html",
        title="案件 Cases",
        user=session,
        rows=rows,
        more=more,
        scanned=scanned,
        procedures=sorted({r.id for r in refs}),
        filters={"procedure": procedure, "state": state, "q": text, "due": due},
    )


def _events_for(
    procedure: Procedure, snapshot: CaseSnapshot, session: Session, data: Mapping[str, Any]
) -> list[dict[str, Any]]:
    # Forms only where the API would record the attempt: never for an auditor, nor
    # for a principal holding no role of the procedure.
    if not session.principal.may_write(procedure, snapshot.unit):
        return []
    state = snapshot.state
    held = set(session.principal.roles)
    rows = candidate_rows(data)
    found = []
    for event in procedure.events_from(state):
        if not held & set(event.roles):
            continue
        found.append(
            {
                "id": event.id,
                "label": event.label,
                "description": event.description,
                "fields": fields_of(event.payload_schema, rows=rows),
                "secret": event.secret_ballot,
            }
        )
    return found


def _chain(lines: list[bytes], seq: int, head: str) -> dict[str, Any]:
    report = verify_lines(lines)
    last = report.heads[-1] if report.heads else None
    ok = report.ok and last is not None and last.seq == seq and last.hash == head
    return {
        "ok": ok,
        "records": report.records,
        "upto": last.seq if last is not None else 0,
        "head": head,
        "message": report.message,
    }


def case_page(
    request: Request,
    session: Session,
    case_id: str,
    *,
    status: int = 200,
    notice: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    show_all: bool = False,
) -> Response:
    """Draw the case page (also after an attempt, with its ``notice``).

    The timeline shows the newest ``TIMELINE_ROWS`` records unless ``show_all``; the
    page says how many are older and links to all of them.
    """
    engine = deps_of(request).engine
    snapshot = readable(request, session, case_id)
    try:
        view = engine.case(case_id, history=False)
    except UnknownCase:
        snapshot = None
    if snapshot is None:
        return page(
            "error.html", status=404, title="无此案件", user=session, message=f"no case {case_id!r}"
        )
    # One read of the log serves both the chain check and the timeline: the lines
    # verified are the lines shown.
    lines = engine.store.export_lines(case_id)[: view.seq]
    chain = _chain(lines, view.seq, view.head)
    records = [orjson.loads(line) for line in lines]
    recent = records if show_all else records[-TIMELINE_ROWS:]
    procedure = _procedure(request, view.procedure["sha256"])
    state = procedure.states.get(view.state) if procedure is not None else None
    deadline = None
    if view.deadline is not None:
        days = state.deadline.days if state is not None and state.deadline is not None else ""
        event = procedure.events.get(view.deadline["event"]) if procedure is not None else None
        zone = zone_of(procedure)
        deadline = {
            "at": view.deadline["at"],
            "local": local_time(view.deadline["at"], zone),
            "zone": str(zone),
            "event": view.deadline["event"],
            "event_label": event.label if event is not None else "",
            "days": days,
            "remaining": remaining(view.deadline["at"], datetime.now(UTC), str(days), zone),
        }
    return page(
        "case.html",
        status=status,
        title=f"案件 {view.id}",
        user=session,
        case=view,
        procedure=procedure,
        state=state,
        rows=timeline(recent, procedure),
        hidden=len(records) - len(recent),
        events=_events_for(procedure, snapshot, session, view.data) if procedure else [],
        deadline=deadline,
        chain=chain,
        notice=notice,
        values=values or {},
        table_rows=table_rows,
        data_items=[(k, shown(v)) for k, v in view.data.items()],
        data_titles=_titles(procedure),
        documents=document_rows(procedure, records) if procedure and procedure.documents else None,
    )


def _titles(procedure: Procedure | None) -> dict[str, str]:
    if procedure is None:
        return {}
    props = procedure.data_schema.get("properties") or {}
    return {str(k): str(v.get("title") or k) for k, v in props.items() if isinstance(v, dict)}


@router.get("/ui/cases/{case_id}")
def show_case(case_id: str, request: Request) -> Response:
    """The case page."""
    show_all = request.query_params.get("all") == "1"
    return case_page(request, session_of(request), case_id, show_all=show_all)


@router.get("/ui/cases/{case_id}/diagram.svg")
def case_diagram(case_id: str, request: Request) -> Response:
    """The procedure diagram with this case's path and current state highlighted."""
    readable(request, session_of(request), case_id)
    engine = deps_of(request).engine
    try:
        view = engine.case(case_id)
    except UnknownCase:
        return secure(Response("no such case", status_code=404, media_type="text/plain"))
    procedure = _procedure(request, view.procedure["sha256"])
    if procedure is None:
        return secure(Response("procedure missing", status_code=404, media_type="text/plain"))
    visited, taken = path_of(view.history)
    svg = to_svg(case_dot(procedure, current=view.state, visited=visited, taken=taken))
    if svg is None:
        return secure(Response("Graphviz (dot) is not installed", 503, media_type="text/plain"))
    return secure(Response(svg, media_type="image/svg+xml"))


@router.get("/ui/cases/{case_id}/audit.jsonl")
def case_audit(case_id: str, request: Request) -> Response:
    """The case's audit log, byte for byte as hashed (what ``yishi verify`` reads)."""
    readable(request, session_of(request), case_id)
    engine = deps_of(request).engine
    try:
        view = engine.case(case_id, history=False)
    except UnknownCase:
        return secure(Response("no such case", status_code=404, media_type="text/plain"))
    body = b"".join(engine.store.export_lines(case_id)[: view.seq])
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in case_id)
    return secure(
        Response(
            body,
            media_type="application/jsonl",
            headers={"Content-Disposition": f'attachment; filename="{safe or "case"}.jsonl"'},
        )
    )


@router.post("/ui/cases/{case_id}/act")
async def act(case_id: str, request: Request) -> Response:
    """Check an event first (explain; records nothing) or fire it at the seq the page showed."""
    session = session_of(request)
    form = await request.form()
    check_csrf(session, form)
    engine = deps_of(request).engine
    event = str(form.get("event") or "")
    seq_text = str(form.get("seq") or "")
    if not re.match(EVENT_ID, event):
        # The API refuses such an event id before the engine sees it; so does the page,
        # so nothing of it reaches a chain.
        return page("error.html", 422, title="无此操作", user=session, message="no such event")
    snapshot = await run_in_threadpool(readable, request, session, case_id)
    if snapshot is None:
        return case_page(request, session, case_id)
    procedure = _procedure(request, snapshot.procedure_sha256)
    checking = form.get("action") == "check"
    if procedure is None:
        return page("error.html", 503, title="规程缺失", user=session, message="procedure missing")
    # An auditor may check (for no particular actor, as the API's explain); acting
    # needs a role in the procedure, checked before the engine sees anything.
    if not (checking and session.principal.auditor):
        check_writer(request, session, procedure, snapshot)
    spec = procedure.events.get(event) if procedure is not None else None
    fields = fields_of(spec.payload_schema) if spec is not None else ()
    payload = read_form(fields, form)
    actor = actor_of(session.principal)
    values = {"event": event, "form": {k: v for k, v in form.items() if k != "csrf"}}
    if checking:
        explained = await run_in_threadpool(
            lambda: engine.explain(
                case_id, event, actor=None if session.principal.auditor else actor, payload=payload
            )
        )
        notice = {"kind": "check", "explained": explained, "payload": payload}
        return case_page(request, session, case_id, notice=notice, values=values)
    expected = int(seq_text) if seq_text.isdigit() and len(seq_text) < 18 else None
    try:
        outcome = await run_in_threadpool(
            lambda: engine.fire(case_id, event, actor=actor, payload=payload, expected_seq=expected)
        )
    except Conflict as exc:
        notice = {"kind": "conflict", "message": str(exc), "seen": expected}
        return case_page(request, session, case_id, status=409, notice=notice, values=values)
    notice = {"kind": "applied" if outcome.applied else "refused", "outcome": outcome}
    return case_page(
        request, session, case_id, notice=notice, values=values if not outcome.applied else None
    )


@router.post("/ui/procedures/{sha256}/open")
async def open_case(sha256: str, request: Request) -> Response:
    """Open a case of this procedure version with the data typed in the form."""
    from starlette.responses import RedirectResponse

    from engine.web.pages_procedures import procedure_page

    session = session_of(request)
    form = await request.form()
    check_csrf(session, form)
    deps = deps_of(request)
    compiled = deps.catalog.get(sha256) if len(sha256) == 64 else None
    if compiled is None:
        return page("error.html", 404, title="无此规程", user=session, message="no such procedure")
    given = form.get("unit")
    unit = open_unit(session.principal, given.strip() if isinstance(given, str) else None)
    try:
        check_unit(unit)
    except InvalidUnit as exc:
        return procedure_page(request, session, sha256, status=422, error=str(exc))
    check_opener(request, session, compiled.procedure, unit)
    case_id = str(form.get("case_id") or "").strip()
    data = read_form(fields_of(compiled.procedure.data_schema), form)
    if not re.match(CASE_ID, case_id):
        return procedure_page(
            request, session, sha256, status=422,
            error="案件编号只能用字母、数字和 . _ - (case ids: letters, digits, . _ -)",
        )  # fmt: skip
    try:
        await run_in_threadpool(
            lambda: deps.engine.open_case(
                compiled, case_id, data, actor=actor_of(session.principal), unit=unit
            )
        )
    except InvalidData as exc:
        lines = [f"{v.get('path')}: {v.get('message')}" for v in exc.violations]
        return procedure_page(request, session, sha256, status=422, error=str(exc), lines=lines)
    except CaseExists as exc:
        return procedure_page(request, session, sha256, status=409, error=str(exc))
    response = RedirectResponse(f"/ui/cases/{case_id}", status_code=303)
    return secure(response)
