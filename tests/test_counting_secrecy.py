"""Ballot secrecy at run time (R12) and what a refused record keeps of a payload."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_support import T0, new_engine

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_source
from engine.governance.secrecy import _plainly_secret, secrecy_violations
from engine.runtime.engine import Engine
from engine.runtime.refusal import REFUSED_PAYLOAD_LIMIT, WITHHELD
from engine.runtime.replay import replay_records
from engine.runtime.types import Actor

TELLER = Actor(id="计票人", roles=("teller",))

SOURCE = """\
id: secret-vote
version: "1.0.0"
title: 无记名投票
rule_set:
  name: test
roles:
  teller:
    label: 计票人
data:
  type: object
  properties:
    round: {type: object}
states:
  voting:
    label: 投票
  counted:
    label: 已计票
    final: true
initial: voting
events:
  count:
    label: 计票
    roles: [teller]
    secret_ballot: true
    payload:
      type: object
      required: [present, ballots]
      additionalProperties: false
      properties:
        present: {type: integer, minimum: 0}
        ballots: {type: array, items: {type: object}}
    transitions:
      - from: voting
        to: counted
        guards:
          - cel: size(payload.ballots) <= payload.present
            explain: 收回选票不多于到会人数
        actions:
          - tally_round:
              candidates: '["甲", "乙"]'
              seats: 1
              ballots: payload.ballots
              voters: payload.present
              into: data.round
  note:
    label: 记录
    roles: [teller]
    payload:
      type: object
      properties:
        text: {type: string}
    transitions:
      - from: voting
        to: voting
        guards:
          - cel: size(payload.text) < 10
            explain: 记录不超过 10 字
"""


@cache
def secret_vote() -> CompiledProcedure:
    """The small secret-ballot procedure above, compiled once."""
    return load_source(SOURCE, "secret-vote.yaml")


def _opened() -> Engine:
    engine, _ = new_engine()
    engine.open_case(secret_vote(), "c1", {}, actor=TELLER, at=T0)
    return engine


def _exported(engine: Engine) -> bytes:
    return b"".join(engine.store.export_lines("c1"))


AT = T0 + timedelta(hours=1)


def test_a_voter_named_beside_a_choice_leaves_no_trace_in_the_audit_log() -> None:
    """R12: a ballot carrying a voter's name is refused, and the exported log has no name."""
    engine = _opened()
    ballots = [
        {"marks": {"甲": "approve"}},
        {"marks": {"乙": "approve"}, "voter": "欧阳投票人"},
    ]

    outcome = engine.fire(
        "c1", "count", actor=TELLER, payload={"present": 2, "ballots": ballots}, at=AT
    )

    assert outcome.status == "refused"
    assert outcome.reason is not None
    assert outcome.reason.code == "secret-ballot"
    assert outcome.reason.details == ("ballots[1]",)
    exported = _exported(engine)
    assert "欧阳投票人".encode() not in exported
    assert b"voter" not in exported
    kept = outcome.record["payload"][WITHHELD]
    assert (kept["why"], kept["paths"]) == ("secret-ballot", ["ballots[1]"])
    assert len(kept["sha256"]) == 64
    assert outcome.record["guards"] == []


def test_a_name_put_where_a_mark_goes_is_refused_too() -> None:
    """R12: a mark is approve/disapprove/abstain; any other value (a name) is refused unrecorded."""
    engine = _opened()
    ballots = [{"marks": {"甲": "欧阳投票人"}}]

    outcome = engine.fire(
        "c1", "count", actor=TELLER, payload={"present": 1, "ballots": ballots}, at=AT
    )

    assert outcome.reason is not None and outcome.reason.details == ("ballots[0].marks",)
    assert "欧阳投票人".encode() not in _exported(engine)


def test_a_refused_secret_ballot_replays_to_the_same_record() -> None:
    """Replay reaches the very same refusal from the withheld form alone."""
    engine = _opened()
    engine.fire(
        "c1", "count", actor=TELLER, at=AT,
        payload={"present": 1, "ballots": [{"marks": {"甲": "approve"}, "by": "某人"}]},
    )  # fmt: skip
    engine.fire(
        "c1", "count", actor=TELLER, at=AT + timedelta(minutes=1),
        payload={"present": 1, "ballots": [{"marks": {"甲": "approve"}}]},
    )  # fmt: skip

    report = replay_records(engine.records("c1"), lambda sha: secret_vote())

    assert report.ok, report.divergence


ballot = st.fixed_dictionaries(
    {
        "marks": st.dictionaries(
            st.sampled_from(["甲", "乙"]), st.sampled_from(["approve", "disapprove", "abstain"])
        )
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(ballot, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_ballots_are_recorded_in_canonical_order_whatever_the_entry_order(
    ballots: list[dict[str, Any]], rnd: Any
) -> None:
    """R12: the same ballots entered in any order give byte-identical records."""
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    exports = []
    for entry in (ballots, shuffled):
        engine = _opened()
        engine.fire("c1", "count", actor=TELLER, at=AT, payload={"present": 8, "ballots": entry})
        exports.append(_exported(engine))
    assert exports[0] == exports[1]


def test_ballots_are_sorted_in_a_refusal_as_well() -> None:
    """R12: a refused secret ballot (a guard failed) keeps its ballots in canonical order."""
    engine = _opened()
    ballots = [{"marks": {"乙": "approve"}}, {"marks": {"甲": "approve"}}]

    outcome = engine.fire(
        "c1", "count", actor=TELLER, payload={"present": 1, "ballots": ballots}, at=AT
    )

    assert outcome.reason is not None and outcome.reason.code == "guards-failed"
    assert outcome.record["payload"]["ballots"] == sorted(
        ballots, key=lambda b: next(iter(b["marks"]))
    )


def test_a_refused_payload_up_to_the_limit_is_kept_whole() -> None:
    """A refused record keeps a payload whose canonical JSON fits the limit."""
    engine = _opened()
    text = "x" * (REFUSED_PAYLOAD_LIMIT - len('{"text":""}'))

    outcome = engine.fire("c1", "note", actor=TELLER, payload={"text": text}, at=AT)

    assert outcome.reason is not None and outcome.reason.code == "guards-failed"
    assert outcome.record["payload"] == {"text": text}


def test_a_refused_payload_one_byte_over_the_limit_keeps_its_digest_only() -> None:
    """Beyond the limit a refused record keeps the digest, size and paths, never the content."""
    engine = _opened()
    text = "x" * (REFUSED_PAYLOAD_LIMIT + 1 - len('{"text":""}'))

    outcome = engine.fire("c1", "note", actor=TELLER, payload={"text": text}, at=AT)

    kept = outcome.record["payload"][WITHHELD]
    assert (kept["why"], kept["code"], kept["bytes"]) == (
        "too-large",
        "guards-failed",
        REFUSED_PAYLOAD_LIMIT + 1,
    )
    assert outcome.reason is not None and outcome.reason.code == "guards-failed"
    assert text.encode() not in _exported(engine)
    assert replay_records(engine.records("c1"), lambda sha: secret_vote()).ok


def test_an_oversized_invalid_payload_keeps_the_violation_paths() -> None:
    """An invalid payload too large to keep is recorded with its violation paths."""
    engine = _opened()
    payload = {"present": "many", "ballots": [{"marks": {"甲": "approve"}}] * 400}

    outcome = engine.fire("c1", "count", actor=TELLER, payload=payload, at=AT)

    kept = outcome.record["payload"][WITHHELD]
    assert (kept["code"], kept["paths"]) == ("invalid-payload", ["present"])
    assert outcome.reason is not None and outcome.reason.details == ("present",)


def test_a_payload_that_is_a_withheld_form_is_refused_as_that_form() -> None:
    """A well-formed withheld form sent as a payload is refused the way the form says."""
    engine = _opened()
    form = {
        WITHHELD: {
            "why": "too-large", "code": "invalid-payload", "sha256": "0" * 64, "bytes": 9,
            "paths": ["present"],
        }
    }  # fmt: skip

    outcome = engine.fire("c1", "count", actor=TELLER, payload=form, at=AT)

    assert outcome.reason is not None
    assert (outcome.reason.code, outcome.reason.details) == ("invalid-payload", ("present",))
    assert outcome.record["payload"] == form


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["approve", "disapprove", "abstain", "signed", "torn", "欧阳投票人"]),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["甲", "乙", "voter"]), inner, max_size=3)
    ),
    max_leaves=8,
)
ballot_like = st.dictionaries(
    st.sampled_from(["marks", "write_ins", "count", "spoiled", "voter", "seat"]),
    json_value,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(ballot_like)
def test_the_fast_check_and_the_full_check_agree(ballot: dict[str, Any]) -> None:
    """R12: a ballot passes the per-ballot fast path exactly when the full check finds nothing."""
    found = secrecy_violations({"ballots": [ballot]})
    assert _plainly_secret(ballot) is (found == [])
    assert all(v["path"].startswith("ballots[0]") for v in found)
    assert not any("欧阳投票人" in v["message"] for v in found)


def test_withheld_refusals_are_valid_audit_records() -> None:
    """A withheld refusal is a record the audit-record schema and the field check accept."""
    from jsonschema import Draft202012Validator

    from engine.audit.record import record_problem
    from engine.schemas import load_schema

    engine = _opened()
    engine.fire(
        "c1", "count", actor=TELLER, at=AT,
        payload={"present": 1, "ballots": [{"marks": {"甲": "approve"}, "voter": "某人"}]},
    )  # fmt: skip
    engine.fire("c1", "note", actor=TELLER, at=AT, payload={"text": "x" * REFUSED_PAYLOAD_LIMIT})
    validator = Draft202012Validator(load_schema("audit-record.schema.json"))
    for record in engine.records("c1")[1:]:
        assert WITHHELD in record["payload"]
        assert [e.message for e in validator.iter_errors(record)] == []
        assert record_problem(record) is None
