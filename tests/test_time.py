"""One meaning of time: instants in UTC in the record, wall-clock questions in the procedure's zone.

The same instant written with any offset must give the same guard results and the
same record bytes; ``time_zone`` decides what hour and day it is; replay of logs
written before normalisation (``at`` with +08:00) still reproduces them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_support import as_lines

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import check_source, load_source
from engine.runtime.attempt import Runner, attempt, open_record
from engine.runtime.clock import FixedClock, format_time, local_time, normalise, parse_time
from engine.runtime.engine import Engine
from engine.runtime.replay import replay_records
from engine.runtime.types import Actor
from engine.storage.memory import MemoryStore

CLERK = Actor(id="文书", roles=("clerk",))


def _source(zone_line: str = "") -> str:
    return f"""\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: office-hours
version: "1.0.0"
title: 办公时间登记
{zone_line}rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    hour:
      type: integer
    weekday:
      type: integer
initial: open
states:
  open:
    label: 受理中
    deadline:
      after: P1D
      days: working
      event: lapse
  done:
    label: 已办结
    final: true
events:
  register:
    label: 登记
    roles: [clerk]
    transitions:
      - from: open
        to: done
        label: 工作时间内登记
        guards:
          - cel: now.getHours() >= 9 && now.getHours() < 17
            explain: 上午九时至下午五时之间
        actions:
          - set:
              path: data.hour
              expr: now.getHours()
          - set:
              path: data.weekday
              expr: now.getDayOfWeek()
  lapse:
    label: 逾期
    roles: [clerk]
    transitions:
      - from: open
        to: done
"""


def _compiled(zone_line: str = "") -> CompiledProcedure:
    return load_source(_source(zone_line), "<office-hours>")


def _run(at_text: str, zone_line: str = "") -> list[dict[str, Any]]:
    opened = parse_time("2024-03-22T08:00:00+08:00")
    engine = Engine(MemoryStore(), FixedClock(opened))
    engine.open_case(_compiled(zone_line), "c1", {}, actor=CLERK, at=opened)
    engine.fire("c1", "register", actor=CLERK, at=parse_time(at_text))
    return engine.records("c1")


def test_the_same_instant_written_three_ways_gives_byte_identical_records() -> None:
    """Normalisation: 2024-03-23T01:00 in Shanghai written as Z, +08:00 and -05:00 yields the
    same guard results and byte-identical records (at recorded once, in UTC)."""
    ways = ("2024-03-22T17:00:00Z", "2024-03-23T01:00:00+08:00", "2024-03-22T12:00:00-05:00")

    runs = [_run(text) for text in ways]

    assert as_lines(runs[0]) == as_lines(runs[1]) == as_lines(runs[2])
    assert runs[0][-1]["at"] == "2024-03-22T17:00:00Z"
    # 01:00 on Saturday in Shanghai: outside office hours whatever the client wrote.
    assert runs[0][-1]["kind"] == "event.refused"


def test_a_declared_time_zone_changes_the_wall_clock() -> None:
    """time_zone: the same instant (14:00Z) is 22:00 in Shanghai (refused: after hours) and
    10:00 in New York (applied), so the declared zone, not the offset, decides."""
    shanghai = _run("2024-03-22T14:00:00Z")
    new_york = _run("2024-03-22T14:00:00Z", "time_zone: America/New_York\n")

    assert shanghai[-1]["kind"] == "event.refused"
    assert new_york[-1]["kind"] == "event.applied"


def test_guard_hour_threshold_edges_in_the_zone() -> None:
    """Edges: 08:59:59 and 17:00:00 Shanghai time are outside, 09:00:00 and 16:59:59 inside,
    each written in UTC."""
    kinds = {
        text: _run(text)[-1]["kind"]
        for text in (
            "2024-03-22T00:59:59Z",
            "2024-03-22T01:00:00Z",
            "2024-03-22T08:59:59Z",
            "2024-03-22T09:00:00Z",
        )
    }

    assert kinds == {
        "2024-03-22T00:59:59Z": "event.refused",
        "2024-03-22T01:00:00Z": "event.applied",
        "2024-03-22T08:59:59Z": "event.applied",
        "2024-03-22T09:00:00Z": "event.refused",
    }


def test_the_data_written_from_now_speaks_the_zone() -> None:
    """Actions reading now see the zone's wall clock: 10:00 Friday in Shanghai."""
    opened = parse_time("2024-03-22T08:00:00+08:00")
    engine = Engine(MemoryStore(), FixedClock(opened))
    engine.open_case(_compiled(), "c1", {}, actor=CLERK, at=opened)

    engine.fire("c1", "register", actor=CLERK, at=parse_time("2024-03-22T02:00:00Z"))

    assert engine.case("c1").data == {"hour": 10, "weekday": 5}


def test_an_unknown_time_zone_is_refused_with_its_location() -> None:
    """time_zone must be an IANA zone: a misspelt one is reported at its line and path."""
    report = check_source(_source("time_zone: Asia/Shang_hai\n"), "office.yaml")

    (problem,) = [p for p in report.errors]
    assert (problem.location.line, problem.location.path) == (5, "time_zone")
    assert "is not an IANA time zone" in problem.message
    assert report.compiled is None


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "+08:00", "UTC+8", "localtime", "posixrules", "Asia/Shanghai "]
)
def test_offsets_paths_and_host_aliases_are_not_zones(name: str) -> None:
    """time_zone: an offset, a path or the host's own setting (localtime) is not an IANA
    zone name, so the same procedure cannot mean different hours on different hosts."""
    report = check_source(_source(f"time_zone: '{name}'\n"), "office.yaml")

    assert [p.location.path for p in report.errors] == ["time_zone"]


def test_the_default_zone_is_shanghai() -> None:
    """Without time_zone a procedure speaks Asia/Shanghai."""
    assert _compiled().procedure.time_zone == "Asia/Shanghai"
    assert _compiled("time_zone: Europe/Berlin\n").procedure.time_zone == "Europe/Berlin"


def test_normalise_keeps_the_instant_and_refuses_naive_times() -> None:
    """normalise: UTC, same instant; a time with no offset names no instant."""
    at = datetime(2024, 3, 23, 1, 0, tzinfo=timezone(timedelta(hours=8)))

    assert normalise(at) == at
    assert normalise(at).tzinfo is UTC
    assert format_time(normalise(at)) == "2024-03-22T17:00:00Z"
    with pytest.raises(ValueError):
        normalise(datetime(2024, 3, 23, 1, 0))


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # every instant has a UTC form (normalise)
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
    )
)
@settings(max_examples=300)
def test_format_time_is_isoformat_with_z_for_utc(at: datetime) -> None:
    """format_time: ``isoformat`` with ``+00:00`` written ``Z`` (a UTC instant in whole
    seconds takes a shorter way to the same text), years before 1000 padded to four digits."""
    text = at.isoformat()

    assert format_time(at) == (text[:-6] + "Z" if text.endswith("+00:00") else text)
    assert format_time(normalise(at)) == normalise(at).isoformat().replace("+00:00", "Z")
    assert parse_time(format_time(at)) == at


def test_local_time_follows_daylight_saving() -> None:
    """local_time: the offset is the zone's at that instant (Berlin +01:00 in winter, +02:00
    in summer), as a fixed offset the CEL core accepts."""
    winter = local_time(datetime(2024, 1, 15, 12, 0, tzinfo=UTC), "Europe/Berlin")
    summer = local_time(datetime(2024, 7, 15, 12, 0, tzinfo=UTC), "Europe/Berlin")

    assert (winter.hour, winter.utcoffset()) == (13, timedelta(hours=1))
    assert (summer.hour, summer.utcoffset()) == (14, timedelta(hours=2))


def test_working_day_deadline_uses_the_zone_and_is_kept_in_utc() -> None:
    """Working days: a case opened Fri 2024-03-22 08:00 Shanghai (written as 00:00Z) is due at
    the Shanghai midnight ending Mon 25 March, i.e. 2024-03-25T16:00:00Z."""
    engine = Engine(MemoryStore(), FixedClock(parse_time("2024-03-22T00:00:00Z")))
    engine.open_case(_compiled(), "c1", {}, actor=CLERK, at=parse_time("2024-03-22T00:00:00Z"))

    assert engine.case("c1").deadline == {"at": "2024-03-25T16:00:00Z", "event": "lapse"}


def test_logs_written_with_offsets_before_normalisation_still_replay() -> None:
    """Replay: a log whose records kept the client's +08:00 (as yishi wrote before instants
    were normalised) re-executes to the very same bytes; replay never rewrites a time."""
    compiled = _compiled()
    runner = Runner(compiled)
    opened_at = parse_time("2024-03-22T08:00:00+08:00")
    first, snapshot = open_record(runner, "c1", {}, actor=CLERK, at=opened_at)
    second, _ = attempt(
        runner, snapshot, "register", actor=CLERK, payload={},
        at=parse_time("2024-03-22T10:00:00+08:00"),
    )  # fmt: skip
    assert (first["at"], second["at"]) == ("2024-03-22T08:00:00+08:00", "2024-03-22T10:00:00+08:00")

    report = replay_records(
        [first, second], lambda sha: compiled if sha == compiled.procedure.sha256 else None
    )

    assert report.ok
    assert second["kind"] == "event.applied"
