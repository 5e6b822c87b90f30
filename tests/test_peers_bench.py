"""bench/peers.py measures what it says: its procedure validates and its yishi side really runs.

Only the yishi side is exercised here: the peers are an optional extra that CI does not
install, and the bench must still run (and say how to install them) without them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from bench_support import load_bench

from engine.definition.loader import SCHEMA_COMMENT, check_source, read_source

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "peers.py"


def _bench() -> ModuleType:
    return load_bench("peers.py", "peers_bench")


def test_the_bench_procedure_validates_with_no_problems() -> None:
    """The workflow the peers are compared on is a procedure `yishi validate` accepts cleanly."""
    peers = _bench()
    source = read_source(peers.PROCEDURE)
    assert source.splitlines()[0] == SCHEMA_COMMENT
    report = check_source(source, str(peers.PROCEDURE))
    assert [str(p) for p in report.problems] == []
    assert report.compiled is not None
    procedure = report.compiled.procedure
    assert peers.PROCEDURE.stem == procedure.id


def test_the_bench_procedure_is_the_twelve_month_cycle_with_one_guard_per_move() -> None:
    """Each month's disclose has exactly one transition, to the next month, with one guard."""
    peers = _bench()
    report = check_source(read_source(peers.PROCEDURE), str(peers.PROCEDURE))
    assert report.compiled is not None
    procedure = report.compiled.procedure
    assert [s for s in procedure.states if not procedure.states[s].final] == peers.MONTHS
    moves = {}
    for t in procedure.events[peers.EVENT].transitions:
        assert len(t.guards) == 1
        (source,) = t.sources
        moves[source] = t.target
    assert moves == {m: peers.month_after(i + 1) for i, m in enumerate(peers.MONTHS)}


@pytest.mark.parametrize("moves", [1, 11, 13])
def test_the_yishi_side_moves_every_case_by_its_events(moves: int) -> None:
    """After ``moves`` disclosures every case is ``moves`` months on (December wraps to January)."""
    peers = _bench()
    side = peers.yishi_side()
    set_up, fired = peers.one_round(side, 3, moves)
    assert set_up >= 0 and fired >= 0
    live = side.setup(2)
    side.fire(live, moves, peers.ITEMS)
    for engine, case_id in live:
        view = engine.case(case_id)
        assert view.state == peers.month_after(moves)
        # one opening record, then one applied, hash-chained record per event
        assert view.seq == moves + 1
        assert [r["kind"] for r in view.history].count("event.applied") == moves


def test_the_yishi_side_refuses_a_month_with_nothing_disclosed() -> None:
    """The guard items >= 1 really runs: a disclosure of 0 items leaves the case in January."""
    peers = _bench()
    side = peers.yishi_side()
    peers.guard_refuses(side)
    live = side.setup(1)
    side.fire(live, 1, 0)
    ((engine, case_id),) = live
    assert engine.case(case_id).state == "m01"
    assert [r["kind"] for r in engine.case(case_id).history] == ["case.opened", "event.refused"]


def test_the_end_state_check_catches_a_side_that_does_not_move() -> None:
    """A side whose cases stay put fails the round's check instead of being timed."""
    peers = _bench()
    side = peers.yishi_side()
    still = peers.Side("still", "still", side.setup, lambda live, moves, items: None, side.state_of)
    with pytest.raises(AssertionError, match="still: cases ended in"):
        peers.one_round(still, 2, 1)


def test_a_missing_peer_is_reported_with_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A peer that does not import is named with the install command; the others still load."""
    peers = _bench()

    def absent() -> object:
        raise ModuleNotFoundError("No module named 'nosuchpeer'", name="nosuchpeer")

    monkeypatch.setattr(
        peers, "SIDES", [("yishi", "yishi", peers.yishi_side), ("gone", "gone", absent)]
    )
    sides = peers.load_sides()
    assert [side.name for side in sides] == ["yishi"]
    out = capsys.readouterr().out
    assert "gone: not installed (nosuchpeer)" in out
    assert 'pip install ".[bench]"' in out


@pytest.mark.subprocess
def test_the_script_runs_and_prints_yishi_beside_whatever_peers_are_installed() -> None:
    """One small run from the command line prints the table; a peer missing is no failure."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "2", "--events", "2", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "events/s" in result.stdout
    assert any(line.startswith("yishi ") for line in result.stdout.splitlines())


@pytest.mark.subprocess
def test_a_whole_year_of_events_per_case_is_refused() -> None:
    """12 moves per case would end where the cases began, so the check could not see a move."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "1", "--events", "12"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "multiple of 12" in result.stderr
    assert "Traceback" not in result.stderr
