"""Specification: a keyed retry gets its first outcome after the trail is imported elsewhere.

``case import`` rebuilds a case's idempotency keys from its records, and a record does not
always keep the payload as it was sent: a secret ballot's ballots are kept in canonical
order, and a refused payload no record can hold exactly is kept only as its digest (the
withheld form). A key's fingerprint is therefore made from the payload as its record keeps
it, so the request and its record agree: the same retry gets the first outcome in the
store that imported the trail, exactly as in the store that wrote it, and a different
request under the same key is still a mismatch there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from toy_procedures import one_event

from engine import Actor, Engine, IdempotencyMismatch, load_procedure, load_source
from engine.definition.compile import CompiledProcedure
from engine.runtime.refusal import WITHHELD
from engine.runtime.transfer import export_case, import_log
from engine.storage.memory import MemoryStore
from engine.storage.sqlite import SqliteStore

RECALL = Path(__file__).resolve().parent.parent / "procedures" / "villager-committee-recall.yaml"
AT = datetime(2025, 3, 15, 8, tzinfo=UTC)
VILLAGERS = Actor(id="联名代表赵某", roles=("villagers",))
MEMBER = Actor(id="钱委员", roles=("member",))
TELLERS = Actor(id="村民选举委员会", roles=("election_committee",))
VOTE = {
    "voted_in_person": 498,
    "issued": 501,
    "proxies": [{"holder": "孙某", "votes": 3}],
    # Entered in an order that is not the canonical one the record keeps.
    "ballots": [
        {"count": 4, "spoiled": "signed"},
        {"count": 6},
        {"count": 240, "marks": {"罢免": "disapprove"}},
        {"count": 251, "marks": {"罢免": "approve"}},
    ],
}

INEXACT = one_event(
    "inexact-retry",
    "不精确的载荷",
    """\
  count:
    label: 计数
    roles: [clerk]
    payload:
      type: object
      properties:
        n: {type: integer}
    transitions:
      - from: open
        to: done
""",
)
CLERK = Actor(id="文书甲", roles=("clerk",))


@cache
def _recall() -> CompiledProcedure:
    return load_procedure(RECALL)


@cache
def _inexact() -> CompiledProcedure:
    return load_source(INEXACT, "<inexact-retry>")


def _stores(tmp_path: Path) -> dict[str, Callable[[], Any]]:
    return {"memory": MemoryStore, "sqlite": lambda: SqliteStore(tmp_path / "imported.db")}


def _imported(source: Engine, case: str, procedure: CompiledProcedure, store: Any) -> Engine:
    """A new engine on ``store`` holding ``case`` as ``case import`` stores it."""
    target = Engine(store=store)
    import_log(target, export_case(source, case), lambda sha: procedure)
    return target


def _voted() -> tuple[Engine, Any]:
    engine = Engine()
    engine.open_case(
        _recall(), "recall", {"member": "钱委员", "registered": 1000, "representatives": 45},
        actor=TELLERS, at=AT,
    )  # fmt: skip
    engine.fire("recall", "propose", actor=VILLAGERS, payload={"voter_signers": 200,
                "reasons": "长期不履行职责"}, at=AT)  # fmt: skip
    engine.fire("recall", "waive_defence", actor=MEMBER, at=AT)
    first = engine.fire("recall", "vote", actor=TELLERS, payload=VOTE, at=AT, idempotency_key="v1")
    return engine, first


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_secret_ballot_retry_after_import_gets_the_first_outcome(
    backend: str, tmp_path: Path
) -> None:
    """The record keeps the ballots sorted; the retry sends them as first entered and, in the
    store that imported the trail, gets the first outcome (same seq, replayed), recording
    nothing."""
    source, first = _voted()
    assert first.applied
    assert first.record["payload"]["ballots"] != VOTE["ballots"], "the record reorders them"
    target = _imported(source, "recall", _recall(), _stores(tmp_path)[backend]())

    again = target.fire("recall", "vote", actor=TELLERS, payload=VOTE, at=AT, idempotency_key="v1")

    assert (again.seq, again.status, again.replayed) == (first.seq, "applied", True)
    assert again.record == first.record
    assert len(target.records("recall")) == first.seq


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_different_ballot_under_the_same_key_is_still_a_mismatch_after_import(
    backend: str, tmp_path: Path
) -> None:
    """Mismatch detection keeps its strength: one ballot moved from approve to disapprove,
    or another actor's field changed, under the same key is a different request."""
    source, first = _voted()
    target = _imported(source, "recall", _recall(), _stores(tmp_path)[backend]())
    moved = {
        **VOTE,
        "ballots": [
            {"count": 4, "spoiled": "signed"},
            {"count": 6},
            {"count": 241, "marks": {"罢免": "disapprove"}},
            {"count": 250, "marks": {"罢免": "approve"}},
        ],
    }
    for changed in (moved, {**VOTE, "issued": 502}):
        with pytest.raises(IdempotencyMismatch) as caught:
            target.fire("recall", "vote", actor=TELLERS, payload=changed, at=AT,
                        idempotency_key="v1")  # fmt: skip
        assert f"seq {first.seq}" in str(caught.value)
    assert len(target.records("recall")) == first.seq


def _refused_inexact() -> tuple[Engine, Any]:
    engine = Engine()
    engine.open_case(_inexact(), "c1", {}, actor=CLERK, at=AT)
    first = engine.fire("c1", "count", actor=CLERK, payload={"n": 0.5}, at=AT, idempotency_key="k")
    return engine, first


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_withheld_refusal_retry_after_import_gets_the_first_outcome(
    backend: str, tmp_path: Path
) -> None:
    """The record keeps only the digest of ``{"n": 0.5}``; the retry after import is matched
    by that digest and gets the first refusal, replayed."""
    source, first = _refused_inexact()
    assert not first.applied
    assert WITHHELD in first.record["payload"]
    target = _imported(source, "c1", _inexact(), _stores(tmp_path)[backend]())

    again = target.fire("c1", "count", actor=CLERK, payload={"n": 0.5}, at=AT, idempotency_key="k")

    assert (again.seq, again.status, again.replayed) == (2, "refused", True)
    assert again.reason == first.reason
    assert len(target.records("c1")) == 2


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_different_inexact_payload_under_the_same_key_is_a_mismatch_after_import(
    backend: str, tmp_path: Path
) -> None:
    """Another inexact value, or an exact one, under the key of a withheld refusal is a
    different request in the importing store as in the first."""
    source, _ = _refused_inexact()
    target = _imported(source, "c1", _inexact(), _stores(tmp_path)[backend]())
    for engine in (source, target):
        for payload in ({"n": 0.25}, {"n": 1}):
            with pytest.raises(IdempotencyMismatch):
                engine.fire("c1", "count", actor=CLERK, payload=payload, at=AT,
                            idempotency_key="k")  # fmt: skip
        assert len(engine.records("c1")) == 2


def test_another_actor_with_the_same_key_is_a_new_request_after_import(tmp_path: Path) -> None:
    """Keys stay each actor's own after import: another clerk's identical request under the
    same key is attempted afresh, not given the first clerk's outcome."""
    source, _ = _refused_inexact()
    target = _imported(source, "c1", _inexact(), MemoryStore())
    other = Actor(id="文书乙", roles=("clerk",))
    fresh = target.fire("c1", "count", actor=other, payload={"n": 0.5}, at=AT, idempotency_key="k")
    assert (fresh.seq, fresh.replayed) == (3, False)


@pytest.mark.parametrize(
    ("by", "registered_by"), [(None, "村民选举委员会"), ("审计员甲", "审计员甲")]
)
def test_an_imported_version_names_who_registered_it(by: str | None, registered_by: str) -> None:
    """Rule: a procedure version that ``case import`` registers records its registrant: the
    importer when named (``--actor``), else the case's opener in the log, as the store that
    wrote the log would have recorded them; never "unknown"."""
    source, _ = _voted()
    target = Engine(store=MemoryStore())
    import_log(target, export_case(source, "recall"), lambda sha: _recall(), by=by)

    [version] = target.procedures()
    assert (version.sha256, version.registered_by) == (_recall().procedure.sha256, registered_by)
