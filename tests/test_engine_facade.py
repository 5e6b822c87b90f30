"""Specification: the Engine's read methods, its one bounded cache of compiled procedures,
and opening it from a store URL — everything the CLI, the HTTP API and the workbench use.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from store_support import DATA, SECRETARY, T0, procedure

from engine.definition.loader import load_procedure
from engine.errors import InvalidCursor, ProcedureInvalid, UnknownCase
from engine.runtime.attempt import Runner
from engine.runtime.clock import FixedClock, format_time, normalise
from engine.runtime.engine import Engine
from engine.runtime.procedure_cache import ProcedureCache
from engine.runtime.queries import CaseFilter

PROCEDURES = Path(__file__).resolve().parent.parent / "procedures"
GRID = PROCEDURES / "grid-service-flow.yaml"
RECALL = PROCEDURES / "villager-committee-recall.yaml"
FOUR = "four-deliberations-two-disclosures.yaml"


def _engine(**options: object) -> Engine:
    return Engine(clock=FixedClock(T0), **options)  # type: ignore[arg-type]


def _opened(engine: Engine, *case_ids: str) -> None:
    for case_id in case_ids:
        engine.open_case(procedure(), case_id, DATA, actor=SECRETARY)


def test_the_procedure_cache_keeps_at_most_its_size_and_drops_the_least_recently_used() -> None:
    """A cache of 2 holding A and B, after A is read again, drops B when C comes."""
    cache = ProcedureCache(2)
    a, b, c = (Runner(load_procedure(p)) for p in (PROCEDURES / FOUR, GRID, RECALL))

    cache.put(a)
    cache.put(b)
    assert cache.get(a.procedure.sha256) is a
    cache.put(c)

    assert len(cache) == 2
    assert a.procedure.sha256 in cache and c.procedure.sha256 in cache
    assert b.procedure.sha256 not in cache
    assert cache.put(Runner(load_procedure(RECALL))) is c  # the one kept wins


def test_a_procedure_cache_of_no_size_is_refused() -> None:
    """A cache must keep at least one version (ValueError, not a silent no-op)."""
    with pytest.raises(ValueError) as caught:
        ProcedureCache(0)
    assert "at least 1" in str(caught.value)


def test_an_evicted_procedure_is_compiled_again_from_the_store() -> None:
    """With room for one version, registering a second evicts the first; asking for the
    first compiles it again from the stored source, and its cases still fire."""
    engine = _engine(cache_size=1)
    first = procedure()
    _opened(engine, "c-1")
    engine.register(load_procedure(GRID))

    again = engine.procedure(first.procedure.sha256)

    assert again is not None and again is not first
    assert again.procedure.sha256 == first.procedure.sha256
    assert engine.fire("c-1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}).applied
    assert engine.procedure("0" * 64) is None


def test_register_source_checks_the_text_and_says_whether_it_is_new() -> None:
    """The first registration of a text is new, the second not; a text with errors is
    refused with every problem and stores nothing."""
    engine = _engine()
    text = GRID.read_text(encoding="utf-8")

    first = engine.register_source(text, "grid.yaml")
    second = engine.register_source(text, "grid.yaml")
    with pytest.raises(ProcedureInvalid) as caught:
        engine.register_source("id: broken\n", "broken.yaml")

    assert first.registered and not second.registered
    assert engine.procedure_source(first.compiled.procedure.sha256) == text
    assert [r.sha256 for r in engine.procedures()] == [first.compiled.procedure.sha256]
    assert caught.value.problems


def test_preload_keeps_a_version_ready_without_storing_it() -> None:
    """A preloaded version is served by ``procedure`` but not listed until registered."""
    engine = _engine()
    engine.preload(procedure())

    assert engine.procedure(procedure().procedure.sha256) is procedure()
    assert engine.procedures() == []


def test_record_by_seq_and_export_lines_up_to_a_seq() -> None:
    """``record`` gives one record by seq; ``export_lines(upto=…)`` the first lines, as hashed;
    a seq the case has not reached, or an unknown case, is UnknownCase."""
    engine = _engine()
    _opened(engine, "c-1")
    engine.fire("c-1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3})

    second = engine.record("c-1", 2)
    lines = engine.export_lines("c-1", upto=1)
    with pytest.raises(UnknownCase):
        engine.record("c-1", 3)
    with pytest.raises(UnknownCase):
        engine.export_lines("c-9")

    assert second["seq"] == 2 and second["event"] == "propose"
    assert len(lines) == 1 and lines[0].endswith(b"\n")
    assert engine.records("c-1", upto=1)[0]["hash"] == engine.record("c-1", 1)["hash"]


def test_list_cases_pages_with_a_cursor_and_refuses_a_forged_one() -> None:
    """Paging by the previous page's ``next`` reaches every case once; a cursor no page gave
    (or one naming an impossible time or a lone surrogate) is InvalidCursor, not a store error."""
    engine = _engine()
    _opened(engine, "c-1", "c-2", "c-3")

    first = engine.list_cases(CaseFilter(), limit=2)
    rest = engine.list_cases(CaseFilter(), after=first.next, limit=2)

    assert first.next is not None and rest.next is None
    assert sorted(c.id for c in (*first.cases, *rest.cases)) == ["c-1", "c-2", "c-3"]
    for forged in ("not a cursor", '[99999999999999999999,"c-1"]', '[1,"\\ud800"]', '[1,""]'):
        with pytest.raises(InvalidCursor):
            engine.list_cases(after=forged)


def test_search_cases_keeps_what_the_caller_accepts_within_a_bounded_scan() -> None:
    """Searching keeps only the accepted cases; a page that fills continues after its last
    case, and a scan that reaches its bound stops with a cursor to go on from."""
    engine = _engine()
    _opened(engine, *(f"c-{n}" for n in range(6)))
    even = {"c-0", "c-2", "c-4"}

    page = engine.search_cases(None, lambda c: c.id in even, limit=2)
    more = engine.search_cases(None, lambda c: c.id in even, after=page.next, limit=2)
    bounded = engine.search_cases(None, lambda c: False, scan=1)

    assert len(page.cases) == 2 and page.next is not None
    assert {c.id for c in (*page.cases, *more.cases)} == even and more.next is None
    assert bounded.cases == () and bounded.scanned >= 1


def test_heads_name_every_case_at_its_last_record() -> None:
    """``heads`` gives each case's seq and hash with the time of its last record."""
    engine = _engine()
    _opened(engine, "c-2", "c-1")

    heads = engine.heads()

    assert [(h.case, h.seq) for h, _ in heads] == [("c-1", 1), ("c-2", 1)]
    assert heads[0][0].hash == engine.snapshot("c-1").head


def test_from_url_opens_the_store_and_closing_the_engine_closes_it(tmp_path: Path) -> None:
    """``Engine.from_url`` is where a store is opened from a URL; the engine as a context
    manager closes it, and a second engine on the same URL reads what the first wrote."""
    url = f"sqlite:///{tmp_path / 'y.db'}"
    with Engine.from_url(url, clock=FixedClock(T0)) as engine:
        _opened(engine, "c-1")
    with Engine.from_url(url) as again:
        assert again.snapshot("c-1").seq == 1
        assert again.cases_per_procedure() == {procedure().procedure.sha256: 1}


def test_with_clock_shares_the_store_and_the_compiled_procedures() -> None:
    """An engine ``with_clock`` sees the same cases and cache, and writes at its own time."""
    engine = _engine()
    engine.preload(procedure())
    later = engine.with_clock(FixedClock(T0 + timedelta(hours=1)))

    later.open_case(procedure(), "c-1", DATA, actor=SECRETARY)

    assert engine.procedure(procedure().procedure.sha256) is procedure()
    assert engine.record("c-1", 1)["at"] == format_time(normalise(T0 + timedelta(hours=1)))
