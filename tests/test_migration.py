"""Migration of open cases: checked before anything changes, recorded as case.migrated in the
case's own chain, so verify and replay span versions; refused migrations change nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from compile_cache import fixed_folder
from jsonschema import Draft202012Validator
from store_support import (
    PROCEDURE_PATH,
    T0,
    pg_schema_url,
    to_disclosure,
)
from test_cli_run_replay import _yishi
from whatif_support import (
    ELECTION,
    EXPECTED,
    amended,
    amended_election,
    amended_election_file,
    copy_templates,
    drive,
    election,
    election_body,
    open_election,
    renumbered,
    set_approvals,
)

from engine.audit.chain import seal
from engine.audit.record import record_problem
from engine.audit.verify import verify_lines
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure
from engine.runtime.clock import parse_time
from engine.runtime.engine import Engine
from engine.runtime.migration import migrate_cases
from engine.runtime.replay import replay_records
from engine.runtime.transfer import import_log
from engine.runtime.types import Actor
from engine.schemas import load_schema
from engine.storage.base import Store
from engine.storage.memory import MemoryStore
from engine.storage.url import open_store

ADMIN = Actor(id="县委组织部", roles=("admin",))
CASE = "2004-桂花镇-党委书记"
WHY = "2020年《中国共产党基层组织选举工作条例》施行"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (PostgreSQL fails, not skips, when CI=true)."""
    if request.param == "memory":
        urls: Iterator[str] = iter(["memory://"])
    elif request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'cases.db'}"])
    else:
        urls = pg_schema_url()
    opened = open_store(next(urls))
    yield opened
    opened.close()
    for _ in urls:  # let the PostgreSQL fixture body drop its schema
        pass


def _lookup(*versions: CompiledProcedure) -> Any:
    known = {v.procedure.sha256: v for v in versions}
    return known.get


def _state(engine: Engine, case: str) -> tuple[Any, ...]:
    view = engine.case(case)
    return (view.procedure, view.state, view.seq, view.head, view.data, view.deadline,
            view.history)  # fmt: skip


def test_1990_rules_migrated_mid_way_to_2020_and_finished(tmp_path: Path, store: Store) -> None:
    """Migration: a case opened under the 1990 rules (present base), migrated before the
    members' vote to the 2020 rules (expected base), then finished; every backend keeps it,
    verify passes, replay reproduces every record across the versions, and the votes after
    the migration were counted on the 2020 base."""
    engine = Engine(store=store)
    body = election_body()
    rest = open_election(engine, CASE, body)
    rules_2020 = amended()
    before = engine.case(CASE, history=False)

    when = parse_time("2004-04-02T08:00:00+08:00")
    (result,) = migrate_cases(engine, [CASE], rules_2020, state_map={}, data_map={},
                              reason=WHY, actor=ADMIN, at=when)  # fmt: skip
    # 279 approvals: more than half of the 497 present, not of the 560 expected.
    vote, announce, approve = rest
    set_approvals(vote["payload"], 279)
    further = copy.deepcopy(vote)
    set_approvals(further["payload"], 300)
    times = ["2004-04-02T09:00:00+08:00", "2004-04-02T12:00:00+08:00",
             "2004-04-03T09:00:00+08:00", "2004-04-03T12:00:00+08:00",
             "2004-04-05T09:00:00+08:00"]  # fmt: skip
    shift = [dict(s, at=t) for s, t in zip([vote, announce, further, announce, approve], times,
                                             strict=True)]  # fmt: skip
    drive(engine, CASE, body, shift)
    records = engine.records(CASE)

    assert result.check.ok and result.seq == before.seq + 1
    migrated = records[before.seq]
    assert migrated["kind"] == "case.migrated"
    assert migrated["payload"]["from_procedure"]["sha256"] == election().procedure.sha256
    assert migrated["procedure"]["sha256"] == rules_2020.procedure.sha256
    assert migrated["payload"]["reason"] == WHY
    assert migrated["actor"] == ADMIN.record()
    assert (migrated["from"], migrated["to"]) == ("members_meeting", "members_meeting")
    assert engine.case(CASE, history=False).state == "approved"
    counts = [r["actions"][0]["output"] for r in records if r["event"] == "members_vote"]
    assert [c["checks"]["黄钰"]["base_count"] for c in counts] == [EXPECTED, EXPECTED]
    assert [c["elected"] for c in counts] == [[], ["黄钰"]]
    assert verify_lines(store.export_lines(CASE)).ok
    report = replay_records(records, _lookup(election(), rules_2020))
    assert report.ok, report.divergence
    assert report.snapshots[0].state == "approved"
    # the store kept both versions: a fresh engine replays it from the store alone
    assert {p.sha256 for p in store.procedures()} >= {
        election().procedure.sha256,
        rules_2020.procedure.sha256,
    }


def test_the_next_event_after_a_migration_starts_from_the_migrated_case(store: Store) -> None:
    """After ``migrate_cases``, the engine that migrated fires the next event on the migrated
    case itself (its door asked about the new version) without reading the case again or
    having an attempt refused as stale: a kept pre-migration snapshot would have let an
    idempotent retry be answered before the door saw the new version's roles."""
    engine = Engine(store=store)
    body = election_body()
    vote, *_ = open_election(engine, CASE, body)
    rules_2020 = amended()
    when = parse_time("2004-04-02T08:00:00+08:00")
    (result,) = migrate_cases(engine, [CASE], rules_2020, state_map={}, data_map={},
                              reason=WHY, actor=ADMIN, at=when)  # fmt: skip
    assert result.seq is not None

    asked: list[tuple[str, int]] = []
    reads: list[str] = []
    get_case = store.get_case

    def counted(case_id: str) -> Any:
        reads.append(case_id)
        return get_case(case_id)

    store.get_case = counted  # type: ignore[method-assign]
    outcome = engine.fire(
        CASE, vote["event"], actor=Actor.of(body["actors"][vote["actor"]]),
        payload=vote["payload"], at=parse_time("2004-04-02T09:00:00+08:00"),
        door=lambda snapshot: asked.append((snapshot.procedure_sha256, snapshot.seq)),
    )  # fmt: skip
    assert outcome.applied, outcome.reason
    assert asked == [(rules_2020.procedure.sha256, result.seq)]
    assert reads == []


def test_a_migrated_case_imports_into_another_store(tmp_path: Path) -> None:
    """Migration: an exported case with a case.migrated record imports elsewhere, each segment
    re-executed under its own version, and lands under the version it migrated to."""
    engine = Engine(store=MemoryStore())
    open_election(engine, CASE, election_body())
    rules_2020 = amended()
    migrate_cases(engine, [CASE], rules_2020, state_map={}, data_map={}, reason=WHY,
                  actor=ADMIN, at=T0)  # fmt: skip
    other = Engine(store=MemoryStore())

    (imported,) = import_log(
        other, engine.store.export_lines(CASE), _lookup(election(), rules_2020)
    )

    assert imported.state == "members_meeting"
    view = other.case(CASE, history=False)
    assert view.procedure["sha256"] == rules_2020.procedure.sha256
    assert view.head == engine.case(CASE, history=False).head


def test_an_edited_migration_record_is_a_replay_divergence(tmp_path: Path) -> None:
    """Replay re-executes a migration: a resealed record claiming another state map diverges
    at the migration's seq."""
    engine = Engine(store=MemoryStore())
    open_election(engine, CASE, election_body())
    rules_2020 = amended()
    (result,) = migrate_cases(engine, [CASE], rules_2020, state_map={}, data_map={},
                              reason=WHY, actor=ADMIN, at=T0)  # fmt: skip
    records = engine.records(CASE)
    assert result.seq is not None
    forged = dict(records[result.seq - 1], to="reported")
    records[result.seq - 1] = seal(forged, records[result.seq - 2]["hash"])

    report = replay_records(records, _lookup(election(), rules_2020))

    assert report.divergence is not None
    assert report.divergence.seq == result.seq
    assert "to" in report.divergence.fields


def test_the_migrated_record_is_a_valid_audit_record(tmp_path: Path) -> None:
    """A case.migrated record passes the field check and the published audit-record schema."""
    engine = Engine(store=MemoryStore())
    open_election(engine, CASE, election_body())
    migrate_cases(engine, [CASE], amended(), state_map={},
                  data_map={}, reason=WHY, actor=ADMIN, at=T0)  # fmt: skip
    record = engine.records(CASE)[-1]

    assert record["kind"] == "case.migrated"
    assert record_problem(record) is None
    assert (
        list(Draft202012Validator(load_schema("audit-record.schema.json")).iter_errors(record))
        == []
    )


@cache
def _renamed_path() -> Path:
    """The 2020 rules with the members' meeting state renamed (a state the old map must name).

    It and the other versions below are derived from the bundled text and written once per
    test process into a folder no test changes (``compile_cache.fixed_folder``): each is
    checked once, not a second of CEL and template checks in every test that loads it or
    names it to the CLI. A compiled procedure is frozen, so tests share it.
    """
    folder = fixed_folder("yishi-migration-")
    text = amended_election(folder, "2.0.1").read_text(encoding="utf-8")
    path = folder / "renamed.yaml"
    path.write_text(text.replace("members_meeting", "party_congress"), encoding="utf-8")
    return path


@cache
def _renamed() -> CompiledProcedure:
    return load_procedure(_renamed_path())


def test_an_unmapped_state_is_refused_and_changes_nothing(store: Store) -> None:
    """Migration: a case whose state the new version lacks, with no --map for it, is refused
    with the state named; its record, snapshot and head are untouched. With the map it goes."""
    engine = Engine(store=store)
    open_election(engine, CASE, election_body())
    renamed = _renamed()
    before = _state(engine, CASE)

    (refused,) = migrate_cases(engine, [CASE], renamed, state_map={}, data_map={}, reason=WHY,
                               actor=ADMIN, at=T0)  # fmt: skip

    assert not refused.check.ok and refused.seq is None
    assert any("'members_meeting' is not mapped" in p for p in refused.check.problems)
    assert _state(engine, CASE) == before
    (mapped,) = migrate_cases(engine, [CASE], renamed,
                              state_map={"members_meeting": "party_congress"}, data_map={},
                              reason=WHY, actor=ADMIN, at=T0)  # fmt: skip
    assert mapped.check.ok and engine.case(CASE, history=False).state == "party_congress"


def test_a_map_to_a_state_the_new_version_lacks_is_refused(tmp_path: Path) -> None:
    """Migration: --map OLD=NEW where NEW is no state of the new version is refused."""
    engine = Engine(store=MemoryStore())
    open_election(engine, CASE, election_body())

    (refused,) = migrate_cases(engine, [CASE], amended(),
                               state_map={"members_meeting": "nowhere"}, data_map={},
                               reason=WHY, actor=ADMIN, at=T0)  # fmt: skip

    assert any("no state 'nowhere'" in p for p in refused.check.problems)
    assert len(engine.records(CASE)) == 10


@cache
def _needs_county() -> CompiledProcedure:
    folder = fixed_folder("yishi-migration-")
    text = amended_election(folder, "2.0.2").read_text(encoding="utf-8")
    required = "required: [town, plenary_members, expected_members, reconvened"
    text = text.replace(f"{required}]", f"{required}, county]", 1)
    text = text.replace("    town:\n", "    county:\n      type: string\n    town:\n", 1)
    path = folder / "county.yaml"
    path.write_text(text, encoding="utf-8")
    return load_procedure(path)


def test_data_invalid_under_the_new_schema_is_refused_and_a_data_map_fixes_it(
    store: Store,
) -> None:
    """Migration: data the new data schema rejects is refused with the path, nothing changed;
    a declared --data-map setting the field is applied, recorded as a set action with its
    value, and the case then replays."""
    engine = Engine(store=store)
    open_election(engine, CASE, election_body())
    county = _needs_county()
    before = _state(engine, CASE)

    (refused,) = migrate_cases(engine, [CASE], county, state_map={}, data_map={}, reason=WHY,
                               actor=ADMIN, at=T0)  # fmt: skip

    assert any("county" in p and "not valid" in p for p in refused.check.problems)
    assert _state(engine, CASE) == before
    (done,) = migrate_cases(engine, [CASE], county, state_map={},
                            data_map={"data.county": '"船山区"'}, reason=WHY, actor=ADMIN,
                            at=T0)  # fmt: skip
    assert done.check.ok, done.check.problems
    record = engine.records(CASE)[-1]
    assert record["actions"][0] == {
        "name": "set",
        "params": {"path": "data.county", "expr": '"船山区"'},
        "output": {"path": "data.county", "value": "船山区"},
    }
    assert engine.case(CASE, history=False).data["county"] == "船山区"
    assert replay_records(engine.records(CASE), _lookup(election(), county)).ok


def test_dry_run_reports_every_case_and_changes_nothing(tmp_path: Path) -> None:
    """Migration --dry-run: each case reported (one passes, a finished one is refused and a
    second open one passes), and no case changes."""
    engine = Engine(store=MemoryStore())
    body = election_body()
    open_election(engine, "a", body)
    rest = open_election(engine, "b", body)
    drive(engine, "b", body, rest)  # b is finished (approved)
    open_election(engine, "c", body)
    before = [_state(engine, c) for c in ("a", "b", "c")]

    results = migrate_cases(engine, ["a", "b", "c"], amended(),
                            state_map={}, data_map={}, reason=WHY, actor=ADMIN, at=T0,
                            dry_run=True)  # fmt: skip

    assert [r.check.ok for r in results] == [True, False, True]
    assert "finished" in results[1].check.problems[0]
    assert all(r.seq is None for r in results)
    assert [_state(engine, c) for c in ("a", "b", "c")] == before


def test_bulk_migration_is_per_case_atomic() -> None:
    """Bulk migration: the cases that pass migrate, the one refused is left exactly as it was,
    and each is reported."""
    engine = Engine(store=MemoryStore())
    body = election_body()
    open_election(engine, "a", body)
    rest = open_election(engine, "b", body)
    drive(engine, "b", body, rest)
    before_b = _state(engine, "b")
    results = migrate_cases(engine, ["a", "b"], renumbered("1.2.0"), state_map={},
                            data_map={}, reason=WHY, actor=ADMIN, at=T0)  # fmt: skip

    assert [(r.check.ok, r.seq is not None) for r in results] == [(True, True), (False, False)]
    assert engine.case("a", history=False).procedure["version"] == "1.2.0"
    assert _state(engine, "b") == before_b


@cache
def _longer_period() -> CompiledProcedure:
    folder = fixed_folder("yishi-migration-")
    text = PROCEDURE_PATH.read_text(encoding="utf-8")
    version = text.split('version: "', 1)[1].split('"', 1)[0]
    text = text.replace(f'version: "{version}"', f'version: "{version}-p10d"', 1)
    text = text.replace("after: P7D", "after: P10D", 1)  # resolution_disclosed (calendar days)
    path = folder / "p10d.yaml"
    path.write_text(text, encoding="utf-8")
    copy_templates(folder)
    return load_procedure(path)


def test_deadlines_are_re_armed_from_the_state_entry_under_the_new_period(
    store: Store,
) -> None:
    """Migration re-arms the deadline: the new version's period counted from when the case
    entered the state (7 → 10 days); the dry run reports both; the timer then fires at the
    new due time and not at the old one."""
    engine = Engine(store=store)
    entered = to_disclosure(engine, "d1") - timedelta(days=7)
    amended = _longer_period()

    (dry,) = migrate_cases(engine, ["d1"], amended, state_map={}, data_map={}, reason="公示期延长",
                           actor=ADMIN, at=entered + timedelta(days=1), dry_run=True)  # fmt: skip
    migrate_cases(engine, ["d1"], amended, state_map={}, data_map={}, reason="公示期延长",
                  actor=ADMIN, at=entered + timedelta(days=1))  # fmt: skip

    assert dry.check.deadline_before is not None and dry.check.deadline_after is not None
    old_due = entered + timedelta(days=7)
    new_due = entered + timedelta(days=10)
    assert dry.check.deadline_before["event"] == dry.check.deadline_after["event"]
    view = engine.case("d1", history=False)
    assert view.deadline is not None
    assert parse_time(view.deadline["at"]) == new_due
    assert parse_time(dry.check.deadline_before["at"]) == old_due
    assert engine.tick(old_due + timedelta(hours=1)) == []
    fired = engine.tick(new_due)
    assert [o.to_state for o in fired] == ["implementing"]


def test_cli_migrate_dry_run_then_apply_then_verify_and_replay(tmp_path: Path) -> None:
    """yishi case migrate: --dry-run reports the case and changes nothing; applied, the case is
    under the new version; the exported log verifies, and yishi replay given both versions
    reproduces it; an unmapped state exits 1 naming it, no traceback, nothing changed."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(db)
    open_election(Engine(store=store), CASE, election_body())
    store.close()
    rules_2020 = amended_election_file()
    common = ("--to", str(rules_2020), "--reason", WHY, "--actor", "县委组织部", "--db", db)

    dry = _yishi("case", "migrate", CASE, *common, "--dry-run")
    head = _yishi("case", "show", CASE, "--db", db, "--json")
    unmapped = _yishi("case", "migrate", CASE, "--to", str(_renamed_path()),
                      "--reason", WHY, "--actor", "x", "--db", db)  # fmt: skip
    applied = _yishi("case", "migrate", CASE, *common, "--json")
    log = tmp_path / "case.jsonl"
    export = _yishi("case", "export", CASE, "--db", db, "-o", str(log))
    verified = _yishi("verify", str(log))
    replayed = _yishi("replay", str(log), "-p", str(ELECTION), "-p", str(rules_2020))

    assert dry.returncode == 0, dry.stdout + dry.stderr
    old = election().procedure.version
    assert f"members_meeting ({old}) → members_meeting (2.0.0)" in dry.stdout
    assert "dry run: would migrate" in dry.stdout
    assert '"seq": 10' in head.stdout
    assert unmapped.returncode == 1
    assert "'members_meeting' is not mapped" in unmapped.stdout
    assert "Traceback" not in unmapped.stdout + unmapped.stderr
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert '"applied_seq": 11' in applied.stdout
    assert export.returncode == 0, export.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "11 records in 1 case(s) reproduced exactly" in replayed.stdout


def test_cli_migrate_usage_errors_are_one_line(tmp_path: Path) -> None:
    """yishi case migrate: a --map without '=' or an empty --reason is one line, exit 1."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    base = ("case", "migrate", CASE, "--to", str(ELECTION), "--actor", "x", "--db", db)

    no_equals = _yishi(*base, "--reason", WHY, "--map", "members_meeting")
    no_reason = _yishi(*base, "--reason", "  ")

    assert no_equals.returncode == 1
    assert no_equals.stderr.strip().count("\n") == 0
    assert "--map 'members_meeting': write it as --map LEFT=RIGHT" in no_equals.stderr
    assert no_reason.returncode == 1
    assert "--reason must say why" in no_reason.stderr


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("1 +", "--data-map data.county=1 +"),
        ("data.nowhere", "nowhere"),
        ("now", "data.county=now"),
    ],
)
def test_a_data_map_that_cannot_be_evaluated_or_recorded_is_refused(
    expression: str, words: str
) -> None:
    """Migration: a --data-map expression that does not compile, fails on the data, or gives
    a value no record can hold (a time) is refused with the path and expression; nothing
    changes."""
    engine = Engine(store=MemoryStore())
    open_election(engine, CASE, election_body())
    before = _state(engine, CASE)

    (refused,) = migrate_cases(engine, [CASE], _needs_county(), state_map={},
                               data_map={"data.county": expression}, reason=WHY, actor=ADMIN,
                               at=T0)  # fmt: skip

    assert not refused.check.ok
    assert any(words in p for p in refused.check.problems), refused.check.problems
    assert _state(engine, CASE) == before


def test_a_migration_timed_before_the_last_record_is_refused() -> None:
    """Migration: time never runs backwards within a case; a migration timed before the case's
    last record is refused, one timed exactly at it is accepted."""
    engine = Engine(store=MemoryStore())
    open_election(engine, CASE, election_body())
    last = parse_time(engine.records(CASE)[-1]["at"])
    rules = renumbered("1.2.0")

    (early,) = migrate_cases(engine, [CASE], rules, state_map={}, data_map={}, reason=WHY,
                             actor=ADMIN, at=last - timedelta(seconds=1), dry_run=True)  # fmt: skip
    (exact,) = migrate_cases(engine, [CASE], rules, state_map={}, data_map={}, reason=WHY,
                             actor=ADMIN, at=last, dry_run=True)  # fmt: skip

    assert any("time never runs backwards" in p for p in early.check.problems)
    assert exact.check.ok, exact.check.problems


def test_a_signing_engine_signs_its_migration_record_and_the_trail_verifies(
    tmp_path: Path,
) -> None:
    """Migration: the case.migrated record is signed by the writer's key and names the engine,
    like every record the engine writes, so a signed trail still verifies with the public key
    across the migration."""
    from engine.audit.signing import Signer, Verifier
    from engine.audit.verify import verify_bytes

    writer = Signer.generate()
    engine = Engine(store=MemoryStore(), signer=writer)
    open_election(engine, CASE, election_body())
    rules_2020 = amended()
    migrate_cases(engine, [CASE], rules_2020, state_map={}, data_map={}, reason=WHY,
                  actor=ADMIN, at=T0)  # fmt: skip

    migrated = engine.records(CASE)[-1]
    assert migrated["kind"] == "case.migrated"
    assert migrated["signature"]["key"] == writer.fingerprint and "engine" in migrated
    report = verify_bytes(
        b"".join(engine.store.export_lines(CASE)), verifier=Verifier(writer.public)
    )
    assert report.ok, report.failure
