"""Procedures: the registered versions, a page per version, and the playground.

The playground checks pasted YAML with the same ``check_source`` that ``yishi
validate`` and the API's dry run use, so its located problems are the ones the
command line prints; a scenario pasted beside it runs on a throw-away in-memory
engine (nothing reaches the store) and is shown as the ``yishi run`` table.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from engine.definition.compile import CompiledProcedure
from engine.definition.describe import describe_procedure
from engine.definition.loader import CheckReport
from engine.errors import EngineError, Problem, ProcedureInvalid, SourceLocation
from engine.runtime.door import may_open
from engine.web.context import check_csrf, deps_of, session_of
from engine.web.diagram import case_dot, to_svg
from engine.web.forms import fields_of, table_rows
from engine.web.render import page, secure
from engine.web.scope import unit_choice
from engine.web.sessions import Session
from engine.web.views import timeline

router = APIRouter(include_in_schema=False)

PLAYGROUND_FILE = "playground.yaml"
MAX_SOURCE = 512 * 1024
"""The largest text the playground checks (the body limit allows a little more)."""


def _problem_rows(problems: tuple[Problem, ...] | list[Problem]) -> list[dict[str, Any]]:
    return [
        {
            "line": p.location.line,
            "column": p.location.column,
            "path": p.location.path,
            "message": p.message,
            "severity": p.severity,
            "code": p.code,
            "text": str(p),
        }
        for p in sorted(problems, key=lambda p: (p.location.line, p.location.column))
    ]


@router.get("/ui/procedures")
def procedures_page(request: Request) -> Response:
    """Every registered procedure version."""
    session = session_of(request)
    deps = deps_of(request)
    rows = []
    for ref in deps.engine.procedures():
        try:
            compiled = deps.engine.procedure(ref.sha256)
        except EngineError:
            compiled = None
        title = compiled.procedure.title if compiled is not None else ""
        rows.append({
            "id": ref.id, "version": ref.version, "sha256": ref.sha256, "title": title,
            "registered_at": ref.registered_at, "registered_by": ref.registered_by,
        })  # fmt: skip
    return page("procedures.html", title="规程 Procedures", user=session, rows=rows)


def procedure_page(
    request: Request,
    session: Session,
    sha256: str,
    *,
    status: int = 200,
    error: str = "",
    lines: list[str] | None = None,
) -> Response:
    """Draw a version's page (also after a failed attempt to open a case, with the error)."""
    compiled = _compiled(request, sha256)
    if compiled is None:
        return page(
            "error.html", status=404, title="无此规程", user=session, message="no such version"
        )
    who = session.principal
    return page(
        "procedure.html",
        status=status,
        title=compiled.procedure.title,
        user=session,
        procedure=compiled.procedure,
        described=describe_procedure(compiled),
        data_fields=fields_of(compiled.procedure.data_schema),
        table_rows=table_rows,
        may_open=not who.auditor and may_open(compiled.procedure, who.as_actor()),
        units=unit_choice(who),
        error=error,
        lines=lines or [],
    )


def _compiled(request: Request, sha256: str) -> CompiledProcedure | None:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    try:
        return deps_of(request).engine.procedure(sha256)
    except EngineError:
        return None


@router.get("/ui/procedures/{sha256}")
def show_procedure(sha256: str, request: Request) -> Response:
    """A version: description, diagram, and a form to open a case."""
    return procedure_page(request, session_of(request), sha256)


@router.get("/ui/procedures/{sha256}/diagram.svg")
def procedure_diagram(sha256: str, request: Request) -> Response:
    """The version's diagram as SVG."""
    session_of(request)
    compiled = _compiled(request, sha256)
    if compiled is None:
        return secure(Response("no such version", status_code=404, media_type="text/plain"))
    svg = to_svg(case_dot(compiled.procedure))
    if svg is None:
        return secure(Response("Graphviz (dot) is not installed", 503, media_type="text/plain"))
    return secure(Response(svg, media_type="image/svg+xml"))


def _check(source: str) -> dict[str, Any]:
    report = deps_check(source)
    return {
        "ok": report.compiled is not None,
        "problems": _problem_rows(report.problems),
        "title": report.compiled.procedure.title if report.compiled is not None else "",
    }


def deps_check(source: str) -> CheckReport:
    """``check_source`` on the playground's text, never an exception at the person typing.

    A text the YAML reader itself rejects (a NUL, say) is reported as one located
    problem rather than failing the request.
    """
    import yaml

    from engine.definition.loader import check_source

    try:
        return check_source(source, PLAYGROUND_FILE)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        where = SourceLocation(file=PLAYGROUND_FILE, line=1, column=1, path="")
        message = f"the text cannot be read as YAML: {str(exc).splitlines()[0][:200]}"
        problem = Problem(location=where, message=message, code="yaml.unreadable")
        return CheckReport(compiled=None, problems=(problem,))


def _not_admin(session: Session) -> str | None:
    """Why this session may not use the playground, or None for an admin.

    Checking a pasted procedure costs CPU that grows with its size, as a dry-run
    registration does, and the API lets only admins make dry runs: the page may do
    nothing the API would refuse.
    """
    if session.principal.admin:
        return None
    return (
        f"{session.principal.actor} may not use the playground: checking and trying "
        "procedures is for admins, as dry-run registration is in the API"
    )


def _refused_page(session: Session, why: str) -> Response:
    return page("error.html", 403, title="无权限", user=session, message=why)


@router.post("/ui/playground/check")
async def playground_check(request: Request) -> Response:
    """The located problems of the posted YAML, as JSON for the page's script (as you type)."""
    session = session_of(request)
    form = await request.form()
    check_csrf(session, form)
    why = _not_admin(session)
    if why is not None:
        return secure(JSONResponse({"ok": False, "problems": [], "error": why}, 403))
    source = form.get("source")
    if not isinstance(source, str) or len(source) > MAX_SOURCE:
        return secure(JSONResponse({"ok": False, "problems": [], "error": "too large"}, 413))
    result = await run_in_threadpool(_check, source)
    return secure(JSONResponse(result))


@router.get("/ui/playground")
def playground_page(request: Request) -> Response:
    """The playground, empty or with a registered version's text to start from."""
    session = session_of(request)
    why = _not_admin(session)
    if why is not None:
        return _refused_page(session, why)
    start = request.query_params.get("from", "")
    source = ""
    if len(start) == 64:
        source = deps_of(request).engine.procedure_source(start) or ""
    return page(
        "playground.html",
        title="试验场 Playground",
        user=session,
        source=source,
        scenario="",
        result=None,
    )


def _run_scenario(source: str, scenario: str) -> dict[str, Any]:
    """Check the text, draw it, and run the scenario on an in-memory engine."""
    report = deps_check(source)
    result: dict[str, Any] = {
        "problems": _problem_rows(report.problems),
        "svg": "",
        "rows": [],
        "scenario_problems": [],
        "mismatches": [],
        "final": "",
    }
    compiled = report.compiled
    if compiled is None:
        return result
    svg = to_svg(case_dot(compiled.procedure))
    if svg is not None:
        result["svg"] = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    if not scenario.strip():
        return result
    import yaml

    from engine.runtime.scenario import load_scenario, run_scenario

    if _starts_from_another(scenario):
        # A file path typed into a web form must never make the server read its files.
        result["scenario_problems"] = [
            {"text": "the playground runs a scenario with all its steps: 'from' is not allowed"}
        ]
        return result
    with tempfile.TemporaryDirectory(prefix="yishi-playground-") as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(scenario, encoding="utf-8")
        try:
            loaded = load_scenario(path)
            ran = run_scenario(loaded, procedure=compiled)
        except ProcedureInvalid as exc:
            result["scenario_problems"] = _problem_rows(exc.problems)
            return result
        except EngineError as exc:
            result["scenario_problems"] = [{"text": str(exc)}]
            return result
        except (yaml.YAMLError, ValueError, RecursionError) as exc:
            text = str(exc).splitlines()[0][:200]
            result["scenario_problems"] = [{"text": f"the scenario cannot be read: {text}"}]
            return result
    result["rows"] = timeline(ran.records, compiled.procedure)
    result["final"] = ran.final_state
    result["mismatches"] = [m for s in ran.steps for m in s.mismatches] + list(ran.mismatches)
    result["ok"] = ran.ok
    return result


def _starts_from_another(scenario: str) -> bool:
    """Whether the pasted scenario names another scenario file with ``from``."""
    from engine.definition.strict_yaml import YamlProblems, parse_yaml

    try:
        doc = parse_yaml(scenario, "scenario.yaml")
    except (YamlProblems, ValueError, RecursionError):
        return False  # unreadable: the scenario loader reports it, located
    return isinstance(doc.value, dict) and "from" in doc.value


@router.post("/ui/playground")
async def playground_run(request: Request) -> Response:
    """Check, draw and (with a scenario) run the pasted procedure; or register it (admin)."""
    session = session_of(request)
    form = await request.form()
    check_csrf(session, form)
    why = _not_admin(session)
    if why is not None:
        return _refused_page(session, why)
    source = form.get("source")
    scenario = form.get("scenario")
    source = source if isinstance(source, str) else ""
    scenario = scenario if isinstance(scenario, str) else ""
    if len(source) > MAX_SOURCE or len(scenario) > MAX_SOURCE:
        return page("error.html", 413, title="太大", user=session, message="text too large")
    if form.get("action") == "register":
        if not session.principal.admin:
            return page(
                "error.html", 403, title="无权限", user=session,
                message=f"{session.principal.actor} may not register procedures (not admin)",
            )  # fmt: skip
        try:
            done = await run_in_threadpool(
                deps_of(request).engine.register_source, source, "procedure.yaml",
                by=session.principal.actor,
            )  # fmt: skip
        except ProcedureInvalid:
            pass
        else:
            target = f"/ui/procedures/{done.compiled.procedure.sha256}"
            return secure(RedirectResponse(target, status_code=303))
    result = await run_in_threadpool(_run_scenario, source, scenario)
    return page(
        "playground.html",
        title="试验场 Playground",
        user=session,
        source=source,
        scenario=scenario,
        result=result,
    )
