"""The sandbox that renders ops-staff templates: no internals, no files, bounded work.

Templates are text anyone on the ops staff may edit, so rendering one must never
reach Python internals, the file system or the network, and must stop — with a
clear message, never a hang or an exhausted machine — however hostile it is.
Jinja2's ``SandboxedEnvironment`` gives the base; on top of it:

- **fields, not attributes**: ``a.b`` reads a key of a mapping (or a property of
  ``loop``); any other attribute, and every name starting with ``_``, is refused;
- **no other files**: no loader, and ``include``/``import``/``extends`` are refused
  when the template is parsed, as are macros, call blocks, block captures,
  recursive loops and namespaces (the constructs that build text out of sight of
  the output counter or grow a value from one iteration to the next);
- **a step budget**: every loop iteration, call, field read and arithmetic
  operation costs a step; a render stops after ``max_steps``;
- **bounded values and output**: ``~``, ``+``, ``*``, ``join`` and the other
  filters are checked against ``max_value`` characters (items), ``**`` and
  integer ``*`` against a bit length, and the streamed output against
  ``max_output`` characters; ``/`` (a float) is refused: use ``//``.

Jinja folds constant expressions when it compiles; every arithmetic operator is
intercepted, which turns that folding off, so ``{{ 10 ** 10 ** 10 }}`` is
stopped at render time, not computed at compile time.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from engine.errors import RenderStopped as RenderStopped
from engine.errors import TemplateRefused as TemplateRefused


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How much one render may do."""

    max_steps: int = 200_000
    max_output: int = 2_000_000
    max_value: int = 200_000
    max_bits: int = 256


# The constructs refused at parse time, and why (said to the template's author).
_REFUSED: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Include, "include is not allowed: a document is one template file"),
    (nodes.Import, "import is not allowed: a document is one template file"),
    (nodes.FromImport, "import is not allowed: a document is one template file"),
    (nodes.Extends, "extends is not allowed: a document is one template file"),
    (nodes.Macro, "macros are not allowed: write the text out, or loop over the data"),
    (nodes.CallBlock, "call blocks are not allowed"),
    (nodes.AssignBlock, "{% set %}…{% endset %} blocks are not allowed: set a value"),
    (nodes.FilterBlock, "filter blocks are not allowed: filter a value"),
    (nodes.NSRef, "namespaces are not allowed: a value cannot grow across iterations"),
)

_LOOP_FIELDS = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem", "nextitem"}
)

_BUDGET: contextvars.ContextVar[_Budget] = contextvars.ContextVar("yishi_template_budget")


class _Budget:
    """Steps spent by the render running in this context."""

    __slots__ = ("limits", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > self.limits.max_steps:
            raise RenderStopped(
                f"the template did more than {self.limits.max_steps} steps (loop iterations, "
                "field reads, calls): loop over the data, not over large ranges"
            )


def _budget() -> _Budget:
    try:
        return _BUDGET.get()
    except LookupError:
        # Rendering outside render_template (a test, an embedder) still gets the limits.
        budget = _Budget(Limits())
        _BUDGET.set(budget)
        return budget


def _size(value: object) -> int:
    if isinstance(value, str | bytes | list | tuple | dict):
        return len(value)
    return 0


def _checked(value: Any) -> Any:
    limit = _budget().limits.max_value
    if _size(value) > limit:
        raise RenderStopped(f"a value grew beyond {limit} characters or items")
    return value


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


def _join(value: Iterable[Any], separator: str = "") -> str:
    items = [str(item) for item in value]
    total = sum(len(item) for item in items) + len(separator) * max(len(items) - 1, 0)
    limit = _budget().limits.max_value
    if total > limit:
        raise RenderStopped(f"a value grew beyond {limit} characters or items")
    return separator.join(items)


class _Guard(NodeTransformer):
    """Counts every loop iteration and bounds every ``~`` concatenation."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(
            node.iter, "_yishi_counted", [], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, "_yishi_checked", [], [], None, None, lineno=node.lineno)


# The filters a template may use: none widens text by a parameter (center, indent,
# format), reaches attributes (attr), bypasses escaping (safe) or yields floats.
_FILTERS = [
    "abs",
    "count",
    "default",
    "d",
    "dictsort",
    "e",
    "escape",
    "first",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "select",
    "selectattr",
    "slice",
    "batch",
    "sort",
    "string",
    "sum",
    "trim",
    "unique",
    "upper",
    "items",
    "capitalize",
    "title",
]


def _wrap_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget().step()
        result = function(*args, **kwargs)
        if isinstance(result, Iterator):
            # select, map, reject… yield lazily; a list lets `last` and `length` follow them,
            # and every item it holds is counted against the budget.
            result = list(_counted(result))
        return _checked(result)

    # Jinja passes the context or environment to filters marked so (map, select, …).
    if hasattr(function, "jinja_pass_arg"):
        bounded.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded


class DocumentSandbox(SandboxedEnvironment):
    """A sandboxed Jinja2 environment for document templates (HTML, autoescaped)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self, filters: Mapping[str, Callable[..., Any]] | None = None) -> None:
        super().__init__(autoescape=True, undefined=StrictUndefined, loader=None)
        builtin = dict(self.filters)
        self.filters = {name: _wrap_filter(builtin[name]) for name in _FILTERS}
        self.filters["join"] = _wrap_filter(_join)
        for name, function in (filters or {}).items():
            self.filters[name] = _wrap_filter(function)
        self.filters["_yishi_counted"] = _counted
        self.filters["_yishi_checked"] = _checked
        self.globals = {"range": self._range}

    def _range(self, *args: int) -> range:
        span = range(*args)
        if len(span) > self.limits_for_range:
            raise RenderStopped(f"range() of more than {self.limits_for_range} numbers")
        return span

    limits_for_range = 10_000

    def parse_checked(self, source: str) -> nodes.Template:
        """Parse a template and refuse the constructs the sandbox does not allow.

        Raises:
            TemplateRefused: a syntax error or a refused construct, with its line.
        """
        try:
            tree = self.parse(source)
        except TemplateSyntaxError as exc:
            raise TemplateRefused(exc.lineno, exc.message or "syntax error") from exc
        for node_type, why in _REFUSED:
            for found in tree.find_all(node_type):
                raise TemplateRefused(found.lineno, why)
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise TemplateRefused(loop.lineno, "recursive loops are not allowed")
        for name in tree.find_all(nodes.Name):
            if name.name.startswith("_") or name.name == "self":
                raise TemplateRefused(name.lineno, f"the name {name.name} is not allowed")
        for ref in tree.find_all((nodes.Getattr, nodes.Const)):
            text = ref.attr if isinstance(ref, nodes.Getattr) else getattr(ref, "value", None)
            if isinstance(text, str) and text.startswith("__"):
                raise TemplateRefused(
                    ref.lineno, f"{text} is a Python internal, not a field of the case"
                )
        return tree

    def compile_checked(self, source: str, name: str) -> Any:
        """A template object from checked source, with its loops counted and values bounded.

        Raises:
            TemplateRefused: a syntax error, a refused construct or an unknown filter.
        """
        tree = _Guard().visit(self.parse_checked(source))
        try:
            code = self.compile(tree, name=name, filename=name)
        except TemplateSyntaxError as exc:
            # An unknown filter or test is found only when compiling.
            known = ", ".join(sorted(f for f in self.filters if not f.startswith("_")))
            raise TemplateRefused(exc.lineno, f"{exc.message} (filters: {known})") from exc
        return self.template_class.from_code(self, code, self.make_globals(None), None)

    # --- field access -------------------------------------------------------------------

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().step()
        if attribute.startswith("_"):
            raise SecurityError(f"{attribute} is not a field")
        if isinstance(obj, Mapping):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, LoopContext) and attribute in _LOOP_FIELDS:
            return getattr(obj, attribute)
        if isinstance(obj, StrictUndefined):
            return obj
        raise SecurityError(
            f"{attribute!r} is not a field: templates read fields of mappings "
            f"(a {type(obj).__name__} has none)"
        )

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().step()
        if isinstance(argument, str):
            return self.getattr(obj, argument)
        if (
            isinstance(obj, Sequence)
            and not isinstance(obj, str)
            and (isinstance(argument, int | slice))
        ):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(obj=obj, name=str(argument))
        if isinstance(obj, str) and isinstance(argument, int | slice):
            return obj[argument]
        return self.undefined(obj=obj, name=str(argument))

    def call(
        self, __context: Any, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:  # the signature SandboxedEnvironment.call has
        _budget().step()
        if __obj != self._range:
            raise SecurityError("templates call only range(); use filters for the rest")
        # Jinja passes its own bookkeeping (_loop_vars, _block_vars) as keywords.
        return __obj(*args, **{k: v for k, v in kwargs.items() if not k.startswith("_")})

    # --- arithmetic --------------------------------------------------------------------

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget().step()
        bits = _budget().limits.max_bits
        if operator == "/":
            raise SecurityError("/ gives a float: documents use exact whole numbers; use //")
        if operator == "%" and not (isinstance(left, int) and isinstance(right, int)):
            raise SecurityError("% formats text: use ~ and filters instead")
        if operator == "**":
            if not (isinstance(left, int) and isinstance(right, int)) or not 0 <= right <= bits:
                raise SecurityError(f"** takes whole numbers and an exponent from 0 to {bits}")
            if abs(left).bit_length() * right > bits:
                raise RenderStopped(f"a number grew beyond {bits} bits")
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > bits:
                    raise RenderStopped(f"a number grew beyond {bits} bits")
            else:
                count = right if isinstance(right, int) else left
                item = left if isinstance(right, int) else right
                if (
                    isinstance(count, int)
                    and _size(item) * max(count, 0) > _budget().limits.max_value
                ):
                    raise RenderStopped(
                        f"a value grew beyond {_budget().limits.max_value} characters or items"
                    )
        result = self.binop_table[operator](left, right)
        if isinstance(result, int) and result.bit_length() > bits:
            raise RenderStopped(f"a number grew beyond {bits} bits")
        return _checked(result)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """A render's text and how many steps it took."""

    text: str
    steps: int


def render_template(
    template: Any, context: Mapping[str, Any], limits: Limits | None = None, *, filename: str
) -> Rendered:
    """Render a compiled template within ``limits``.

    Raises:
        RenderStopped: a limit was reached, a field is missing, or the sandbox refused
            an access; the message says which, with the template line when known.
    """
    limits = limits or Limits()
    budget = _Budget(limits)
    token = _BUDGET.set(budget)
    parts: list[str] = []
    written = 0
    try:
        for chunk in template.generate(dict(context)):
            written += len(chunk)
            if written > limits.max_output:
                raise RenderStopped(f"the document grew beyond {limits.max_output} characters")
            parts.append(chunk)
    except RenderStopped:
        raise
    except (SecurityError, UndefinedError) as exc:
        raise RenderStopped(str(exc), _template_line(exc, filename)) from exc
    except RecursionError as exc:
        raise RenderStopped("the template nests too deeply") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, OverflowError) as exc:
        raise RenderStopped(f"{type(exc).__name__}: {exc}", _template_line(exc, filename)) from exc
    finally:
        _BUDGET.reset(token)
    return Rendered(text="".join(parts), steps=budget.steps)


def _template_line(exc: BaseException, filename: str) -> int:
    """The template line of the innermost frame that ran template code, else 0.

    Jinja rewrites a failing render's traceback so template frames carry the
    template's file name and line.
    """
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
