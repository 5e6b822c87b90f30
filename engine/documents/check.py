"""``validate`` for the ``documents:`` section: names, states, and each template's fields.

An ops-staff edit that misspells a field should fail when the procedure is
checked, not on the day the results report is printed. Every template is parsed
in the sandbox (refused constructs are reported), and every field it reads from
the context is looked up: ``data.…`` in the procedure's data schema, ``outputs.X``
among the actions the procedure calls, ``events.X`` among its events, ``states.X``
among its states, ``counting.X`` among its counting rules (and their fields), the
fixed roots by their field lists. Each problem is located
twice: in the template (file:line:col) and in the procedure (documents[i]).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import nodes

from engine.definition.model import DocumentSpec, Procedure
from engine.documents.context import COUNTING_FIELDS, ROOTS, action_names
from engine.documents.sandbox import DocumentSandbox, TemplateRefused
from engine.documents.text import FILTERS
from engine.errors import Problem, SourceLocation

_GLOBALS = frozenset({"range", "loop"})


def template_path(procedure_file: str | Path, spec: DocumentSpec) -> Path | None:
    """The template file of ``spec``, or None when it would leave the procedure's folder."""
    base = Path(procedure_file).resolve().parent
    target = (base / spec.template).resolve()
    if not target.is_relative_to(base):
        return None
    return target


def check_documents(procedure: Procedure, *, read_templates: bool) -> list[Problem]:
    """Every problem in the documents section of ``procedure``.

    Args:
        procedure: the built procedure.
        read_templates: whether the procedure file is on disk, so its templates can be read.
    """
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, spec in enumerate(procedure.documents):
        path = f"documents[{index}]"
        if spec.name in seen:
            problems.append(_problem(spec.location, f"a second document named {spec.name!r}"))
        seen.add(spec.name)
        for state, where in zip(spec.after, spec.after_locations, strict=False):
            if state not in procedure.states:
                problems.append(_problem(where, f"unknown state {state!r} in after"))
        if not read_templates:
            continue
        where = spec.template_location or spec.location
        target = template_path(procedure.file, spec)
        if target is None:
            problems.append(
                _problem(
                    where,
                    f"{spec.template} leaves the procedure's folder; keep templates "
                    "beside the procedure, e.g. templates/report.html",
                )
            )
            continue
        try:
            source = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(_problem(where, f"cannot read template {spec.template}: {exc}"))
            continue
        problems += check_template(procedure, source, str(target), path)
    return problems


def check_template(procedure: Procedure, source: str, file: str, path: str) -> list[Problem]:
    """Problems in one template: refused constructs and fields that do not exist."""
    sandbox = DocumentSandbox(FILTERS)
    try:
        sandbox.compile_checked(source, file)
        tree = sandbox.parse_checked(source)
    except TemplateRefused as exc:
        return [_at(file, source, exc.line, "", path=path, message=exc.message)]
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")} | _GLOBALS
    problems: list[Problem] = []
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or name.name in local:
            continue
        if name.name not in ROOTS:
            problems.append(
                _at(
                    file,
                    source,
                    name.lineno,
                    name.name,
                    path=path,
                    message=f"unknown name {name.name!r}: a template reads "
                    + ", ".join(sorted(ROOTS)),
                )
            )
    for chain, lineno in _chains(tree):
        if chain[0] in local or chain[0] not in ROOTS:
            continue
        message = _missing(procedure, chain)
        if message:
            problems.append(_at(file, source, lineno, chain[-1], path=path, message=message))
    return problems


def _chains(tree: nodes.Template) -> list[tuple[tuple[str, ...], int]]:
    """Each longest field chain ``root.a.b`` read from a context name, with its line."""
    found: list[tuple[tuple[str, ...], int]] = []
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if id(node) in inner:
            continue
        chain: list[str] = []
        current: nodes.Node = node
        while True:
            if isinstance(current, nodes.Getattr):
                chain.append(current.attr)
                inner.add(id(current))
                current = current.node
            elif (
                isinstance(current, nodes.Getitem)
                and isinstance(current.arg, nodes.Const)
                and (isinstance(current.arg.value, str))
            ):
                chain.append(current.arg.value)
                inner.add(id(current))
                current = current.node
            elif isinstance(current, nodes.Getitem):
                # An index or a computed key: the chain read so far ends here.
                chain.clear()
                inner.add(id(current))
                current = current.node
            else:
                break
        if isinstance(current, nodes.Name) and chain:
            found.append(((current.name, *reversed(chain)), node.lineno))
    return found


def _missing(procedure: Procedure, chain: tuple[str, ...]) -> str:
    root, fields = chain[0], chain[1:]
    known = ROOTS[root]
    if known is not None:
        return "" if fields[0] in known else _unknown(root, fields[0], known)
    if root == "outputs":
        names = action_names(procedure)
        return (
            ""
            if fields[0] in names
            else _unknown("outputs", fields[0], names, "an action this procedure calls")
        )
    if root == "events":
        return (
            "" if fields[0] in procedure.events else _unknown("events", fields[0], procedure.events)
        )
    if root == "counting":
        if fields[0] not in procedure.counting:
            return _unknown("counting", fields[0], procedure.counting, "a counting rule")
        if len(fields) > 1 and fields[1] not in COUNTING_FIELDS:
            return _unknown(f"counting.{fields[0]}", fields[1], COUNTING_FIELDS)
        return ""
    if root == "states":
        return (
            "" if fields[0] in procedure.states else _unknown("states", fields[0], procedure.states)
        )
    schema: Mapping[str, Any] = procedure.data_schema
    walked = "data"
    for field in fields:
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return ""
        if field not in properties:
            if schema.get("additionalProperties", True) is not False and not properties:
                return ""
            return _unknown(walked, field, properties, "a property of the data schema")
        schema = properties[field]
        walked = f"{walked}.{field}"
        if schema.get("type") == "array":
            return ""
    return ""


def _unknown(where: str, field: str, known: Any, kind: str = "") -> str:
    import difflib

    names = sorted(str(k) for k in known)
    close = difflib.get_close_matches(field, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    what = f" ({kind})" if kind else ""
    return f"{where}.{field} does not exist{what}{hint}"


def _problem(where: SourceLocation, message: str) -> Problem:
    return Problem(location=where, message=message, code="documents")


def _at(file: str, source: str, line: int, word: str, *, path: str, message: str) -> Problem:
    """A problem at the template's line and the column where ``word`` first appears on it."""
    lines = source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    column = text.find(word) + 1 if word and word in text else 1
    return Problem(
        location=SourceLocation(file=file, line=max(line, 1), column=column, path=path),
        message=message,
        code="documents.template",
    )
