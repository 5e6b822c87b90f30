"""An authorised actor's payload that no record can hold is a recorded, replayable refusal.

``2.0``, ``NaN``, ``Infinity``, integers beyond ±(2**53 - 1) and lone surrogates are
refused ``invalid-payload`` before any guard runs, and recorded with the payload
withheld (``why: not-exact``): its digest, size and the offending path, never the
value. Replay reaches the same record; a retry with the same idempotency key returns
the first outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from toy_procedures import one_event

from engine import Actor, Engine, load_source
from engine.audit.canonical import MAX_SAFE_INT
from engine.audit.verify import verify_records
from engine.definition.compile import CompiledProcedure
from engine.runtime.refusal import WITHHELD
from engine.runtime.replay import replay_records

SOURCE = one_event(
    "inexact-payload",
    "不精确的载荷",
    """\
  count:
    label: 计数
    roles: [clerk]
    payload:
      type: object
      properties:
        n: {type: integer}
        note: {type: string}
    transitions:
      - from: open
        to: done
        guards:
          - cel: payload.n >= 0
            explain: 非负
""",
)

CLERK = Actor(id="文书甲", roles=("clerk",))
AT = datetime(2024, 3, 1, tzinfo=UTC)

INEXACT: dict[str, tuple[dict[str, Any], str]] = {
    "integral float": ({"n": 2.0}, "n"),
    "NaN": ({"n": float("nan")}, "n"),
    "Infinity": ({"n": float("inf")}, "n"),
    "2**53": ({"n": MAX_SAFE_INT + 1}, "n"),
    "lone surrogate": ({"n": 1, "note": "\ud800"}, "note"),
}


@cache
def _procedure() -> CompiledProcedure:
    return load_source(SOURCE, "<inexact>")


def _opened() -> Engine:
    engine = Engine()
    engine.open_case(_procedure(), "c1", {}, actor=CLERK, at=AT)
    return engine


@pytest.mark.parametrize("name", list(INEXACT))
def test_an_inexact_payload_is_refused_and_recorded_withheld(name: str) -> None:
    """Refused ``invalid-payload`` at seq 2 naming the path; the record keeps the withheld
    form (``not-exact``), no guard trace; the chain verifies and replays."""
    payload, path = INEXACT[name]
    engine = _opened()

    outcome = engine.fire("c1", "count", actor=CLERK, payload=payload, at=AT)

    assert not outcome.applied
    assert outcome.reason is not None
    assert outcome.reason.code == "invalid-payload"
    assert outcome.seq == 2
    kept = outcome.record["payload"][WITHHELD]
    assert (kept["why"], kept["code"], kept["paths"]) == ("not-exact", "invalid-payload", [path])
    assert outcome.record["guards"] == []
    assert engine.case("c1").state == "open"
    assert verify_records(engine.records("c1")).ok
    assert replay_records(engine.records("c1"), lambda sha: _procedure()).ok


def test_the_safe_integer_edge_is_exact_and_reaches_the_guards() -> None:
    """n = 2**53 - 1 is exact: the guard runs and the event applies."""
    engine = _opened()
    outcome = engine.fire("c1", "count", actor=CLERK, payload={"n": MAX_SAFE_INT}, at=AT)
    assert outcome.applied


def test_a_retry_of_an_inexact_payload_returns_the_first_refusal() -> None:
    """The same idempotency key and payload again: the first outcome, replayed, seq 2."""
    engine = _opened()
    first = engine.fire("c1", "count", actor=CLERK, payload={"n": 0.5}, at=AT, idempotency_key="k1")
    again = engine.fire("c1", "count", actor=CLERK, payload={"n": 0.5}, at=AT, idempotency_key="k1")
    assert (first.seq, again.seq, again.replayed) == (2, 2, True)
    assert len(engine.records("c1")) == 2


def test_explaining_an_inexact_payload_names_it_before_any_guard() -> None:
    """Explain gives the same ``invalid-payload`` reason and records nothing."""
    engine = _opened()
    explained = engine.explain("c1", "count", actor=CLERK, payload={"n": 2.0})
    assert explained.reason is not None
    assert explained.reason.code == "invalid-payload"
    assert explained.reason.details[0]["path"] == "n"
    assert len(engine.records("c1")) == 1
