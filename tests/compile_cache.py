"""Check each procedure text once per test process.

Checking a procedure (``engine.definition.loader.check_source``) costs a tenth of a
second to a second of CPU: every CEL expression is compiled and every document template
is parsed and walked by the sandbox. The suite loads the same bundled procedures hundreds
of times — through the CLI run in process, scenarios, the server, the workbench and
``Engine.register_source`` — and that was over a third of the time of the files that
load them. The report is a pure function of its inputs, so the first check of a text is
done for real and the same inputs later get the same (frozen) report.

Only inputs whose report cannot change during a run are remembered:

- the default registry (``registry=None``): a registry passed in may be one a test
  built and changes;
- a file under a directory no test writes to (the bundled procedures, installed or
  not, and the suite's own data), whose templates beside it are fixed too; or under a
  folder made by ``fixed_folder``, whose files are written once, before anything reads
  them, and never changed; or text that is no file at all and whose ``$schema`` comment
  needs no file to be read.

Everything else is checked afresh each time, as without this module. The compiled
procedure in a remembered report is shared, as ``runtime_support``'s memoised
loaders already share theirs: it is frozen, and what a case changes lives in the store.

(Schema checks need nothing here: ``engine.runtime.payloads.schema_check`` keeps one
per schema content for the process, as a server needs too.)
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import engine
from engine.actions.registry import Registry
from engine.definition import loader
from engine.definition.loader import CheckReport

ROOT = Path(__file__).resolve().parent.parent
FIXED_DIRS = (
    ROOT / "procedures",
    ROOT / "tests" / "data",
    ROOT / "tests" / "procedures",
    ROOT / "bench",
    Path(engine.__file__).resolve().parent / "_procedures",
)
"""Directories whose files (procedures and their templates) no test changes."""

_MADE_DIRS: list[Path] = []
"""Folders made by ``fixed_folder``: fixed like FIXED_DIRS once written."""

LIMIT = 128
"""Reports kept: the bundled procedures need a few dozen; generated texts (Hypothesis)
are many, seldom repeat, and must not keep their compiled procedures alive."""

_SCHEMA_PREFIX = "# yaml-language-server: $schema="

Check = Callable[[str, str, Registry | None], CheckReport]


def _key(source: str, file: str) -> tuple[str, str, str] | None:
    """What fixes the report for ``source`` read as ``file``; None when it may change.

    The key holds the resolved file (or "" for text that is no file), since a relative
    name read from another directory is another file with other templates beside it.
    """
    path = Path(file)
    try:
        if path.is_file():
            resolved = path.resolve()
            fixed = any(resolved.is_relative_to(d) for d in (*FIXED_DIRS, *_MADE_DIRS))
            return (source, file, str(resolved)) if fixed else None
    except (OSError, ValueError):
        return None
    # Text that is no file: no templates are read. A ``$schema`` comment other than the
    # bundled layout's would be looked up beside the (absent) file, so it is not cached.
    first = source.split("\n", 1)[0].rstrip("\r")
    if first.startswith(_SCHEMA_PREFIX) and first != loader.SCHEMA_COMMENT:
        return None
    return (source, file, "")


def fixed_folder(prefix: str) -> Path:
    """A new folder, removed at exit, for a procedure version a test builds once per process.

    The caller writes its files (the procedure and the templates beside it) before anything
    checks them and never changes them afterwards; from then on a check of a file there
    is remembered as for FIXED_DIRS, so the CLI runs and loads that name the same built
    version by its path check it once, not once per run.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _MADE_DIRS.append(folder)
    return folder


def memoised(check: Check) -> Check:
    """``check`` remembering the last ``LIMIT`` reports of fixed inputs."""
    reports: OrderedDict[tuple[str, str, str], CheckReport] = OrderedDict()

    def check_source(source: str, file: str, registry: Registry | None = None) -> CheckReport:
        key = None if registry is not None else _key(source, file)
        if key is None:
            return check(source, file, registry)
        report = reports.get(key)
        if report is None:
            report = reports[key] = check(source, file, None)
            if len(reports) > LIMIT:
                reports.popitem(last=False)
        else:
            reports.move_to_end(key)
        return report

    check_source.__doc__ = check.__doc__
    check_source.__wrapped__ = check  # type: ignore[attr-defined]
    return check_source


def _replace(name: str, original: object, replacement: object, *, keep: str = "") -> None:
    """Put ``replacement`` wherever an engine module (but ``keep``) holds ``original``.

    Modules imported later take ``name`` from the module that defines it.
    """
    for module_name, module in list(sys.modules.items()):
        if module_name == keep or not module_name.startswith("engine"):
            continue
        if getattr(module, name, None) is original:
            setattr(module, name, replacement)


def install() -> None:
    """Put the memoised check in place (once)."""
    original = loader.check_source
    if hasattr(original, "__wrapped__"):
        return
    _replace("check_source", original, memoised(original))


__all__ = ["FIXED_DIRS", "LIMIT", "fixed_folder", "install", "memoised"]
