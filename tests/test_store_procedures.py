"""Specification: every store lists the procedure versions it keeps (memory, SQLite, PostgreSQL).

``Store.procedures()`` is what ``GET /procedures`` and an embedding system read:
each version once, content-addressed by sha256, sorted by id, version and sha256.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import pg_schema_url, procedure

from engine.errors import VersionTaken
from engine.storage import ProcedureRef, Store, open_store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (PostgreSQL fails, not skips, when CI=true)."""
    if request.param == "memory":
        urls: Iterator[str] = iter(["memory://"])
    elif request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'cases.db'}"])
    else:
        urls = pg_schema_url()
    url = next(urls)
    opened = open_store(url)
    yield opened
    opened.close()
    for _ in urls:  # let the PostgreSQL fixture body drop its schema
        pass


def test_a_new_store_lists_no_procedures(store: Store) -> None:
    """A store that was never given a procedure lists none."""
    assert store.procedures() == []


def test_each_version_is_listed_once_sorted_by_id_version_sha(store: Store) -> None:
    """Saving the same source twice lists it once; versions sort by id, version, sha256."""
    compiled = procedure().procedure
    for _ in range(2):
        store.save_procedure(
            id=compiled.id, version=compiled.version, sha256=compiled.sha256, source=compiled.source
        )
    store.save_procedure(id="a-first", version="2", sha256="f" * 64, source="x")
    store.save_procedure(id="a-first", version="10", sha256="e" * 64, source="y")
    expected = [
        ProcedureRef(id="a-first", version="10", sha256="e" * 64),
        ProcedureRef(id="a-first", version="2", sha256="f" * 64),
        ProcedureRef(id=compiled.id, version=compiled.version, sha256=compiled.sha256),
    ]
    assert expected == store.procedures()


def test_another_text_under_an_existing_id_and_version_is_refused_naming_both_hashes(
    store: Store,
) -> None:
    """Rule: a version names one text. Saving a different sha256 under a stored id and
    version raises VersionTaken naming both sha256 and stores nothing; the same text
    again, or the same id under another version, is accepted."""
    store.save_procedure(id="p", version="1", sha256="a" * 64, source="x")
    with pytest.raises(VersionTaken) as caught:
        store.save_procedure(id="p", version="1", sha256="b" * 64, source="y")
    assert "a" * 64 in str(caught.value)
    assert "b" * 64 in str(caught.value)
    assert store.procedure_source("b" * 64) is None
    store.save_procedure(id="p", version="1", sha256="a" * 64, source="x")
    store.save_procedure(id="p", version="2", sha256="b" * 64, source="y")
    assert [ref.sha256 for ref in store.procedures()] == ["a" * 64, "b" * 64]


def test_each_store_counts_the_cases_pinning_each_version(store: Store) -> None:
    """Rule: cases_per_procedure counts cases by the sha256 they pin; a version no case
    pins is absent (counted 0 by the listing)."""
    from store_support import open_case

    from engine.runtime.engine import Engine

    engine = Engine(store=store)
    assert store.cases_per_procedure() == {}
    open_case(engine, "c-1")
    open_case(engine, "c-2")
    store.save_procedure(id="other", version="1", sha256="c" * 64, source="z")
    assert store.cases_per_procedure() == {procedure().procedure.sha256: 2}
