"""The Engine's read side: what the CLI, the HTTP API and the workbench show.

These methods only read — procedure versions and their sources, snapshots, pages
of cases, single records, exported lines, heads, documents — so they live apart
from ``engine.runtime.engine``, which holds the rules of an attempt. ``Engine``
inherits them: an interface asks the engine and never the store, and the store
behind it can change (the page cursor included) without any interface noticing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.audit.verify import CaseHead
from engine.errors import UnknownCase
from engine.runtime.queries import (
    CaseFilter,
    CasePage,
    CaseSearch,
    CaseSnapshot,
    ProcedureRef,
    check_cursor,
    search_cases,
)
from engine.storage.base import Store

if TYPE_CHECKING:
    from engine.definition.compile import CompiledProcedure
    from engine.documents.library import CaseDocuments


class StoreReads:
    """Read-only questions answered from the engine's store (a mixin of ``Engine``)."""

    store: Store

    def _stored(self, case_id: str) -> CaseSnapshot:
        snapshot = self.store.get_case(case_id)
        if snapshot is None:
            raise UnknownCase(f"no case {case_id!r}")
        return snapshot

    def procedure(self, sha256: str) -> CompiledProcedure | None:
        """A compiled procedure version kept for reuse, or None: reads alone keep none, and
        ``documents`` then compiles the case's procedure file (the Engine keeps them)."""
        return None

    def procedures(self) -> list[ProcedureRef]:
        """Every registered procedure version, sorted by id, version and sha256."""
        return self.store.procedures()

    def cases_per_procedure(self) -> dict[str, int]:
        """How many cases pin each procedure version, by sha256 (versions with none left out)."""
        return self.store.cases_per_procedure()

    def procedure_source(self, sha256: str) -> str | None:
        """The exact text of a registered procedure version, or None."""
        return self.store.procedure_source(sha256)

    def record(self, case_id: str, seq: int) -> dict[str, Any]:
        """The case's audit record at ``seq``.

        Raises:
            UnknownCase: when there is no such case, or no record at ``seq``.
        """
        snapshot = self._stored(case_id)
        if not 1 <= seq <= snapshot.seq:
            raise UnknownCase(f"case {case_id!r} has no record {seq} (it is at seq {snapshot.seq})")
        return self.store.records(case_id, upto=seq)[-1]

    def export_lines(self, case_id: str, *, upto: int | None = None) -> list[bytes]:
        """The case's audit-log lines in seq order, each exactly as hashed, with its newline
        (up to seq ``upto`` when given): what ``yishi verify`` reads.

        Raises:
            UnknownCase: when there is no such case.
        """
        self._stored(case_id)
        lines = self.store.export_lines(case_id)
        return lines if upto is None else lines[:upto]

    def snapshot(self, case_id: str) -> CaseSnapshot:
        """The case's stored snapshot (state, data, seq, head, deadline, unit), unread history.

        Raises:
            UnknownCase: when there is no such case.
        """
        return self._stored(case_id)

    def list_cases(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> CasePage:
        """Cases matching ``where``, most recently updated first, one page at a time.

        ``after`` is the previous page's ``next``, passed back unread.

        Raises:
            InvalidCursor: when ``after`` is not a cursor from a previous page.
        """
        if after is not None:
            check_cursor(after)
        return self.store.list_cases(where, after=after, limit=limit)

    def search_cases(
        self,
        where: CaseFilter | None,
        keep: Callable[[CaseSnapshot], bool],
        *,
        after: str | None = None,
        limit: int = 25,
        scan: int = 5_000,
    ) -> CaseSearch:
        """Like ``list_cases``, keeping only the cases ``keep`` accepts, reading at most
        about ``scan`` cases per page (see ``engine.runtime.queries.search_cases``).

        Raises:
            InvalidCursor: when ``after`` is not a cursor from a previous page.
        """
        return search_cases(self.store, where, keep, after=after, limit=limit, scan=scan)

    def heads(self) -> list[tuple[CaseHead, str]]:
        """Every case's head (case, seq, hash) with its last record's time, by case id."""
        heads = []
        for case_id in self.store.case_ids():
            snapshot = self.store.get_case(case_id)
            if snapshot is not None:
                heads.append(
                    (CaseHead(case=snapshot.id, seq=snapshot.seq, hash=snapshot.head),
                     snapshot.updated_at)
                )  # fmt: skip
        return heads

    def documents(self, case_id: str, directories: Iterable[Path] | None = None) -> CaseDocuments:
        """The official documents of a case, read at its head (see ``engine.documents``).

        Raises:
            UnknownCase: when there is no such case.
            DocumentError: when the case's procedure file is not in any procedure folder.
        """
        from engine.documents.library import case_documents

        return case_documents(self.store, case_id, directories, self.procedure)

    def ping(self) -> None:
        """Read from the store once (readiness).

        Raises:
            StoreError: when the store does not answer.
        """
        self.store.get_case("readyz-probe")
