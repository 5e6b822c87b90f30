"""A case's official documents on the workbench: the case page's list and the download route.

The list comes from the records the case page already read (which declared
documents the case has reached, and which wait for a state); the route serves
the bytes ``yishi document`` and the API's ``/cases/{id}/documents/{name}``
produce, from the same procedure folders, after the same read check as the API
(``scope.readable``: the case's unit within the principal's units; an auditor
may read).

A document's HTML carries one ``<style>`` element and an inline SVG QR code, so
it cannot be shown under the workbench's CSP. It is served under its own
policy instead: inline style and ``data:`` images only, no script source at all,
and ``sandbox`` without ``allow-scripts``, so nothing in it can execute even if
a template wrote a script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine.definition.model import Procedure
from engine.documents.context import available
from engine.documents.render import DocumentError, Format
from engine.web.context import deps_of, session_of
from engine.web.render import SECURITY_HEADERS, page, secure
from engine.web.scope import readable

router = APIRouter(include_in_schema=False)

DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox"
)
"""The policy a document's HTML is served under: its own inline style, nothing that runs."""

FORMATS: dict[str, Format] = {"html": "html", "pdf": "pdf"}


def document_rows(procedure: Procedure, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The case page's documents section: what the case can produce now, and what waits.

    Args:
        procedure: the case's procedure version.
        records: the case's audit records up to its head.
    """
    ready = {spec.name for spec in available(procedure, records)}
    rows: dict[str, Any] = {"ready": [], "waiting": []}
    for spec in procedure.documents:
        if spec.name in ready:
            rows["ready"].append({"name": spec.name, "title": spec.title})
            continue
        after = []
        for state_id in spec.after:
            state = procedure.states.get(state_id)
            after.append({"id": state_id, "label": state.label if state is not None else ""})
        rows["waiting"].append({"name": spec.name, "title": spec.title, "after": after})
    return rows


def disposition(kind: str, title: str, case_id: str, name: str, suffix: str) -> str:
    """A Content-Disposition naming the file: an ASCII fallback and the RFC 5987 UTF-8 name."""
    plain = f"{case_id}-{name}.{suffix}"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in plain)
    utf8_name = quote(f"{title}-{case_id}.{suffix}", safe="")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"


def _text(status: int, message: str) -> Response:
    return secure(Response(message, status_code=status, media_type="text/plain; charset=utf-8"))


@router.get("/ui/cases/{case_id}/documents/{name}.{suffix}")
async def case_document(case_id: str, name: str, suffix: str, request: Request) -> Response:
    """The case's document ``name`` as ``.html`` (shown) or ``.pdf`` (downloaded)."""
    session = session_of(request)
    engine = deps_of(request).engine
    # The case page's own read check (a logged 403 page), before the name is looked at,
    # so a principal outside the unit learns nothing of what the case has reached.
    if await run_in_threadpool(readable, request, session, case_id) is None:
        return page("error.html", 404, title="无此案件", user=session, message="no such case")
    format = FORMATS.get(suffix)
    if format is None:
        return _text(404, "documents are .html or .pdf")
    try:
        rendered = await run_in_threadpool(lambda: engine.documents(case_id).render(name, format))
    except DocumentError as exc:
        if exc.reason in ("unknown", "not-ready"):
            return _text(404, str(exc))
        if exc.reason == "pdf-unavailable":
            return _text(503, str(exc))
        return _text(422, str(exc))
    kind = "inline" if format == "html" else "attachment"
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": DOCUMENT_CSP,
        "Content-Disposition": disposition(kind, rendered.title, case_id, name, suffix),
        "ETag": f'"{rendered.seq}-{rendered.head[:16]}"',
        "X-Yishi-Head": f"{rendered.seq} {rendered.head}",
    }
    return Response(rendered.content, media_type=rendered.media_type, headers=headers)
