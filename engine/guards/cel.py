"""CEL expressions: compiled once at load time, checked, never Python.

Procedures may compute with CEL (package ``common-expression-language``, a Rust
core). Expressions are compiled when the procedure loads; this module refuses,
before anything runs, expressions that:

* do not parse (with the line and column inside the expression);
* name variables other than ``data``, ``payload``, ``actor`` and ``now``
  (names bound by macros such as ``exists(x, …)`` are allowed);
* call functions outside CEL's standard library (``__import__`` and friends);
* use decimal numbers or ``double()``: yishi counts exactly (DOMAIN.md §0).

``field_paths`` reports the dotted fields an expression reads, so the
definition checks can compare them with the data and payload schemas.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.guards.cel_core import load_core

if TYPE_CHECKING:
    from cel import Program

cel = load_core()

VARIABLES = ("actor", "data", "now", "payload")

# The functions the CEL core actually provides (tests/test_cel.py runs each one):
# listing one it lacks would pass the load-time check and fail when a case runs.
_STANDARD_FUNCTIONS = frozenset(
    {
        "size", "has", "int", "uint", "string", "bytes", "timestamp", "duration",
        "type", "dyn", "matches", "contains", "startsWith", "endsWith", "all", "exists",
        "exists_one", "map", "filter", "getFullYear", "getMonth", "getDate",
        "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes",
        "getSeconds",
    }
)  # fmt: skip
# The operators by their internal names. A pattern such as ^_.*_$ would also let
# ``__import__(...)`` through, so the list is spelt out.
_OPERATORS = frozenset(
    {
        "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "_+_", "_-_", "_*_", "_/_", "_%_",
        "_&&_", "_||_", "_?_:_", "_[_]", "!_", "-_", "@in", "@not_strictly_false",
    }
)  # fmt: skip
_MACRO_BINDING = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_STRING_LITERAL = re.compile(r"""(?:[rR]?"(?:\\.|[^"\\])*"|[rR]?'(?:\\.|[^'\\])*')""")
_FLOAT_LITERAL = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+[eE][-+]?\d+)(?![\w])")
# A segment followed by "(" is a method (``data.members.exists(...)``), not a field.
_FIELD_PATH = re.compile(r"(?<![\w.])(data|payload|actor)((?:\s*\.\s*[A-Za-z_]\w*\b(?!\s*\())+)")
_ERROR_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")
_EXPECTING = re.compile(r"\s+expecting (\{(?:'[^']*'|[^'}])*\}|<EOF>)")

MAX_EXPRESSION_LENGTH = 2000


class CelCheckError(ValueError):
    """An expression cannot be used; ``line``/``column`` are 1-based inside the expression."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _blank_strings(source: str) -> str:
    """The source with string literals blanked out (same length), for lexical checks."""
    return _STRING_LITERAL.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', source)


def field_paths(source: str) -> tuple[str, ...]:
    """Dotted fields read by ``source``: ``("data.members", "payload.yes")``, sorted, unique."""
    code = _blank_strings(source)
    found = {
        root + re.sub(r"\s+", "", rest)
        for root, rest in _FIELD_PATH.findall(code)
        if root in ("data", "payload", "actor")
    }
    return tuple(sorted(found))


class Bindings(dict[str, Any]):
    """The values an attempt's expressions read (data, payload, actor, now).

    Handing a Python dict to CEL converts it on every evaluation, which costs far
    more than evaluating (about 15 µs for a two-field payload against 0.5 µs);
    ``Bindings`` converts once, on first use, and every expression of the attempt
    reuses that context. Treat it as read-only once built.
    """

    __slots__ = ("_contexts",)

    _contexts: dict[tuple[str, ...], Any]

    def cel_context(self, variables: tuple[str, ...]) -> Any:
        """The CEL context holding ``variables`` (those an expression reads), built once.

        Most expressions read only the payload; converting the whole case data for them
        would cost more than everything else they do.
        """
        try:
            contexts = self._contexts
        except AttributeError:
            contexts = {}
            self._contexts = contexts
        context = contexts.get(variables)
        if context is None:
            context = contexts[variables] = cel.Context(
                {v: self[v] for v in variables if v in self}
            )
        return context


@dataclass(frozen=True, slots=True)
class CelExpression:
    """A compiled, checked CEL expression."""

    source: str
    program: Program
    variables: tuple[str, ...]
    fields: tuple[str, ...]

    def evaluate(self, env: dict[str, Any]) -> Any:
        """Run the expression against ``env`` (data, payload, actor, now).

        Raises:
            CelRuntimeError: when CEL reports an error (missing field, wrong types, overflow).
        """
        context = env.cel_context(self.variables) if isinstance(env, Bindings) else env
        try:
            return self.program.execute(context)
        except Exception as exc:  # the Rust core raises several builtin types
            raise CelRuntimeError(_first_line(str(exc)), self.source) from exc


class CelRuntimeError(Exception):
    """A compiled expression failed on the values it was given."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(f"{message} (in {source!r})")
        self.message = message
        self.source = source


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "error"


def compile_cel(source: str) -> CelExpression:
    """Compile and check an expression.

    Args:
        source: the CEL text from the procedure.

    Returns:
        The compiled expression, with the variables and fields it reads.

    Raises:
        CelCheckError: with a message and position when the expression cannot be used.
    """
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise CelCheckError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    code = _blank_strings(source)
    float_match = _FLOAT_LITERAL.search(code)
    if float_match:
        line, column = _position(source, float_match.start())
        raise CelCheckError(
            f"decimal number {float_match.group()} is not allowed; yishi counts exactly: "
            "compare integers instead, e.g. 5 * yes < 3 * total for 'below 60 %'",
            line,
            column,
        )
    try:
        program = cel.compile(source)
    except ValueError as exc:
        text = str(exc)
        match = _ERROR_POSITION.search(text)
        if match:
            raise CelCheckError(
                f"CEL syntax: {_syntax_words(match.group(3))}",
                int(match.group(1)),
                int(match.group(2)),  # CEL columns are 1-based already
            ) from exc
        raise CelCheckError(f"CEL syntax: {_first_line(text)}") from exc
    refs = program.references()
    bound = set(_MACRO_BINDING.findall(code))
    for name in sorted(refs["variables"], key=code.find):
        if name not in VARIABLES and name not in bound:
            hint = _did_you_mean(name, VARIABLES)
            raise CelCheckError(
                f"unknown variable {name!r}: expressions may read {', '.join(VARIABLES)}{hint}",
                *find_position(source, name),
            )
    # Report the first offending name as written, whatever order CEL lists them in.
    for name in sorted(refs["functions"], key=lambda n: _blank_strings(source).find(n)):
        if name in _OPERATORS or name in _STANDARD_FUNCTIONS:
            continue
        if name == "double":
            raise CelCheckError(
                "double() is not allowed; yishi counts exactly with integers",
                *find_position(source, name),
            )
        raise CelCheckError(
            f"unknown function {name!r}: only CEL's standard functions are available",
            *find_position(source, name),
        )
    return CelExpression(
        source=source,
        program=program,
        variables=tuple(v for v in refs["variables"] if v in VARIABLES),
        fields=field_paths(source),
    )


def _syntax_words(message: str) -> str:
    """The parser's message in an author's words.

    ANTLR lists every token it could accept ("expecting {'[', '{', '(', …}"); a list of
    two or three is a useful hint, a longer one is noise and is dropped.
    """
    text = message.removeprefix("Syntax error: ")

    def expecting(match: re.Match[str]) -> str:
        options = match.group(1)
        if options == "<EOF>":
            return " where the expression should end"
        items = re.findall(r"'(?:[^']*)'|[A-Z_]+", options[1:-1])
        return f" (expected {' or '.join(items)})" if len(items) <= 3 else ""

    text = _EXPECTING.sub(expecting, text)
    text = text.replace("mismatched input '<EOF>'", "the expression ends too early")
    text = text.replace("mismatched input", "unexpected").replace("extraneous input", "unexpected")
    return text


def _did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _position(source: str, offset: int) -> tuple[int, int]:
    before = source[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column


def find_position(source: str, name: str) -> tuple[int, int]:
    """1-based (line, column) of the first ``name`` outside strings in ``source``, else (1, 1)."""
    offset = _blank_strings(source).find(name)
    return _position(source, max(offset, 0))
