"""A case's official documents over HTTP: ``GET /cases/{id}/documents/{name}?format=…``.

Read like the case's audit (the same caller dependency), produced by the same
``render_document`` as ``yishi document``, from the case's head at the time of
the request; the response names that head in ``ETag`` and ``X-Yishi-Head``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from engine.server.access import readable_case
from engine.server.deps import Caller, Deps
from engine.server.problems import ProblemError, documented
from engine.server.routes_cases import CaseId

router = APIRouter(tags=["documents"])

DocumentName = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64, description="The document's name.")
]


@router.get(
    "/cases/{case_id}/documents/{name}",
    response_class=Response,
    responses={
        **documented(403, 404, 422, 503),
        200: {"content": {"text/html": {}, "application/pdf": {}}},
    },
)
def document(
    case_id: CaseId,
    *,
    name: DocumentName,
    request: Request,
    deps: Deps,
    caller: Caller,
    format: Annotated[Literal["html", "pdf"], Query(description="html or pdf (A4).")] = "html",
) -> Response:
    """The case's document ``name`` as HTML or PDF, built from its audit records at the head.

    Raises:
        UnknownCase: answered 404.
        ProblemError: 403 when the case is outside the token's units (checked before any
            rendering, whose cost the case's records decide).
    """
    from engine.documents.render import DocumentError

    readable_case(deps, caller, request, case_id)
    try:
        rendered = deps.engine.documents(case_id).render(name, format)
    except DocumentError as exc:
        if exc.reason in ("unknown", "not-ready"):
            raise ProblemError(404, "not-found", str(exc)) from exc
        if exc.reason == "pdf-unavailable":
            raise ProblemError(503, "internal-error", str(exc)) from exc
        raise ProblemError(422, "procedure-invalid", str(exc)) from exc
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={
            "ETag": f'"{rendered.seq}-{rendered.head[:16]}"',
            "X-Yishi-Head": f"{rendered.seq} {rendered.head}",
        },
    )
