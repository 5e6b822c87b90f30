"""Run ``yishi`` in this process, as its console script does, with captured streams.

Starting the installed command costs a second of CPU on a busy machine, so the CLI
sweeps call ``engine.cli.main.run_main`` here instead: the same parsing, the same
one-line errors, the same exit status (a few subprocess smoke tests keep the console
script itself honest). stdout and stderr are real text streams over bytes, so
commands that write bytes (``case export``) work as they do in a terminal.

``one_error_line`` states what every failing command owes its user: a non-zero
exit, no traceback, no "internal error", and exactly one line on stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from engine.cli.main import run_main


def _built_once(get_command: Callable[[typer.Typer], Any]) -> Callable[[typer.Typer], Any]:
    """``typer.main.get_command`` building each app's click command once per process.

    ``run_main`` builds yishi's command tree on every call, as the console script does
    once per process; typer reads every command's signature and evaluates its type hints
    to do it, which was half the time of an in-process run. A click command keeps nothing
    from one invocation to the next (each ``main`` makes its own context), so the tree
    built for the first run serves the later ones, as it would in one long process.
    """
    built: dict[int, tuple[typer.Typer, Any]] = {}

    def get_command_once(typer_instance: typer.Typer) -> Any:
        key = id(typer_instance)  # the instance is kept in the value, so its id stays its own
        if key not in built:
            built[key] = (typer_instance, get_command(typer_instance))
        return built[key][1]

    get_command_once.__wrapped__ = get_command  # type: ignore[attr-defined]
    return get_command_once


# YISHI_TEST_COMPILE_CACHE=0 (see conftest.py) builds the tree at every run, to measure.
if os.environ.get("YISHI_TEST_COMPILE_CACHE") != "0" and not hasattr(
    typer.main.get_command, "__wrapped__"
):
    typer.main.get_command = _built_once(typer.main.get_command)

FIFO_PATIENCE = 20.0
"""Seconds before a test unblocks a FIFO some command is (wrongly) waiting on."""


@dataclass(frozen=True, slots=True)
class Ran:
    """What one in-process run of the command line gave."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Non-empty lines of stdout then stderr."""
        return [line for line in (self.stdout + "\n" + self.stderr).splitlines() if line.strip()]


def _stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", errors="replace")


def invoke(*args: str | Path, cwd: Path | None = None) -> Ran:
    """Run ``yishi ARGS`` in process and return its exit status and output.

    Any FIFO among the arguments is unblocked after ``FIFO_PATIENCE`` seconds (a
    writer opens and closes it), so a command that wrongly opens one cannot hang the
    test run; the test then fails on what the command did instead.
    """
    argv = [str(a) for a in args]
    fifos = [Path(a.lstrip("@")) for a in argv if _is_fifo(Path(a.lstrip("@")))]
    timers = [threading.Timer(FIFO_PATIENCE, _unblock, (fifo,)) for fifo in fifos]
    for timer in timers:
        timer.daemon = True
        timer.start()
    out, err = _stream(), _stream()
    previous = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run_main(argv)
            except SystemExit as exit_:
                # a command that calls sys.exit itself, as the console script would end
                code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(previous)
        for timer in timers:
            timer.cancel()
    return Ran(code=code, stdout=_text(out), stderr=_text(err))


def completed(
    *args: str | Path, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``yishi ARGS`` in process; answer as ``subprocess.run(..., text=True)`` would.

    The specifications that once spawned the installed script keep their assertions
    on ``returncode``, ``stdout`` and ``stderr`` unchanged. ``env`` holds variables to
    set for the run only (``COLUMNS`` for rich's width, say), restored afterwards.
    """
    with _environment(env or {}):
        ran = invoke(*args, cwd=cwd)
    argv = ["yishi", *(str(a) for a in args)]
    return subprocess.CompletedProcess(argv, ran.code, ran.stdout, ran.stderr)


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _is_fifo(path: Path) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _unblock(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def assert_no_traceback(ran: Ran) -> None:
    """Nothing a user reads looks like a crash."""
    text = ran.stdout + ran.stderr
    assert "Traceback" not in text, text
    assert "internal error" not in text, text


def one_error_line(ran: Ran) -> str:
    """Assert a failure told in one line on stderr; return that line."""
    assert_no_traceback(ran)
    assert ran.code != 0, (ran.code, ran.stdout, ran.stderr)
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, ran.stderr
    return lines[0]


def located_lines(ran: Ran, path: Path) -> list[str]:
    """The lines that report a problem with ``path``: ``path[:line[:col]]: …``.

    A ``yishi: error:`` prefix is allowed (the ``case`` commands' form), and
    ``validate``'s closing summary (``path: N error(s), M warning(s)``) is not a problem.
    """
    pattern = re.compile(rf"^(?:yishi: error: )?{re.escape(str(path))}(?::\d+){{0,2}}: ")
    summary = re.compile(r": \d+ error\(s\), \d+ warning\(s\)$")
    return [line for line in ran.lines if pattern.match(line) and not summary.search(line)]


__all__ = [
    "FIFO_PATIENCE",
    "Ran",
    "assert_no_traceback",
    "completed",
    "invoke",
    "located_lines",
    "one_error_line",
]
