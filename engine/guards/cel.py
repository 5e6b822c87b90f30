"""CEL expressions: compiled once at load time, checked, never Python.

Procedures may compute with CEL (package ``common-expression-language``, a Rust
core). Expressions are compiled when the procedure loads; this module refuses,
before anything runs, expressions that:

* do not parse (with the line and column inside the expression);
* name variables other than ``data``, ``payload``, ``actor`` and ``now``
  (names bound by macros such as ``exists(x, …)`` are allowed);
* call functions outside yishi's CEL dialect (``engine.guards.cel_dialect``: the
  one table of what exists, shared with the runtime and docs/cel.md), or call one
  in a form it does not have (``now.getHours("+08:00")``);
* use decimal numbers or ``double()``: yishi counts exactly (docs/rules.md, counting words).

``field_paths`` reports the dotted fields an expression reads, so the
definition checks can compare them with the data and payload schemas.
"""

from __future__ import annotations

import difflib
import hashlib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.errors import CelCheckError as CelCheckError
from engine.errors import CelRuntimeError as CelRuntimeError
from engine.guards.cel_core import load_core
from engine.guards.cel_dialect import HELPERS, NAMES, call_problem
from engine.guards.cel_syntax import enclosing, macro_calls

if TYPE_CHECKING:
    from cel import Program

cel = load_core()

VARIABLES = ("actor", "data", "now", "payload")

_Hoisted = tuple[tuple[str, tuple[str, ...]], ...]

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
_CALL = re.compile(r"(?:(\.)\s*|(?<![\w.]))([A-Za-z_]\w*)\s*\(")
_NOT_CALLS = frozenset({"in", "true", "false", "null"})
_ERROR_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")
_EXPECTING = re.compile(r"\s+expecting (\{(?:'[^']*'|[^'}])*\}|<EOF>)")

MAX_EXPRESSION_LENGTH = 2000
# Several guards and action expressions run per attempt; each is bounded statically
# (cel_cost.MAX_EXPRESSION_COST), and together they may spend this many units.
ATTEMPT_BUDGET = 2_000_000  # about 0.2 s at worst (bench/cel_bench.py)


def blank_strings(source: str) -> str:
    """The source with string literals blanked out (same length), for lexical checks."""
    return _blank_strings(source)


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

    A value may be deferred (``defer``): it is computed when first read as an item
    (``env[name]``, ``get``); ``in`` and iteration see it only from then on. ``now`` is:
    turning the instant into the procedure's wall clock costs more than most guards,
    and most procedures never read the time.
    """

    __slots__ = ("_contexts", "_deferred", "_spent")

    _contexts: dict[tuple[object, ...], Any]
    _deferred: dict[str, Callable[[], Any]]
    _spent: int

    @classmethod
    def fresh(cls, **values: Any) -> Bindings:
        """New bindings for one attempt, their bookkeeping set up front.

        Bindings made as a plain dict work too, but each first read of an unset slot
        (``getattr`` with a default) raises and formats an ``AttributeError`` inside,
        which cost more per attempt than the reads it stands for.
        """
        env = cls(values)
        env._contexts = {}
        env._deferred = {}
        env._spent = 0
        return env

    def defer(self, name: str, compute: Callable[[], Any]) -> Bindings:
        """These bindings, with ``name`` bound to ``compute()`` once it is first read."""
        deferred = getattr(self, "_deferred", None)  # unset slot: cheaper than catching
        if deferred is None:
            self._deferred = {name: compute}
        else:
            deferred[name] = compute
        return self

    def __missing__(self, name: str) -> Any:
        compute = getattr(self, "_deferred", {}).pop(name, None)
        if compute is None:
            raise KeyError(name)
        value = self[name] = compute()
        return value

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def rebind(self, **values: Any) -> Bindings:
        """New bindings with ``values`` replaced, for the same attempt (budget carried)."""
        fresh = Bindings(self, **values)
        fresh._spent = getattr(self, "_spent", 0)
        deferred = getattr(self, "_deferred", None)
        if deferred:
            fresh._deferred = dict(deferred)
        return fresh

    def charge(self, cost: int, source: str) -> None:
        """Count ``cost`` units against the attempt's budget before an evaluation.

        The CEL core can be neither limited nor interrupted once it runs, so the budget
        is spent before: an expression that would take the attempt past
        ``ATTEMPT_BUDGET`` is not run and fails as its guard's explained result.

        Raises:
            CelRuntimeError: "cost budget exceeded", when the budget would be exceeded.
        """
        spent = getattr(self, "_spent", 0) + cost
        if spent > ATTEMPT_BUDGET:
            raise CelRuntimeError(
                f"cost budget exceeded: this attempt's expressions may cost {spent:,} units, "
                f"more than the {ATTEMPT_BUDGET:,} one attempt may spend",
                source,
            )
        self._spent = spent

    def cel_context(self, expression: CelExpression) -> Any:
        """The CEL context ``expression`` evaluates in, built once per attempt and shape.

        Most expressions read a few fields; converting a whole payload or case data
        for them would cost more than everything else they do (the core converts
        each string, a key included, in about 2 µs). The fields an expression reads
        are bound as variables of their own (see ``CelExpression``); the roots
        (``payload``, ``data``) are converted only when the expression still reads
        them as a whole, or a field is missing and its read stays as written.
        Expressions of the same shape share the context.

        Returns:
            The context and the aliases of the bound fields that are missing.
        """
        contexts = getattr(self, "_contexts", None)
        if contexts is None:
            contexts = self._contexts = {}
        key = expression.shape
        found = contexts.get(key)
        if found is None:
            values, missing = _values(self, expression.residual, expression.bound)
            if missing:  # the missing fields are read as written: bind their roots too
                values, missing = _values(self, expression.variables, expression.bound)
            context = new_context(values, helpers=expression.helpers)
            found = contexts[key] = (context, missing)
        return found


def new_context(values: dict[str, Any], *, helpers: bool = True) -> Any:
    """A CEL context holding ``values`` and, when ``helpers``, the dialect's list helpers
    (sum, min, max): registering them costs more than evaluating a simple guard, so an
    expression that calls none of them goes without."""
    context = cel.Context(values)
    if helpers:
        for name, function in HELPERS.items():
            context.add_function(name, function)
    return context


@dataclass(frozen=True, slots=True)
class CelExpression:
    """A compiled, checked CEL expression.

    The fields it reads are bound once per evaluation as variables of their own
    (``hoisted`` inside macros, ``lifted`` elsewhere); see ``variant`` for what
    happens when one is missing.

    ``cost`` is its static bound in units (``engine.guards.cel_cost``), set when the
    procedure's schemas are known; each evaluation charges it to the attempt's budget.
    """

    source: str
    program: Program
    variables: tuple[str, ...]
    fields: tuple[str, ...]
    cost: int = 0
    # The same expression with every field read inside a macro (``payload.xs`` in
    # ``….all(x, x in payload.xs)``) replaced by a variable bound once per evaluation:
    # the CEL core copies a list on every field read, a variable it shares, so this
    # turns an ordinary guard over a list from quadratic into linear work.
    hoisted: _Hoisted = ()
    spans: tuple[tuple[int, int, str], ...] = ()
    variants: dict[frozenset[str], Program] = field(default_factory=dict, compare=False)
    # Fields read outside macros (``payload.yes``), bound the same way for another
    # reason: the core converts a bound value from Python on every attempt, a map
    # key as dearly as a string value, so binding ``payload.yes`` (an integer) costs
    # a fraction of binding ``payload``. ``residual``: the variables the expression
    # still reads as a whole when every bound field is present.
    lifted: _Hoisted = ()
    residual: tuple[str, ...] = ()
    helpers: bool = True  # whether it calls sum, min or max (``new_context``)
    # When the whole expression compares two integers, each a field or a literal
    # (``payload.items >= 1``, ``payload.yes <= payload.present``): the comparison and
    # its sides (``_comparison``), so a guard that has read the fields already can
    # judge it without the CEL core (``evaluate``'s ``known``).
    comparison: _Comparison | None = None
    # Worked out once from the fields above: every bound field, and what the context
    # holds (expressions of one shape share one context per attempt).
    bound: _Hoisted = field(init=False, repr=False, compare=False)
    shape: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound", self.hoisted + self.lifted)
        shape = (self.variables, self.hoisted, self.lifted, self.helpers)
        object.__setattr__(self, "shape", shape)

    def variant(self, missing: frozenset[str]) -> Program:
        """The program with every hoisted field but the ``missing`` ones bound once.

        A missing field keeps its original read, so the error (or the ``||`` that never
        reaches it) is exactly what CEL says for the text as written. Compiled on first
        use per set of missing fields; almost always the set is empty.
        """
        program = self.variants.get(missing)
        if program is None:
            text = self.source
            for start, end, alias in reversed(self.spans):
                if alias not in missing:
                    text = text[:start] + alias + text[end:]
            program = self.variants[missing] = cel.compile(text)
        return program

    def evaluate(self, env: dict[str, Any], known: Mapping[str, Any] | None = None) -> Any:
        """Run the expression against ``env`` (data, payload, actor, now).

        Args:
            known: the values of fields the caller has read already, by dotted path
                (a guard quotes them in its record). When the expression is a comparison
                of integers (``comparison``) and both sides are known integers, it is
                judged here: the CEL core, a context and the conversion of each value
                cost ten times the comparison, and its answer for two integers is the
                same. Anything else (a missing field, a string, a bool) goes to the core,
                which gives CEL's own answer or error.

        Raises:
            CelRuntimeError: when CEL reports an error (missing field, wrong types, overflow).
        """
        if isinstance(env, Bindings):
            env.charge(self.cost, self.source)
            if known is not None and self.comparison is not None:
                verdict = _compare(self.comparison, known)
                if verdict is not None:
                    return verdict
            context, missing = env.cel_context(self)
        else:
            values, missing = _values(env, self.variables, self.bound)
            context = new_context(values, helpers=self.helpers)
        program = self.variant(missing) if self.spans else self.program
        try:
            return program.execute(context)
        except Exception as exc:  # the Rust core raises several builtin types
            raise CelRuntimeError(_first_line(str(exc)), self.source) from exc


_Side = tuple[str, int]
"""One side of a comparison: a field's dotted path, or "" and an integer literal."""
_Comparison = tuple[Callable[[int, int], bool], _Side, _Side]

_INT64 = range(-(2**63), 2**63)
"""CEL's integers: a value outside them is the core's to refuse (an overflow error)."""

_COMPARE = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_SIDE = r"(-?(?:0|[1-9][0-9]*)|(?:data|payload)(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+)"
_COMPARISON = re.compile(rf"\s*{_SIDE}\s*(<=|>=|==|!=|<|>)\s*{_SIDE}\s*")


def _comparison(source: str, fields: tuple[str, ...]) -> _Comparison | None:
    """The comparison ``source`` is, when it is nothing but one (see ``CelExpression``)."""
    match = _COMPARISON.fullmatch(source)
    if match is None:
        return None
    sides: list[_Side] = []
    for text in (match.group(1), match.group(3)):
        if text[0] in "-0123456789":
            if int(text) not in _INT64:
                return None
            sides.append(("", int(text)))
        else:
            dotted = re.sub(r"\s+", "", text)
            if dotted not in fields:
                return None
            sides.append((dotted, 0))
    return _COMPARE[match.group(2)], sides[0], sides[1]


def _compare(comparison: _Comparison, known: Mapping[str, Any]) -> bool | None:
    """The comparison's verdict when both its sides are integers, else None (for the core)."""
    test, (left_field, left), (right_field, right) = comparison
    a = known.get(left_field) if left_field else left
    b = known.get(right_field) if right_field else right
    # ``type`` and not ``isinstance``: a bool is no integer to CEL.
    if type(a) is int and type(b) is int and a in _INT64 and b in _INT64:
        return test(a, b)
    return None


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
    _check_calls(source, code)
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
        if name in _OPERATORS or name in NAMES:
            continue
        if name == "double":
            raise CelCheckError(
                "double() is not allowed; yishi counts exactly with integers",
                *find_position(source, name),
            )
        hint = _did_you_mean(name, tuple(sorted(NAMES)))
        raise CelCheckError(
            f"unknown function {name!r}: docs/cel.md lists the functions yishi's CEL has{hint}",
            *find_position(source, name),
        )
    found = _hoist(code)
    spans = tuple((start, end, alias) for start, end, alias, _, _ in found)
    hoisted = tuple({alias: parts for _, _, alias, parts, inside in found if inside}.items())
    lifted = tuple({alias: parts for _, _, alias, parts, inside in found if not inside}.items())
    lifted = tuple(item for item in lifted if item not in hoisted)
    variables = tuple(v for v in refs["variables"] if v in VARIABLES)
    expression = CelExpression(
        source=source,
        program=program,
        variables=variables,
        fields=field_paths(source),
        hoisted=hoisted,
        spans=spans,
        lifted=lifted,
        residual=variables,
        helpers=not HELPERS.keys().isdisjoint(refs["functions"]),
        comparison=_comparison(source, field_paths(source)),
    )
    if not spans:
        return expression
    # Compiled now, not on first use: which variables it still reads is needed anyway.
    rewritten = expression.variant(frozenset())
    still = set(rewritten.references()["variables"])
    return replace(expression, residual=tuple(v for v in variables if v in still))


_HAS_OPEN = re.compile(r"has\s*\(\s*$")


def _hoist(code: str) -> tuple[tuple[int, int, str, tuple[str, ...], bool], ...]:
    """Where each field read is, the variable that will stand for it, and whether the
    read is inside a macro (``CelExpression.hoisted``) or not (``lifted``).

    Reads under ``has(…)`` stay (``has`` needs a field selection), as do paths whose
    root a macro rebinds. An alias is a digest of its path, the same in every
    expression, so expressions reading the same fields share one bound context.

    Returns:
        (start, end, alias, path parts, inside a macro) for each read, in source order.
    """
    calls = macro_calls(code)
    spans: list[tuple[int, int, str, tuple[str, ...], bool]] = []
    for match in _FIELD_PATH.finditer(code):
        around = enclosing(calls, match.start())
        root = match.group(1)
        if any(call.var == root for call in around):
            continue
        if _HAS_OPEN.search(code[: match.start()]):
            continue
        parts = (root, *re.sub(r"\s+", "", match.group(2)).strip(".").split("."))
        alias = "yishi_" + hashlib.sha256(".".join(parts).encode()).hexdigest()[:16]
        spans.append((match.start(), match.end(), alias, parts, bool(around)))
    return tuple(spans)


def _values(
    env: Mapping[str, Any], variables: tuple[str, ...], hoisted: _Hoisted
) -> tuple[dict[str, Any], frozenset[str]]:
    """The context's values (``variables`` and the hoisted fields present), and the
    aliases of the hoisted fields that are missing."""
    values = {}
    for name in variables:
        try:
            values[name] = env[name]  # not ``in``: a deferred binding is made when read
        except KeyError:
            continue
    missing = []
    for alias, parts in hoisted:
        node: Any = env
        for part in parts:
            # A dict (``Bindings`` is one) first: an ABC ``isinstance`` costs ~0.2 µs a part.
            if not isinstance(node, (dict, Mapping)) or part not in node:
                missing.append(alias)
                break
            node = node[part]
        else:
            values[alias] = node
    return values, frozenset(missing) if missing else _NONE_MISSING


_NONE_MISSING: frozenset[str] = frozenset()
"""``_values``'s answer when every field is present (almost always): made once."""


def _check_calls(source: str, code: str) -> None:
    """Every call has a form the dialect declares (function or method, argument count).

    ``code`` is ``source`` with strings blanked, so parentheses and commas inside text
    do not count. CEL's own parser has already accepted the expression, so brackets
    balance.
    """
    for match in _CALL.finditer(code):
        name = match.group(2)
        if name in _NOT_CALLS or name not in NAMES:
            continue
        problem = call_problem(name, match.group(1) is not None, _argument_count(code, match.end()))
        if problem:
            raise CelCheckError(problem, *_position(source, match.start(2)))


def _argument_count(code: str, start: int) -> int:
    """How many arguments the call whose "(" ends at ``start`` has."""
    depth, commas, empty = 0, 0, True
    for char in code[start:]:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            commas += 1
        if not char.isspace() and not (depth == 0 and char == ")"):
            empty = False
    return 0 if empty else commas + 1


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
