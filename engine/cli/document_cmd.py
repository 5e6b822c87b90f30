"""``yishi document``: produce a case's official document, or list what it can produce now.

The document is built from the case's audit records at its head, by the same
``render_document`` the HTTP API and the workbench call; templates are found
beside the procedure file (``--procedures`` names its folder).
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.case_support import UsageProblem, engine_on, guarded


def run_document(
    case_id: str,
    *,
    db: str | None,
    name: str | None,
    format: str,
    out: Path | None,
    list_only: bool,
    procedures: list[Path],
) -> int:
    """Write the document (or the list); return the exit status."""

    def body() -> int:
        if format not in ("html", "pdf"):
            raise UsageProblem(f"--format must be html or pdf, not {format!r}")
        with engine_on(db) as engine:
            docs = engine.documents(case_id, procedures or None)
        if list_only or name is None:
            ready = {spec.name for spec in docs.available()}
            for spec in docs.procedure.documents:
                status = "ready" if spec.name in ready else f"after {' or '.join(spec.after)}"
                print(f"{spec.name}\t{spec.title}\t{status}")
            return 0
        rendered = docs.render(name, "pdf" if format == "pdf" else "html")
        if out is None or str(out) == "-":
            sys.stdout.buffer.write(rendered.content)
            sys.stdout.buffer.flush()
        else:
            out.write_bytes(rendered.content)
            print(
                f"{out}: {rendered.title} ({rendered.format}, {len(rendered.content)} bytes) "
                f"from seq {rendered.seq}, hash {rendered.head}",
                file=sys.stderr,
            )
        return 0

    return guarded(body)
