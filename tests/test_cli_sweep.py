"""Specification: every ``yishi`` command answers bad arguments with one line and exit ≠ 0.

Two sweeps. The first walks the command tree itself, so a command added later is
swept without anyone remembering to: every command refuses an unknown option, and
every command with a required argument refuses to run without it, each in one
line on stderr. The second is a table of bad values per command (files that are
not what they should be, JSON that is not UTF-8 or nests too deeply, cursors, ports,
URLs, empty actors and keys): add a row when a command gains an option. Every row
must give exactly one line on stderr, no traceback, and a non-zero exit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_support import invoke, one_error_line

from engine.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
PROCEDURE = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
SCENARIO = ROOT / "procedures" / "examples" / "four-deliberations-happy-path.yaml"


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    children = getattr(command, "commands", None)
    if not children:
        return [(path, command)]
    found = []
    for name, child in sorted(children.items()):
        found.extend(_leaves(child, (*path, name)))
    return found


LEAVES = _leaves(typer.main.get_command(app))
"""Every runnable command, as the words that name it (``("case", "fire")``)."""


def test_the_sweep_sees_every_command() -> None:
    """Rule: the walk finds the commands the README lists (a broken walk sweeps nothing)."""
    names = {" ".join(path) for path, _ in LEAVES}

    assert {"validate", "describe", "graph", "run", "verify", "replay", "demo", "worker",
            "serve", "case open", "case fire", "case show", "case list", "case history",
            "case export", "case import", "case explain"} <= names  # fmt: skip


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=" ".join)
def test_an_unknown_option_is_one_line(path: tuple[str, ...]) -> None:
    """Rule: an option no command has is one line naming it, exit 2."""
    ran = invoke(*path, "--no-such-option")

    line = one_error_line(ran)
    assert ran.code == 2
    assert "--no-such-option" in line
    assert line.startswith(f"yishi {' '.join(path)}: error: ")


@pytest.mark.parametrize(
    "path",
    [p for p, c in LEAVES if any(getattr(x, "required", False) for x in c.params)],
    ids=" ".join,
)
def test_a_missing_required_value_is_one_line(path: tuple[str, ...]) -> None:
    """Rule: a command run without what it requires says what is missing in one line."""
    ran = invoke(*path)

    line = one_error_line(ran)
    assert ran.code == 2
    assert "Missing" in line


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bad and good files the table's rows name by key."""
    where = tmp_path_factory.mktemp("sweep")
    made = {
        "dir": where / "a-directory",
        "fifo": where / "a-fifo",
        "missing": where / "missing.json",
        "utf16": where / "utf16.json",
        "not-utf8": where / "latin1.json",
        "deep": where / "deep.json",
        "list": where / "list.json",
        "nul-json": where / "nul.json",
        "file": where / "regular.txt",
        "tokens": where / "tokens.yaml",
    }
    made["dir"].mkdir()
    os.mkfifo(made["fifo"])
    made["utf16"].write_bytes('{"present": 4}'.encode("utf-16"))
    made["not-utf8"].write_bytes('{"matter": "村"}'.encode("gb18030"))
    made["deep"].write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    made["list"].write_text("[1, 2]", encoding="utf-8")
    made["nul-json"].write_bytes(b'{"a": "\x00"}')
    made["file"].write_text("not a directory\n", encoding="utf-8")
    made["tokens"].write_text("tokens: []\n", encoding="utf-8")
    made["nodir"] = where / "no-such-directory" / "out.jsonl"
    made["sqlite"] = where / "cases.db"
    return made


MEM = ("--db", "memory://")
FIRE = ("case", "fire", "c-1", "propose", "--actor", "张书记")
OPEN = ("case", "open", str(PROCEDURE), "c-1", "--actor", "张书记")

ROWS: list[tuple[str, tuple[str, ...], str]] = [
    # (id, arguments with {key} for a file from the fixture, words the line must hold)
    ("validate missing", ("validate", "{missing}"), "no such file"),
    ("describe directory", ("describe", "{dir}"), "is a directory"),
    ("graph unknown format", ("graph", "-f", "svg", str(PROCEDURE)), "unknown format"),
    ("graph fifo", ("graph", "{fifo}"), "FIFO"),
    ("run a procedure", ("run", str(PROCEDURE)), "not a scenario"),
    (
        "run audit into a missing directory",
        ("run", str(SCENARIO), "--audit", "{nodir}"),
        "does not exist",
    ),
    ("run audit onto a directory", ("run", str(SCENARIO), "--audit", "{dir}"), "is a directory"),
    ("run audit onto a fifo", ("run", str(SCENARIO), "--audit", "{fifo}"), "not a regular file"),
    ("run bad db url", ("run", str(SCENARIO), "--db", "postgresql://[::1"), "not a valid URL"),
    ("verify fifo", ("verify", "{fifo}"), "FIFO"),
    ("replay bad as-of", ("replay", str(SCENARIO), "--as-of", "yesterday"), ""),
    ("replay missing", ("replay", "{missing}"), "no such file"),
    ("demo out is a file", ("demo", "--out", "{file}"), "is not a directory"),
    ("worker bad url", ("worker", "--once", "--db", "postgresql://[::1"), "not a valid URL"),
    (
        "worker bad port in url",
        ("worker", "--once", "--db", "postgresql://h:99999/d"),
        "Port out of range",
    ),
    ("worker bad now", ("worker", "--once", "--now", "tomorrow", *MEM), "--at"),
    ("worker batch 0", ("worker", "--once", "--batch", "0", *MEM), "--batch"),
    ("worker interval nan", ("worker", "--interval", "nan", *MEM), "--interval"),
    ("serve tokens fifo", ("serve", "--tokens", "{fifo}", *MEM), "FIFO"),
    ("serve tokens directory", ("serve", "--tokens", "{dir}", *MEM), "directory"),
    ("serve port 99999", ("serve", "--port", "99999", "--tokens", "{tokens}"), "--port"),
    ("serve port -1", ("serve", "--port", "-1", "--tokens", "{tokens}"), "--port"),
    ("serve port text", ("serve", "--port", "eighty", "--tokens", "{tokens}"), "--port"),
    (
        "serve no concurrency",
        ("serve", "--limit-concurrency", "0", "--tokens", "{tokens}"),
        "--limit-concurrency",
    ),
    ("case open empty actor", (*OPEN[:-1], "", *MEM), "--actor"),
    ("case open blank actor", (*OPEN[:-1], "   ", *MEM), "--actor"),
    ("case open empty role", (*OPEN, "--role", "", *MEM), "--role"),
    ("case open data not utf-8", (*OPEN, "--data", "@{not-utf8}", *MEM), "not UTF-8"),
    ("case open data utf-16", (*OPEN, "--data", "@{utf16}", *MEM), "not UTF-8"),
    ("case open data deep", (*OPEN, "--data", "@{deep}", *MEM), "levels deep"),
    ("case open data a list", (*OPEN, "--data", "@{list}", *MEM), "JSON object"),
    ("case open data fifo", (*OPEN, "--data", "@{fifo}", *MEM), "FIFO"),
    ("case open data directory", (*OPEN, "--data", "@{dir}", *MEM), "directory"),
    ("case open data NUL", (*OPEN, "--data", "@{nul-json}", *MEM), "not valid JSON"),
    ("case open bad at", (*OPEN, "--at", "noon", *MEM), "--at"),
    ("case open year 9999 at", (*OPEN, "--at", "9999-12-31T23:59:59-12:00", *MEM), "--at"),
    ("case open procedure fifo", ("case", "open", "{fifo}", "c-1", "--actor", "a", *MEM), "FIFO"),
    ("case fire payload not utf-8", (*FIRE, "--payload", "@{not-utf8}", *MEM), "not UTF-8"),
    ("case fire payload deep file", (*FIRE, "--payload", "@{deep}", *MEM), "levels deep"),
    (
        "case fire payload deep inline",
        (*FIRE, "--payload", "[" * 5000 + "]" * 5000, *MEM),
        "levels deep",
    ),
    (
        "case fire payload 65 deep",
        (*FIRE, "--payload", '{"a":' * 65 + "1" + "}" * 65, *MEM),
        "levels deep",
    ),
    ("case fire payload bad json", (*FIRE, "--payload", "{present: 4}", *MEM), "not valid JSON"),
    # At each limit exactly the value passes its check and the command goes on to find
    # that there is no case c-1 in an empty store.
    (
        "case fire payload 64 deep is allowed",
        (*FIRE, "--payload", '{"a":' * 64 + "1" + "}" * 64, *MEM),
        "no case 'c-1'",
    ),
    (
        "case fire actor of 128 is allowed",
        ("case", "fire", "c-1", "propose", "--actor", "a" * 128, *MEM),
        "no case 'c-1'",
    ),
    ("case fire key of 128 is allowed", (*FIRE, "--key", "k" * 128, *MEM), "no case 'c-1'"),
    ("case fire payload NaN", (*FIRE, "--payload", '{"present": NaN}', *MEM), "NaN"),
    ("case fire payload Infinity", (*FIRE, "--payload", '{"yes": -Infinity}', *MEM), "Infinity"),
    ("case fire empty key", (*FIRE, "--key", "", *MEM), "--key"),
    ("case fire key with space", (*FIRE, "--key", "a b", *MEM), "--key"),
    ("case fire key too long", (*FIRE, "--key", "k" * 129, *MEM), "--key"),
    ("case fire empty actor", ("case", "fire", "c-1", "propose", "--actor", "", *MEM), "--actor"),
    (
        "case fire long actor",
        ("case", "fire", "c-1", "propose", "--actor", "a" * 129, *MEM),
        "--actor",
    ),
    ("case fire expected seq text", (*FIRE, "--expected-seq", "two", *MEM), "--expected-seq"),
    ("case fire unknown case", (*FIRE, *MEM), "c-1"),
    (
        "case show bad ipv6 url",
        ("case", "show", "c-1", "--db", "postgresql://[::1"),
        "not a valid URL",
    ),
    (
        "case show password hidden",
        ("case", "show", "c-1", "--db", "postgresql://u:hunter2@[::1/d"),
        "u:***@",
    ),
    ("case show unknown scheme", ("case", "show", "c-1", "--db", "mysql://h/d"), "unknown store"),
    ("case show sqlite host", ("case", "show", "c-1", "--db", "sqlite://host/x.db"), "no host"),
    (
        "case show sqlite directory",
        ("case", "show", "c-1", "--db", "sqlite:///{dir}"),
        "is a directory",
    ),
    ("case show not a url", ("case", "show", "c-1", "--db", "cases.db"), "sqlite:///cases.db"),
    ("case list huge cursor", ("case", "list", "--after", "9" * 40, *MEM), "cursor"),
    ("case list negative cursor", ("case", "list", "--after", "-1", *MEM), "cursor"),
    (
        "case list cursor beyond 64 bits",
        ("case", "list", "--after", f'[{2**63},"c"]', "--db", "sqlite:///{sqlite}"),
        "cursor",
    ),
    (
        "case list cursor nested deep",
        ("case", "list", "--after", "[" * 5000, "--db", "sqlite:///{sqlite}"),
        "cursor",
    ),
    ("case list limit 0", ("case", "list", "--limit", "0", *MEM), "--limit"),
    ("case list limit huge", ("case", "list", "--limit", "9" * 40, *MEM), "--limit"),
    ("case list bad since", ("case", "list", "--since", "last week", *MEM), "--at"),
    ("case history unknown", ("case", "history", "c-1", *MEM), "c-1"),
    ("case export to a directory", ("case", "export", "c-1", "-o", "{dir}", *MEM), ""),
    ("case export unknown", ("case", "export", "c-1", *MEM), "c-1"),
    ("case import fifo", ("case", "import", "{fifo}", *MEM), "FIFO"),
    (
        "case import procedure missing",
        ("case", "import", str(SCENARIO), "-p", "{missing}", *MEM),
        "",
    ),
    (
        "case explain deep payload",
        ("case", "explain", "c-1", "propose", "--payload", "@{deep}", *MEM),
        "levels deep",
    ),
    (
        "case explain empty actor",
        ("case", "explain", "c-1", "propose", "--actor", "", *MEM),
        "--actor",
    ),
]


@pytest.mark.parametrize(("arguments", "words"), [(a, w) for _, a, w in ROWS],
                         ids=[i for i, _, _ in ROWS])  # fmt: skip
def test_a_bad_value_is_one_line(
    arguments: tuple[str, ...], words: str, files: dict[str, Path]
) -> None:
    """Rule: a value a command cannot use is one line on stderr (saying why), exit ≠ 0."""
    argv = list(arguments)
    for key, path in files.items():
        argv = [a.replace(f"{{{key}}}", str(path)) for a in argv]

    ran = invoke(*argv)

    line = one_error_line(ran)
    assert words in line, line


def test_the_one_line_hides_a_password(files: dict[str, Path]) -> None:
    """Rule: a store URL that cannot be parsed is shown without its password."""
    ran = invoke("case", "show", "c-1", "--db", "postgresql://u:hunter2@[::1/d")

    line = one_error_line(ran)
    assert "hunter2" not in line


def test_the_key_pattern_is_the_one_http_takes() -> None:
    """Rule: ``--key`` accepts exactly what HTTP's Idempotency-Key header accepts."""
    from engine.cli.case_support import IDEMPOTENCY_KEY
    from engine.server.models import IDEMPOTENCY_KEY as HTTP_KEY

    assert f"^{IDEMPOTENCY_KEY}$" == HTTP_KEY


def test_the_console_script_gives_one_line_too(tmp_path: Path) -> None:
    """Rule: the installed ``yishi`` (a subprocess) prints the same one line, exit 2."""
    import subprocess
    import sys

    yishi = Path(sys.executable).with_name("yishi")
    done = subprocess.run(
        [str(yishi), "serve", "--port", "99999", "--tokens", "t.yaml"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "yishi serve: error: Invalid value for '--port': Input should be less than or equal "
        "to 65535 (see yishi serve --help)"
    ]


def test_an_unexpected_error_is_one_line_and_status_70(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule: a failure no command expected (a bug) is one ``internal error`` line, exit 70,
    and ``YISHI_TRACEBACK=1`` lets the traceback through for the bug report."""
    import engine.cli.validate_cmd

    def broken(*_: object, **__: object) -> int:
        raise RuntimeError("something no one foresaw\nover two lines")

    monkeypatch.setattr(engine.cli.validate_cmd, "run_validate", broken)
    monkeypatch.delenv("YISHI_TRACEBACK", raising=False)

    ran = invoke("validate", str(PROCEDURE))

    assert ran.code == 70
    assert ran.stderr.splitlines() == [
        "yishi: internal error: RuntimeError: something no one foresaw over two lines "
        "(a bug in yishi; run again with YISHI_TRACEBACK=1 and report it)"
    ]
    monkeypatch.setenv("YISHI_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="no one foresaw"):
        invoke("validate", str(PROCEDURE))
