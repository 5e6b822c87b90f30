"""Specification: a deadline past year 9999 is a clear engine error, and nothing is recorded.

Records hold UTC instants in years 1 to 9999. A case entering a state whose deadline
would fall beyond that (a P5D deadline entered on 9999-12-30, a P1Y one in 9999) cannot
arm its timer, so the attempt fails with ``DeadlineOutOfRange`` (an ``EngineError``: one
line from the CLI, never an internal error) before anything is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_support import invoke, one_error_line

from engine import Actor, Engine, load_source
from engine.runtime.deadlines import DeadlineOutOfRange, deadline_after

SOURCE = """\
id: deadline-edge
version: "1.0.0"
title: 期限
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
initial: open
states:
  open:
    label: 办理中
  waiting:
    label: 公示中
    deadline:
      after: P5D
      event: expire
  done:
    label: 办结
    final: true
events:
  wait:
    label: 公示
    roles: [clerk]
    transitions:
      - from: open
        to: waiting
  expire:
    label: 期满
    transitions:
      - from: waiting
        to: done
"""
CLERK = Actor(id="文书甲", roles=("clerk",))


@pytest.mark.parametrize(
    ("entered", "period", "days"),
    [
        (datetime(9999, 12, 30, tzinfo=UTC), "P5D", "calendar"),
        (datetime(9999, 6, 1, tzinfo=UTC), "P1Y", "calendar"),
        (datetime(9999, 12, 31, 20, tzinfo=UTC), "PT5H", "calendar"),
    ],
)
def test_a_deadline_past_year_9999_is_out_of_range(
    entered: datetime, period: str, days: str
) -> None:
    """deadline_after names the period and the instant; it is an EngineError."""
    with pytest.raises(DeadlineOutOfRange, match="falls after year 9999") as caught:
        deadline_after(entered, period, days)
    assert period in str(caught.value)


def test_the_last_deadline_that_fits_is_computed() -> None:
    """P5D from 9999-12-25 00:00 Shanghai falls within year 9999 and is returned."""
    due = deadline_after(datetime(9999, 12, 24, 16, tzinfo=UTC), "P5D")
    assert due == datetime(9999, 12, 29, 16, tzinfo=UTC)


def test_entering_such_a_state_records_nothing() -> None:
    """The attempt fails before its record: the case stays at seq 1 in its state."""
    engine = Engine()
    at = datetime(9999, 12, 30, tzinfo=UTC)
    engine.open_case(load_source(SOURCE, "<edge>"), "c1", {}, actor=CLERK, at=at)
    with pytest.raises(DeadlineOutOfRange):
        engine.fire("c1", "wait", actor=CLERK, at=at)
    view = engine.case("c1")
    assert (view.seq, view.state) == (1, "open")


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    """yishi case fire with such an --at is one error line, not an internal error."""
    procedure = tmp_path / "edge.yaml"
    procedure.write_text(SOURCE, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'edge.db'}"
    at = "9999-12-30T00:00:00Z"
    opened = invoke("case", "open", procedure, "c1", "--actor", "a", "--role", "clerk",
                    "--at", at, "--db", db)  # fmt: skip
    assert opened.code == 0, opened.stderr
    fired = invoke("case", "fire", "c1", "wait", "--actor", "a", "--role", "clerk",
                   "--at", at, "--db", db)  # fmt: skip
    line = one_error_line(fired)
    assert "falls after year 9999" in line
    assert fired.code == 1
