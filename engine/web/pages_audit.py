"""Audit: upload a JSONL log (and procedure files), see verify and replay, at any seq.

The upload is checked with the same ``verify_bytes`` as ``yishi verify`` and
re-executed with the same ``replay_records`` as ``yishi replay``; procedure
versions come from the uploaded files first, then from the store, by sha256.
Nothing uploaded is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from engine.audit.jsonl import parse_line
from engine.audit.verify import verify_bytes
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_source
from engine.errors import EngineError
from engine.runtime.replay import parse_as_of, replay_records
from engine.web.context import check_csrf, deps_of, session_of
from engine.web.render import page

router = APIRouter(include_in_schema=False)

MAX_UPLOAD = 900 * 1024
"""The largest log or procedure file accepted (the request body limit is 1 MiB)."""


@router.get("/ui/audit")
def audit_page(request: Request) -> Response:
    """The upload form."""
    return page("audit.html", title="审计 Audit", user=session_of(request), result=None)


async def _read(upload: Any) -> bytes | None:
    if not isinstance(upload, UploadFile):
        return None
    data = await upload.read(MAX_UPLOAD + 1)
    return data if data else None


def _examine(
    log: bytes, sources: list[tuple[str, str]], as_of_text: str, lookup: Any
) -> dict[str, Any]:
    verified = verify_bytes(log)
    result: dict[str, Any] = {
        "verify": verified,
        "failure": verified.failure,
        "heads": verified.heads,
        "replay": None,
        "replay_error": "",
        "problems": [],
    }
    known: dict[str, CompiledProcedure] = {}
    for name, text in sources:
        try:
            compiled = load_source(text, name)
        except EngineError as exc:
            result["problems"].append(f"{name}: {exc}")
            continue
        known[compiled.procedure.sha256] = compiled

    def find(sha256: str) -> CompiledProcedure | None:
        found = known.get(sha256)
        return found if found is not None else lookup(sha256)

    stop = None
    if as_of_text:
        try:
            stop = parse_as_of(as_of_text)
        except (ValueError, OverflowError) as exc:
            result["replay_error"] = f"as-of: {exc}"
            return result
    if verified.failure is not None:
        result["replay_error"] = "回放需要完整的链 / replay needs an intact chain"
        return result
    records = [parse_line(raw, n) for n, raw in enumerate(log.splitlines(keepends=True), 1)]
    try:
        result["replay"] = replay_records(records, find, as_of=stop)
    except EngineError as exc:
        result["replay_error"] = str(exc)
    return result


@router.post("/ui/audit")
async def audit_upload(request: Request) -> Response:
    """Verify and replay an uploaded log."""
    session = session_of(request)
    form = await request.form()
    try:
        return await _examine_upload(request, session, form)
    finally:
        await form.close()


async def _examine_upload(request: Request, session: Any, form: Any) -> Response:
    check_csrf(session, form)
    log = await _read(form.get("log"))
    if log is None or len(log) > MAX_UPLOAD:
        return page(
            "audit.html", status=422, title="审计 Audit", user=session, result=None,
            error="请选择一个不超过 900 KiB 的审计日志 (choose an audit log of at most 900 KiB)",
        )  # fmt: skip
    sources: list[tuple[str, str]] = []
    errors: list[str] = []
    for upload in form.getlist("procedures"):
        data = await _read(upload)
        if data is None:
            continue
        name = upload.filename or "procedure.yaml" if isinstance(upload, UploadFile) else "?"
        try:
            sources.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            errors.append(f"{name}: not UTF-8 text")
    as_of = form.get("as_of")
    as_of_text = as_of.strip()[:64] if isinstance(as_of, str) else ""

    def lookup(sha256: str) -> CompiledProcedure | None:
        try:
            return deps_of(request).engine.procedure(sha256)
        except EngineError:
            return None

    result = await run_in_threadpool(_examine, log, sources, as_of_text, lookup)
    result["problems"] = errors + result["problems"]
    return page("audit.html", title="审计 Audit", user=session, result=result, as_of=as_of_text)
