"""``/procedures``: register YAML (content-addressed, idempotent), list, describe, draw.

Registering is ``check_source`` + ``Engine.register``: the report lists every
problem located as ``file:line:col: path``; a procedure with errors is a 422
problem whose ``violations`` are those located problems. The sha256 of the exact
text is the version's address, so registering the same text again changes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from engine.definition.compile import CompiledProcedure
from engine.definition.describe import ProcedureDescription, describe_procedure
from engine.definition.diagram import render
from engine.definition.loader import check_source
from engine.errors import Problem as LocatedProblemValue
from engine.errors import ProcedureInvalid
from engine.server.access import forbidden
from engine.server.deps import Caller, Deps
from engine.server.models import (
    SHA256,
    LocatedProblem,
    ProcedureList,
    ProcedureReport,
    ProcedureVersion,
)
from engine.server.problems import ProblemError, documented

router = APIRouter(tags=["procedures"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
DOT_TIMEOUT = 20.0
"""Seconds Graphviz may take to draw one diagram."""

Sha = Annotated[str, Path(pattern=SHA256, description="The version's sha256.")]


def located(problem: LocatedProblemValue) -> LocatedProblem:
    """A located problem as the API returns it."""
    where = problem.location
    return LocatedProblem(
        file=where.file,
        line=where.line,
        column=where.column,
        path=where.path,
        message=problem.message,
        severity=problem.severity,
        code=problem.code,
    )


async def yaml_text(request: Request) -> str:
    """The request body as YAML text (UTF-8).

    Raises:
        ProblemError: 415 for a media type that is not YAML, 400 when not UTF-8.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in YAML_TYPES:
        raise ProblemError(415, "unsupported-media-type", f"send YAML as {YAML_TYPES[0]}")
    raw = await request.body()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(
            400, "malformed-body", f"the procedure is not UTF-8 text (byte {exc.start})"
        ) from exc


_YAML_BODY = {
    "requestBody": {
        "required": True,
        "description": "A procedure file (YAML, UTF-8, at most 1 MiB).",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES[:1]},
    }
}


@router.post(
    "/procedures",
    response_model=ProcedureReport,
    status_code=201,
    responses={**documented(400, 403, 413, 415), 200: {"model": ProcedureReport}},
    openapi_extra=_YAML_BODY,
    summary="Register a procedure version (or only check it with dry_run)",
)
def register_procedure(
    *,
    request: Request,
    response: Response,
    deps: Deps,
    caller: Caller,
    source: Annotated[str, Depends(yaml_text)],
    dry_run: Annotated[bool, Query(description="Check only; store nothing.")] = False,
    file: Annotated[
        str, Query(pattern=FILE_NAME, description="The file name problems are located in.")
    ] = "procedure.yaml",
) -> ProcedureReport:
    """Check a procedure and store it; 201 when new, 200 when already stored or a dry run.

    Raises:
        ProblemError: 403 unless the token is admin (a dry run too: checking costs CPU).
        ProcedureInvalid: with every located problem (answered 422 ``procedure-invalid``).
    """
    if not caller.admin:
        what = "check procedures (dry run)" if dry_run else "register procedures"
        raise forbidden(request, f"{caller.actor} may not {what} (not admin)")
    if dry_run:
        report = check_source(source, file)
        if report.compiled is None:
            raise ProcedureInvalid(list(report.problems))
        response.status_code = 200
        return _report(report.compiled, report.warnings, registered=False)
    done = deps.engine.register_source(source, file, by=caller.actor)
    response.status_code = 201 if done.registered else 200
    response.headers["Location"] = f"/procedures/{done.compiled.procedure.sha256}"
    return _report(done.compiled, done.warnings, registered=done.registered)


def _report(
    compiled: CompiledProcedure, warnings: tuple[LocatedProblemValue, ...], *, registered: bool
) -> ProcedureReport:
    procedure = compiled.procedure
    return ProcedureReport(
        id=procedure.id,
        version=procedure.version,
        title=procedure.title,
        sha256=procedure.sha256,
        registered=registered,
        problems=[located(p) for p in warnings],
    )


@router.get("/procedures", response_model=ProcedureList, responses=documented())
def list_procedures(deps: Deps, caller: Caller) -> ProcedureList:
    """Every stored procedure version, sorted by id, version and sha256."""
    refs = deps.engine.procedures()
    counts = deps.engine.cases_per_procedure()
    return ProcedureList(
        procedures=[
            ProcedureVersion(
                id=r.id,
                version=r.version,
                sha256=r.sha256,
                cases=counts.get(r.sha256, 0),
                registered_at=r.registered_at,
                registered_by=r.registered_by,
            )
            for r in refs
        ]
    )


def _compiled(deps: Deps, sha256: str) -> CompiledProcedure:
    compiled = deps.engine.procedure(sha256)
    if compiled is None:
        raise ProblemError(404, "unknown-procedure", f"no procedure version {sha256}")
    return compiled


@router.get("/procedures/{sha256}", response_model=ProcedureDescription, responses=documented(404))
def describe(sha256: Sha, deps: Deps, caller: Caller) -> ProcedureDescription:
    """The procedure in plain words: roles, states, events, payloads, guards and actions."""
    return describe_procedure(_compiled(deps, sha256))


@router.get(
    "/procedures/{sha256}/source",
    response_class=Response,
    responses={**documented(404), 200: {"content": {"application/yaml": {}}}},
)
def source(sha256: Sha, deps: Deps, caller: Caller) -> Response:
    """The exact source text of the version (its sha256 is the sha256 of these bytes)."""
    text = deps.engine.procedure_source(sha256)
    if text is None:
        raise ProblemError(404, "unknown-procedure", f"no procedure version {sha256}")
    return Response(text.encode("utf-8"), media_type="application/yaml; charset=utf-8")


def find_dot() -> str | None:
    """The Graphviz ``dot`` program, or None when it is not installed."""
    return shutil.which("dot")


@router.get(
    "/procedures/{sha256}/diagram",
    response_class=Response,
    responses={
        **documented(404, 503),
        200: {
            "content": {
                "text/vnd.mermaid": {"schema": {"type": "string"}},
                "text/vnd.graphviz": {"schema": {"type": "string"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            }
        },
    },
)
def diagram(
    sha256: Sha,
    deps: Deps,
    caller: Caller,
    format: Annotated[Literal["mermaid", "dot", "svg"], Query()] = "mermaid",
) -> Response:
    """The state diagram as Mermaid, Graphviz DOT, or SVG (drawn by Graphviz ``dot``).

    Raises:
        ProblemError: 503 ``graphviz-missing`` for SVG when ``dot`` is not installed.
    """
    procedure = _compiled(deps, sha256).procedure
    if format == "mermaid":
        return Response(render(procedure, "mermaid"), media_type="text/vnd.mermaid")
    text = render(procedure, "dot")
    if format == "dot":
        return Response(text, media_type="text/vnd.graphviz")
    dot = find_dot()
    if dot is None:
        raise ProblemError(
            503, "graphviz-missing", "install Graphviz (the dot program) to draw SVG"
        )
    drawn = subprocess.run(  # noqa: S603 - a fixed program; the DOT text goes on stdin
        [dot, "-Tsvg"], input=text.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT,
        check=False,
    )  # fmt: skip
    if drawn.returncode != 0:
        raise RuntimeError(f"dot failed: {drawn.stderr.decode('utf-8', 'replace')[:500]}")
    return Response(drawn.stdout, media_type="image/svg+xml")
