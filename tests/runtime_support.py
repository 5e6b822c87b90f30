"""Shared helpers for the runtime tests: the bundled 四议两公开, a small test procedure, actors.

Not fixtures on purpose: Hypothesis tests call these directly, and plain
functions with ``lru_cache`` compile each procedure once per session.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import rfc8785

from engine.actions.registry import ActionFailed, ActionSpec, default_registry
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure, load_source
from engine.runtime.clock import FixedClock
from engine.runtime.engine import Engine
from engine.runtime.types import Actor
from engine.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
# The runtime's tests run on a frozen copy of 四议两公开 1.0.0, so that amending the bundled
# procedure (a new version) never changes what these tests pin: exact refusal messages,
# guard explanations, seq numbers. The bundled procedure and its scenarios are tested as
# they stand by test_scenarios.py and test_cli_run_replay.py.
FOUR_PATH = ROOT / "tests" / "data" / "four-deliberations-1.0.0.yaml"
BUNDLED_PATH = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
HAPPY_PATH = ROOT / "procedures" / "examples" / "four-deliberations-happy-path.yaml"
FROZEN_HAPPY_PATH = ROOT / "tests" / "data" / "four-deliberations-1.0.0-happy-path.yaml"
"""The happy-path scenario as it was written for 1.0.0 (14 records, 10 applied, 3 refused)."""

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=CST)

SECRETARY = Actor(id="张书记", roles=("branch_secretary",))
DIRECTOR = Actor(id="李主任", roles=("village_director",))
COMMITTEE = Actor(id="村委会", roles=("village_committee",))
SUPERVISOR = Actor(id="王监委", roles=("supervision_committee",))
NOBODY = Actor(id="路人", roles=())

FOUR_DATA: dict[str, Any] = {
    "matter": "村内主干道硬化",
    "branch_committee_members": 5,
    "two_committees_members": 9,
    "voting_party_members": 41,
    "representatives": 57,
    "reconvened": 0,
}

# Steps that take a fresh 四议两公开 case from drafting to each later state.
PATH_TO: dict[str, list[tuple[str, Actor, dict[str, Any]]]] = {}
_WAY = [
    ("proposed", "propose", SECRETARY, {"present": 4, "yes": 3}),
    ("deliberated", "deliberate", SECRETARY, {"present": 9, "yes": 8}),
    ("reviewed", "review", SECRETARY, {"present": 30, "yes": 21}),
    ("resolved", "resolve", DIRECTOR, {"present": 38, "yes": 20}),
    ("resolution_disclosed", "disclose_resolution", COMMITTEE, {"notice": "决议"}),
]
for _i, (_state, *_rest) in enumerate(_WAY):
    PATH_TO[_state] = [(e, a, p) for _s, e, a, p in _WAY[: _i + 1]]


@cache
def four() -> CompiledProcedure:
    """四议两公开 1.0.0 (the frozen test copy), compiled once."""
    return load_procedure(FOUR_PATH)


@cache
def bundled() -> CompiledProcedure:
    """The bundled 四议两公开 procedure as it stands, compiled once."""
    return load_procedure(BUNDLED_PATH)


def new_engine(at: datetime = T0) -> tuple[Engine, FixedClock]:
    """An engine over a fresh memory store with a fixed clock at ``at``."""
    clock = FixedClock(at)
    return Engine(store=MemoryStore(), clock=clock), clock


def open_four(
    engine: Engine, case_id: str = "c1", *, at: datetime = T0, state: str = "drafting"
) -> datetime:
    """Open a 四议两公开 case and bring it to ``state``; return the time of the last step."""
    engine.open_case(four(), case_id, FOUR_DATA, actor=SECRETARY, at=at)
    when = at
    for event, actor, payload in PATH_TO.get(state, []):
        when += timedelta(hours=1)
        outcome = engine.fire(case_id, event, actor=actor, payload=payload, at=when)
        assert outcome.applied, outcome.reason
    return when


def jcs_hash(record: Mapping[str, Any]) -> str:
    """The record hash computed independently with the reference ``rfc8785`` package."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def as_lines(records: list[dict[str, Any]]) -> bytes:
    """Records as canonical JSON lines: what "byte-identical" compares."""
    return b"\n".join(rfc8785.dumps(r) for r in records)


def dumps(value: Any) -> str:
    """Readable JSON for assertion messages."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- a small procedure exercising actions, failures and timers ---------------------------------

TOY_SOURCE = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: toy
version: "1.0.0"
title: 测试程序
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    notes:
      type: array
      items:
        type: string
    count:
      type: integer
      minimum: 0
    ratio:
      type: integer
    objections:
      type: integer
      minimum: 0
initial: open
states:
  open:
    label: 开放
  posted:
    label: 公示中
    deadline:
      after: P7D
      event: expire
  done:
    label: 完成
    final: true
events:
  note:
    label: 记录
    roles: [clerk]
    payload:
      type: object
      required: [text, n]
      additionalProperties: false
      properties:
        text:
          type: string
        n:
          type: integer
    transitions:
      - from: open
        to: open
        actions:
          - append:
              path: data.notes
              expr: payload.text
          - set:
              path: data.count
              expr: payload.n
  divide:
    label: 除法
    roles: [clerk]
    payload:
      type: object
      required: [n]
      additionalProperties: false
      properties:
        n:
          type: integer
    transitions:
      - from: open
        to: open
        actions:
          - append:
              path: data.notes
              value: dividing
          - set:
              path: data.ratio
              expr: 100 / payload.n
  blow:
    label: 故障
    roles: [clerk]
    transitions:
      - from: open
        to: posted
        actions:
          - explode: {}
  post:
    label: 公示
    roles: [clerk]
    transitions:
      - from: open
        to: posted
  object:
    label: 异议
    roles: [clerk]
    transitions:
      - from: posted
        to: posted
        actions:
          - increment:
              path: data.objections
  expire:
    label: 期满
    transitions:
      - from: posted
        to: done
        guards:
          - cel: data.objections == 0
            explain: 无异议
"""

CLERK = Actor(id="文书甲", roles=("clerk",))
TOY_DATA: dict[str, Any] = {"notes": [], "count": 0, "ratio": 0, "objections": 0}


def _explode(params: Mapping[str, Any], ctx: Any) -> Any:
    """A test action that scribbles on the working copy, then fails."""
    ctx.data["count"] = 99
    ctx.data["notes"].append("scribbled")
    raise ActionFailed("the fuse blew")


@cache
def toy() -> CompiledProcedure:
    """The test procedure, with an ``explode`` action registered beside the built-ins."""
    registry = default_registry()
    registry.register(
        ActionSpec(
            name="explode",
            description="changes the data, then fails (tests only)",
            params_schema={"type": "object"},
            run=_explode,
        )
    )
    return load_source(TOY_SOURCE, "<toy>", registry)
