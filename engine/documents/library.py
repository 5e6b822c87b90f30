"""Documents of a stored case: find the procedure file its templates sit beside.

A store keeps each procedure version's text by sha256, but not the templates
beside the file. So a case's documents are produced from the procedure *file*
whose text has that sha256, looked up in procedure folders: ``$YISHI_PROCEDURES``
(folders separated by ``os.pathsep``), else the bundled ``procedures/`` next to
the source tree and in the working directory. A changed template is fine (the
document prints the template's sha256); a changed procedure text is not found.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.definition.build import sha256_text
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_source, read_source
from engine.definition.model import DocumentSpec, Procedure
from engine.documents.context import available
from engine.documents.render import DocumentError, Format, RenderedDocument, render_document
from engine.errors import EngineError, UnknownCase
from engine.storage.base import Store


def procedure_dirs() -> list[Path]:
    """Where procedure files (and their templates) are looked for, in order."""
    configured = os.environ.get("YISHI_PROCEDURES")
    if configured:
        return [Path(p) for p in configured.split(os.pathsep) if p]
    source_tree = Path(__file__).resolve().parents[2]
    return [source_tree / "procedures", Path.cwd() / "procedures"]


def find_procedure_file(sha256: str, directories: Iterable[Path]) -> Path | None:
    """The first ``*.yaml`` in ``directories`` whose exact text has this sha256."""
    for directory in directories:
        if not directory.is_dir():
            continue
        for candidate in sorted(directory.glob("*.yaml")):
            try:
                if sha256_text(read_source(candidate)) == sha256:
                    return candidate
            except EngineError:
                continue
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseDocuments:
    """A stored case with its procedure file: what it can produce, and producing it."""

    procedure: Procedure
    procedure_file: Path
    records: list[dict[str, object]]
    data: dict[str, object]
    deadline_at: str = ""

    def available(self) -> list[DocumentSpec]:
        """The documents this case can produce now."""
        return available(self.procedure, self.records)

    def render(self, name: str, format: Format) -> RenderedDocument:
        """Produce document ``name`` from the case's head (see ``render_document``)."""
        return render_document(
            procedure=self.procedure,
            procedure_file=self.procedure_file,
            records=self.records,
            data=self.data,
            name=name,
            format=format,
            deadline_at=self.deadline_at,
        )


def case_documents(
    store: Store,
    case_id: str,
    directories: Iterable[Path] | None = None,
    compiled: Callable[[str], CompiledProcedure | None] | None = None,
) -> CaseDocuments:
    """The documents of stored case ``case_id``, read at its current head.

    ``compiled`` gives the compiled version with a sha256 when the caller keeps one (the
    Engine's cache): the file found has that exact text, so compiling it again (about
    0.2 s of CPU for a large procedure) on every document request would give the same.

    Raises:
        UnknownCase: no such case.
        DocumentError: the case's procedure file is not in any procedure folder.
    """
    snapshot = store.get_case(case_id)
    if snapshot is None:
        raise UnknownCase(case_id)
    folders = list(directories) if directories is not None else procedure_dirs()
    found = find_procedure_file(snapshot.procedure_sha256, folders)
    if found is None:
        where = ", ".join(str(d) for d in folders) or "none"
        raise DocumentError(
            f"the procedure file of case {case_id} ({snapshot.procedure_id} "
            f"{snapshot.procedure_version}, sha256 {snapshot.procedure_sha256[:12]}…) is not in "
            f"the procedure folders ({where}); name its folder with --procedures",
            "procedure-file",
        )
    kept = compiled(snapshot.procedure_sha256) if compiled is not None else None
    procedure = (kept or load_source(read_source(found), str(found))).procedure
    records = [dict(r) for r in store.records(case_id, upto=snapshot.seq)]
    return CaseDocuments(
        procedure=procedure,
        procedure_file=found,
        records=records,
        data=dict(snapshot.data),
        deadline_at=snapshot.deadline_at.isoformat() if snapshot.deadline_at else "",
    )
