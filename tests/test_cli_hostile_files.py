"""Specification: every command that reads a file answers a hostile file in one located line.

validate, describe, graph, run, verify, replay and case import each meet a corpus
of files a user (or an attacker) might hand them: NUL and other control
characters, invalid UTF-8, UTF-16 with its byte-order mark, an empty file, binary
noise, a directory, a FIFO (which must be refused, not waited on), a line of
megabytes and nesting thousands of levels deep. Each gives exactly one line that
names the file (with line and column where the file has them), a non-zero exit,
and never a traceback. The commands run in process (``cli_support``); a FIFO that
a command wrongly opened is unblocked after a bounded wait, so a regression fails
instead of hanging.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import assert_no_traceback, invoke, located_lines

DEPTH = 10_000
"""Nesting far beyond any limit (YAML's is 64) and beyond Python's recursion limit."""

HUGE = 3_000_000
"""A single line of three megabytes: beyond the procedure size limit of one megabyte."""


def _deep() -> bytes:
    # JSON is YAML: one text nests deeply for the YAML readers and the JSONL readers alike.
    return b'{"a": ' + b"[" * DEPTH + b"]" * DEPTH + b"}\n"


CONTENTS: dict[str, Callable[[], bytes]] = {
    "nul": lambda: b'{"id": "a\x00b"}\n',
    "nul-second-line": lambda: b'{"id": "a",\n "v": "\x00"}\n',
    "control-character": lambda: b'{"id": "bell\x07"}\n',
    "escape-character": lambda: b'{"id": "\x1b[31mred"}\n',
    "invalid-utf8": lambda: b'{"id": "\xff\xfe"}\n',
    "utf16-bom": lambda: '{"id": "x"}\n'.encode("utf-16"),
    "utf16-be-bom": lambda: b"\xfe\xff" + '{"id": "x"}\n'.encode("utf-16-be"),
    "empty": lambda: b"",
    "binary": lambda: bytes(range(256)) * 16,
    "huge-line": lambda: b'{"id": "' + b"x" * HUGE + b'"}\n',
    "deep-nesting": _deep,
}
"""Hostile regular files, by name."""

SPECIAL = ("directory", "fifo", "missing")
"""Things that are not regular files at all."""

COMMANDS: dict[str, list[str]] = {
    "validate": ["validate"],
    "describe": ["describe"],
    "graph": ["graph"],
    "run": ["run"],
    "verify": ["verify"],
    "replay": ["replay"],
    "case import": ["case", "import", "--db", "memory://"],
}
"""Every command that reads a file named on its command line, and how to call it."""


def _make(kind: str, where: Path) -> Path:
    path = where / f"{kind}.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind != "missing":
        path.write_bytes(CONTENTS[kind]())
    return path


@pytest.mark.parametrize("kind", [*CONTENTS, *SPECIAL])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_hostile_file_gives_one_located_line(command: str, kind: str, tmp_path: Path) -> None:
    """Rule: a file no command can use is one line naming it, exit ≠ 0, no traceback."""
    path = _make(kind, tmp_path)

    ran = invoke(*COMMANDS[command], path, cwd=tmp_path)

    assert_no_traceback(ran)
    assert ran.code != 0, (ran.stdout, ran.stderr)
    assert len(located_lines(ran, path)) == 1, (ran.stdout, ran.stderr)


@pytest.mark.parametrize(
    ("kind", "where", "words"),
    [
        ("nul", "1:10", "NUL character (U+0000) is not allowed"),
        ("nul-second-line", "2:8", "NUL character (U+0000) is not allowed"),
        ("control-character", "1:13", "the character U+0007 is not allowed"),
        ("escape-character", "1:9", "the character U+001B is not allowed"),
        ("invalid-utf8", "1:9", "not UTF-8 text (byte 0xff)"),
        ("utf16-bom", "1:1", "UTF-16"),
        ("utf16-be-bom", "1:1", "UTF-16"),
        ("binary", "2:118", "not UTF-8 text (byte 0x80)"),
        ("huge-line", "1:1", "larger than 1000000 bytes"),
        ("deep-nesting", "1:1006", "nested more than 64 levels deep"),
        ("empty", "1:1", "the file is empty"),
    ],
)
def test_validate_says_where_and_what(kind: str, where: str, words: str, tmp_path: Path) -> None:
    """Rule: the one line is ``file:line:col: reason`` and the reason names the trouble."""
    path = _make(kind, tmp_path)

    ran = invoke("validate", path)

    (line,) = located_lines(ran, path)
    assert line.startswith(f"{path}:{where}: "), line
    assert words in line, line


def test_a_binary_file_is_located_at_its_first_bad_byte(tmp_path: Path) -> None:
    """Rule: invalid UTF-8 past the first line is reported at its line and column."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"id: \xe8\xae\xae\ntitle: ok\xff\n")

    ran = invoke("describe", path)

    (line,) = located_lines(ran, path)
    assert line.startswith(f"{path}:2:10: not UTF-8 text (byte 0xff)"), line


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """Rule: a FIFO is named as such; no command waits for a writer that never comes."""
    fifo = _make("fifo", tmp_path)

    for command in ("validate", "verify"):
        ran = invoke(command, fifo)
        (line,) = located_lines(ran, fifo)
        assert "a FIFO, not a regular file" in line, line


def test_a_procedure_named_by_case_import_is_read_as_carefully(tmp_path: Path) -> None:
    """Rule: ``-p`` files get the same treatment: one located line for a NUL in them."""
    bad = _make("nul", tmp_path)
    sample = Path(__file__).resolve().parent.parent / "procedures" / "examples"
    scenario = sample / "four-deliberations-happy-path.yaml"
    audit = tmp_path / "case.jsonl"
    assert invoke("run", scenario, "--audit", audit).code == 0

    ran = invoke("case", "import", audit, "-p", bad, "--db", "memory://")

    assert_no_traceback(ran)
    assert ran.code != 0
    (line,) = located_lines(ran, bad)
    assert f"{bad}:1:10: " in line, line


def test_the_size_limit_is_exact(tmp_path: Path) -> None:
    """Rule: a procedure file of exactly MAX_BYTES is read; one byte more is refused
    without reading further (and located at 1:1)."""
    from engine.definition.loader import read_source
    from engine.definition.strict_yaml import MAX_BYTES
    from engine.errors import SourceUnreadable

    at_limit = tmp_path / "at-limit.yaml"
    at_limit.write_bytes(b"# " + b"x" * (MAX_BYTES - 3) + b"\n")
    over = tmp_path / "over.yaml"
    over.write_bytes(b"# " + b"x" * (MAX_BYTES - 2) + b"\n")

    assert len(read_source(at_limit)) == MAX_BYTES
    with pytest.raises(SourceUnreadable) as caught:
        read_source(over)
    assert str(caught.value.location) == f"{over}:1:1"
    assert (
        caught.value.reason
        == f"the file is larger than {MAX_BYTES} bytes, the limit for procedures"
    )


def test_a_file_of_many_problems_is_summed_past_the_listing(tmp_path: Path) -> None:
    """Rule: validate's summary counts every problem, those past the listing's cap too."""
    from engine.definition.loader import check_source

    path = tmp_path / "many.yaml"
    path.write_text("".join(f"unknown_{i}: 1\n" for i in range(300)), encoding="utf-8")
    errors, warnings = check_source(path.read_text(encoding="utf-8"), str(path)).counts

    ran = invoke("validate", path)

    assert ran.code == 1
    assert errors > 300
    assert ran.stderr.splitlines() == [f"{path}: {errors} error(s), {warnings} warning(s)"]
