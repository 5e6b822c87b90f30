"""Specification: the integrity commands as the installed ``yishi`` runs them (in process).

``keygen`` makes the writer's key; ``case … --signing-key`` signs; ``checkpoint``
publishes a store's heads; ``verify`` says what it checked and prints heads to
keep, and checks keys, kept heads and checkpoints; ``case import --public-key``
refuses an unsigned trail. Every failure is one line and a non-zero exit.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from cli_support import completed
from runtime_support import FOUR_PATH, FROZEN_HAPPY_PATH

from engine.audit.signing import load_signer


def yishi(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``yishi`` command line in process."""
    return completed(*args, cwd=cwd)


def _one_line_failure(ran: subprocess.CompletedProcess[str]) -> str:
    assert ran.returncode != 0, ran.stdout
    assert "Traceback" not in ran.stdout + ran.stderr
    text = (ran.stderr or ran.stdout).strip()
    assert len(text.splitlines()) == 1, text
    return text


def _signed_store(tmp_path: Path) -> tuple[str, Path]:
    """A SQLite store with one case whose records are signed by ``key``."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    key = tmp_path / "key"
    made = yishi("keygen", key, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    opened = yishi(
        "case", "open", FOUR_PATH, "c1", "--actor", "张书记", "--role", "branch_secretary",
        "--data", json.dumps({"matter": "村道", "branch_committee_members": 5,
                              "two_committees_members": 9, "voting_party_members": 41,
                              "representatives": 57, "reconvened": 0}),
        "--at", "2024-03-01T09:00:00+08:00", "--db", db, "--signing-key", key, cwd=tmp_path,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    fired = yishi(
        "case", "fire", "c1", "propose", "--actor", "张书记", "--role", "branch_secretary",
        "--payload", '{"present": 4, "yes": 3}', "--at", "2024-03-01T10:00:00+08:00",
        "--db", db, "--signing-key", key, cwd=tmp_path,
    )  # fmt: skip
    assert fired.returncode == 0, fired.stderr
    return db, key


def test_keygen_writes_a_private_key_0600_and_never_overwrites(tmp_path: Path) -> None:
    """Rule: keygen writes PATH (mode 0600) and PATH.pub, prints the fingerprint, and
    refuses, in one line, to overwrite an existing key."""
    key = tmp_path / "key"
    made = yishi("keygen", key, cwd=tmp_path)
    assert made.returncode == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / "key.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert load_signer(key).fingerprint in made.stdout
    assert "already exists" in _one_line_failure(yishi("keygen", key, cwd=tmp_path))


def test_signed_cases_verify_with_the_key_and_a_checkpoint(tmp_path: Path) -> None:
    """Rule: records written with --signing-key verify with --public-key, which says
    "signatures by key <fingerprint>… valid"; a signed checkpoint of the store holds
    against the exported log; another key fails."""
    db, key = _signed_store(tmp_path)
    log = tmp_path / "c1.jsonl"
    assert yishi("case", "export", "c1", "-o", log, "--db", db, cwd=tmp_path).returncode == 0
    fingerprint = load_signer(key).fingerprint

    checked = yishi("verify", log, "--public-key", tmp_path / "key.pub", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert f"signatures by key {fingerprint[:16]}… valid up to each head" in checked.stdout

    cp = tmp_path / "checkpoint.json"
    made = yishi("checkpoint", "--db", db, "-o", cp, "--signing-key", key, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert json.loads(cp.read_text())["signature"]["key"] == fingerprint
    against = yishi(
        "verify", log, "--checkpoint", cp, "--public-key", tmp_path / "key.pub", cwd=tmp_path
    )
    assert against.returncode == 0, against.stdout
    assert "1 kept head(s) unchanged and present, 0 record(s) after them" in against.stdout

    assert yishi("keygen", tmp_path / "other", cwd=tmp_path).returncode == 0
    wrong = yishi("verify", log, "--public-key", tmp_path / "other.pub", cwd=tmp_path)
    assert wrong.returncode == 1
    assert "bad-signature" not in wrong.stdout  # kinds are for programs; the text says why
    assert f"signed by key {fingerprint[:16]}…" in wrong.stdout


def test_heads_printed_by_verify_are_kept_and_given_back_with_since(tmp_path: Path) -> None:
    """Rule: verify's stdout, saved, is a heads file for --since; a head on the command
    line works too; a malformed one is one line, exit 2."""
    db, _key = _signed_store(tmp_path)
    log = tmp_path / "c1.jsonl"
    assert yishi("case", "export", "c1", "-o", log, "--db", db, cwd=tmp_path).returncode == 0
    first = yishi("verify", log, cwd=tmp_path)
    assert "(unsigned: proves only self-consistency)" not in first.stdout
    heads = tmp_path / "heads.txt"
    heads.write_text(first.stdout)
    head = next(line for line in first.stdout.splitlines() if line.startswith("head "))

    again = yishi("verify", log, "--since", heads, cwd=tmp_path)
    assert again.returncode == 0, again.stdout
    inline = yishi("verify", log, "--since", head.removeprefix("head "), cwd=tmp_path)
    assert inline.returncode == 0, inline.stdout
    bad = yishi("verify", log, "--since", "c1:2:nothex", cwd=tmp_path)
    assert bad.returncode == 2
    assert "not a head" in _one_line_failure(bad)


def test_an_empty_log_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """Rule: an empty log is an error, not "ok": one line, exit 1."""
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    ran = yishi("verify", empty, cwd=tmp_path)
    assert ran.returncode == 1
    assert "holds no records" in _one_line_failure(ran)


def test_import_with_a_key_refuses_an_unsigned_log(tmp_path: Path) -> None:
    """Rule: case import --public-key refuses a trail not signed by that key (one line)."""
    db = f"sqlite:///{tmp_path / 'plain.db'}"
    assert yishi("keygen", tmp_path / "key", cwd=tmp_path).returncode == 0
    run = yishi("run", FROZEN_HAPPY_PATH, "--audit", tmp_path / "plain.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    refused = yishi(
        "case", "import", tmp_path / "plain.jsonl", "-p", FOUR_PATH,
        "--public-key", tmp_path / "key.pub", "--db", db, cwd=tmp_path,
    )  # fmt: skip
    assert "no record of this case is signed" in _one_line_failure(refused)


def test_import_records_the_importer_as_registering_a_new_version(tmp_path: Path) -> None:
    """Rule: case import --actor names who registered each procedure version the store
    lacked (procedures list shows it); an empty --actor is refused in one line, as in
    case open, and imports nothing."""
    db = f"sqlite:///{tmp_path / 'imported.db'}"
    run = yishi("run", FROZEN_HAPPY_PATH, "--audit", tmp_path / "trail.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    blank = yishi(
        "case", "import", tmp_path / "trail.jsonl", "-p", FOUR_PATH, "--actor", " ",
        "--db", db, cwd=tmp_path,
    )  # fmt: skip
    assert "--actor must be a non-empty id" in _one_line_failure(blank)
    imported = yishi(
        "case", "import", tmp_path / "trail.jsonl", "-p", FOUR_PATH, "--actor", "审计员甲",
        "--db", db, cwd=tmp_path,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    listed = yishi("procedures", "list", "--json", "--db", db, cwd=tmp_path)
    [row] = json.loads(listed.stdout)
    assert (row["registered_by"], row["cases"]) == ("审计员甲", 1)


def test_cli_refuses_time_going_back_and_a_taken_version_in_one_line(tmp_path: Path) -> None:
    """Rule: --at before the case's last record, and another text under an existing id and
    version (the message names both sha256), are one-line failures that change nothing."""
    db, _key = _signed_store(tmp_path)
    back = yishi(
        "case", "fire", "c1", "deliberate", "--actor", "张书记", "--role", "branch_secretary",
        "--payload", '{"present": 9, "yes": 8}', "--at", "2024-03-01T09:30:00+08:00",
        "--db", db, cwd=tmp_path,
    )  # fmt: skip
    assert "time never runs backwards" in _one_line_failure(back)

    laxer = tmp_path / "laxer.yaml"
    laxer.write_text(
        FOUR_PATH.read_text(encoding="utf-8").replace('more_than: "1/2"', 'more_than: "1/4"', 1),
        encoding="utf-8",
    )
    taken = yishi(
        "case", "open", laxer, "c2", "--actor", "张书记", "--role", "branch_secretary",
        "--db", db, cwd=tmp_path,
    )  # fmt: skip
    line = _one_line_failure(taken)
    assert "already registered with sha256" in line
    assert line.count("sha256") == 2
    shown = yishi("case", "show", "c1", "--json", "--db", db, cwd=tmp_path)
    assert json.loads(shown.stdout)["seq"] == 2


def test_a_bad_key_file_is_one_line(tmp_path: Path) -> None:
    """Rule: a missing or non-key --public-key/--signing-key file is one line, never a traceback."""
    log = tmp_path / "x.jsonl"
    log.write_bytes(b"")
    (tmp_path / "junk.pem").write_text("not a key\n")
    missing = yishi("verify", log, "--public-key", tmp_path / "none.pub", cwd=tmp_path)
    assert missing.returncode == 2
    _one_line_failure(missing)
    junk = yishi("checkpoint", "--signing-key", tmp_path / "junk.pem", cwd=tmp_path)
    assert "not an unencrypted PEM private key" in _one_line_failure(junk)


def test_the_worker_signs_timer_records_so_a_signed_case_stays_signed(tmp_path: Path) -> None:
    """Rule: ``yishi worker --signing-key`` signs the timers it fires; a case written with
    the key stays verifiable with the public key to its end."""
    from datetime import timedelta

    from store_support import to_disclosure

    from engine.runtime.engine import Engine
    from engine.storage import open_store

    key = tmp_path / "key"
    assert yishi("keygen", key, cwd=tmp_path).returncode == 0
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(db)
    due = to_disclosure(Engine(store=store, signer=load_signer(key)), "c-1")
    store.close()
    later = (due + timedelta(days=30)).isoformat()
    fired = yishi(
        "worker", "--once", "--now", later, "--db", db, "--signing-key", key, cwd=tmp_path
    )
    assert fired.returncode == 0, fired.stderr
    log = tmp_path / "c-1.jsonl"
    assert yishi("case", "export", "c-1", "-o", log, "--db", db, cwd=tmp_path).returncode == 0
    assert b'"kind":"timer.fired"' in log.read_bytes()
    checked = yishi("verify", log, "--public-key", tmp_path / "key.pub", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout


def test_procedures_list_and_show_name_each_version_and_its_cases(tmp_path: Path) -> None:
    """Rule: ``procedures list`` prints every version with id, version, sha256, the
    number of cases pinning it, and when and by whom it was registered (``case open``
    registers a new version as its ``--actor``, at the clock's time, not ``--at``);
    ``show`` takes an id or a sha256 prefix; an unknown one is one line, exit 1."""
    import hashlib
    from datetime import UTC, datetime

    before = datetime.now(UTC)
    db, _key = _signed_store(tmp_path)
    sha = hashlib.sha256(FOUR_PATH.read_bytes()).hexdigest()
    listed = yishi("procedures", "list", "--json", "--db", db, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    at = row.pop("registered_at")
    assert row == {
        "id": "four-deliberations-two-disclosures", "version": "1.0.0", "sha256": sha,
        "registered_by": "张书记", "cases": 1,
    }  # fmt: skip
    assert before <= datetime.fromisoformat(at) <= datetime.now(UTC)
    shown = yishi("procedures", "show", sha[:12], "--db", db, cwd=tmp_path)
    assert shown.stdout.strip() == (
        f"four-deliberations-two-disclosures  1.0.0  sha256 {sha}  cases 1  "
        f"registered {at} by 张书记"
    )
    assert "no procedure id" in _one_line_failure(
        yishi("procedures", "show", "nope", "--db", db, cwd=tmp_path)
    )
