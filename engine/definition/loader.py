"""Load a procedure file: strict YAML → schema → model → compile → lint.

All problems of every stage that can run are collected and reported together,
sorted by position. No model is built from a schema-invalid document, but its
well-formed states and transitions are still checked for unknown names and an
unreachable or dead-end state (``skeleton``), so one run reports every kind of
problem; every message is about what the author wrote, never a follow-on error.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

from engine.actions.registry import Registry, default_registry
from engine.definition.build import build_procedure
from engine.definition.compile import CompiledProcedure, compile_procedure
from engine.definition.lint import lint_procedure
from engine.definition.schema_check import check_schema
from engine.definition.skeleton import skeleton_problems
from engine.definition.strict_yaml import MAX_BYTES, YamlProblems, parse_yaml
from engine.errors import Problem, ProcedureInvalid, SourceLocation, SourceUnreadable
from engine.regular_file import read_regular
from engine.schemas import load_schema

_MORE = re.compile(r"\((\d+) errors?, (\d+) warnings?\)")
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schemas/procedure.schema.json"
_SCHEMA_PREFIX = "# yaml-language-server: $schema="
# A schema file this size or larger is not ours; reading stops there.
_SCHEMA_FILE_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """What ``check_source`` found: the compiled procedure (when usable) and every problem."""

    compiled: CompiledProcedure | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def counts(self) -> tuple[int, int]:
        """(errors, warnings) found in all, including those past the listing's cap."""
        listed = [p for p in self.problems if p.code != "problems.more"]
        errors = sum(1 for p in listed if p.severity == "error")
        warnings = len(listed) - errors
        for problem in self.problems:
            found = _MORE.search(problem.message) if problem.code == "problems.more" else None
            if found:
                errors += int(found.group(1))
                warnings += int(found.group(2))
        return errors, warnings


def check_source(source: str, file: str, registry: Registry | None = None) -> CheckReport:
    """Check a procedure's text and compile it when it has no errors."""
    registry = registry or default_registry()
    try:
        doc = parse_yaml(source, file)
    except YamlProblems as exc:
        return CheckReport(compiled=None, problems=tuple(_sorted(exc.problems)))
    problems: list[Problem] = []
    # A file that is not even a mapping is no procedure: an editor hint would be noise.
    if isinstance(doc.value, dict) and not names_our_schema(source, file):
        problems.append(
            Problem(
                location=SourceLocation(file=file, line=1, column=1),
                message=f"start the file with '{SCHEMA_COMMENT}' (a path to "
                f"procedure.schema.json from this file, or the schema's id "
                f"{_schema_id()}) so editors check it as you type",
                severity="warning",
                code="editor.schema-comment",
            )
        )
    schema_problems = check_schema(doc, registry)
    if schema_problems:
        found = problems + schema_problems + skeleton_problems(doc, schema_problems)
        return CheckReport(compiled=None, problems=tuple(_sorted(found)))
    procedure, build_problems = build_procedure(doc, source)
    compiled, compile_problems = compile_procedure(procedure, registry)
    problems += build_problems + compile_problems + lint_procedure(procedure)
    if procedure.documents:
        # Templates are read only when the procedure is a file they can sit beside.
        from engine.documents.check import check_documents

        problems += check_documents(procedure, read_templates=Path(file).is_file())
    has_errors = any(p.severity == "error" for p in problems)
    return CheckReport(compiled=None if has_errors else compiled, problems=tuple(_sorted(problems)))


def _schema_id() -> str:
    return str(load_schema("procedure.schema.json")["$id"])


def names_our_schema(source: str, file: str) -> bool:
    """Whether the first line's ``$schema`` comment points editors at our procedure schema.

    It does when it names the schema's ``$id``, the path of the bundled layout
    (``../schemas/procedure.schema.json``), or a path that, read from the file's own
    directory, is a JSON file with our ``$id``.
    """
    first = source.split("\n", 1)[0].rstrip("\r")
    if not first.startswith(_SCHEMA_PREFIX):
        return False
    target = first[len(_SCHEMA_PREFIX) :].strip()
    if first == SCHEMA_COMMENT or target == _schema_id():
        return True
    if not target or "://" in target:
        return False
    try:
        candidate = Path(file).parent / target
        if not candidate.is_file() or candidate.stat().st_size >= _SCHEMA_FILE_LIMIT:
            return False
        loaded = json.loads(candidate.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(loaded, dict) and loaded.get("$id") == _schema_id()


MAX_PROBLEMS = 100
"""The most problems a report lists; the rest are counted in one closing line."""


def _sorted(problems: list[Problem]) -> list[Problem]:
    """The problems in file order, at most ``MAX_PROBLEMS`` of them and then "and N more".

    A file with 70,000 misspelt keys once produced a 16.5 MB report: nobody reads past
    the first screens, and a server must not send (or a terminal print) that much.
    """
    ordered = sorted(problems, key=lambda p: p.sort_key)
    if len(ordered) <= MAX_PROBLEMS:
        return ordered
    shown, rest = ordered[:MAX_PROBLEMS], ordered[MAX_PROBLEMS:]
    errors = sum(1 for p in rest if p.severity == "error")
    kinds = f"{errors} error{'s' * (errors != 1)}, {len(rest) - errors} warning" + "s" * (
        len(rest) - errors != 1
    )
    summary = Problem(
        location=rest[0].location,
        message=f"and {len(rest)} more problem{'s' * (len(rest) != 1)} from here on ({kinds}); "
        "fix the ones above and validate again",
        severity="error" if errors else "warning",
        code="problems.more",
    )
    return [*shown, summary]


def read_source(path: str | Path) -> str:
    """Read a procedure (or scenario) file as UTF-8 text.

    Only a regular file is read (a FIFO or device would block or never end), and at
    most one byte past the size limit, so a file of any size is refused quickly.

    Raises:
        SourceUnreadable: when the file is missing, not a regular file, unreadable, too
            big, UTF-16 or not UTF-8 (located at the first bad byte).
    """
    try:
        raw = read_regular(path, MAX_BYTES)
    except FileNotFoundError as exc:
        raise SourceUnreadable(str(path), "no such file") from exc
    except IsADirectoryError as exc:
        raise SourceUnreadable(str(path), "is a directory, not a file") from exc
    except OSError as exc:
        raise SourceUnreadable(str(path), f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_BYTES:
        reason = f"the file is larger than {MAX_BYTES} bytes, the limit for procedures"
        raise SourceUnreadable(str(path), reason)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        reason = "the file is UTF-16 (it starts with a byte-order mark); save it as UTF-8"
        raise SourceUnreadable(str(path), reason)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8")) + 1
        reason = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise SourceUnreadable(str(path), reason, line=line, column=column) from exc


def load_procedure(path: str | Path, registry: Registry | None = None) -> CompiledProcedure:
    """Load, check and compile a procedure file.

    Args:
        path: the YAML file.
        registry: the actions available (built-ins and entry points when omitted).

    Returns:
        The compiled procedure.

    Raises:
        ProcedureError: when the file cannot be read.
        ProcedureInvalid: with every problem, when the procedure has errors.
    """
    return load_source(read_source(path), str(path), registry)


def load_source(source: str, file: str, registry: Registry | None = None) -> CompiledProcedure:
    """Like ``load_procedure``, from text already read."""
    report = check_source(source, file, registry)
    if report.compiled is None:
        raise ProcedureInvalid(list(report.problems))
    return report.compiled
