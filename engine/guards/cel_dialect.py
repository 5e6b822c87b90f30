"""The CEL dialect yishi speaks: every function, method and macro, written once.

``validate`` and the runtime used to disagree: the load-time check accepted any
name from CEL's specification, so ``now.getHours("+08:00")`` validated and then
failed when a case ran. This table is the single statement of what exists, in
which form (function or method) and with how many arguments. The compiler checks
every call against it, the runtime registers the list helpers it declares, and
docs/cel.md's reference section is generated from it (a drift test keeps them
equal). Each entry's example is run by the tests against the CEL core, so an entry
the core cannot execute fails the tests, not a case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Form = Literal["function", "method", "macro"]

_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One callable form: ``name`` called as ``form`` with ``args`` arguments.

    For methods and macros ``args`` does not count the receiver (``xs.all(x, p)`` has 2).
    """

    name: str
    form: Form
    args: int
    receiver: str = ""
    returns: str
    summary: str
    example: str
    group: str


# A table row reads best positionally, hence the many positional parameters.
def _e(group: str, name: str, form: Form, args: int, receiver: str, returns: str,  # noqa: PLR0917
       summary: str, example: str) -> Entry:  # fmt: skip
    return Entry(
        name=name, form=form, args=args, receiver=receiver, returns=returns,
        summary=summary, example=example, group=group,
    )  # fmt: skip


_GETTER = "on the procedure's wall clock (its time_zone, Asia/Shanghai unless declared)"

# The examples are evaluated by the tests with now = 2024-03-01T09:30:00+08:00 (a
# Friday) and payload = {"ballots": [3, 1, 2], "names": ["王", "李"]}.
TABLE: tuple[Entry, ...] = (
    _e("macros", "all", "macro", 2, "list or map", "bool",
       "true when the predicate holds for every element (every key of a map)",
       "payload.ballots.all(b, b > 0)"),
    _e("macros", "exists", "macro", 2, "list or map", "bool",
       "true when the predicate holds for at least one element",
       "payload.ballots.exists(b, b == 3)"),
    _e("macros", "exists_one", "macro", 2, "list or map", "bool",
       "true when the predicate holds for exactly one element",
       "payload.ballots.exists_one(b, b > 2)"),
    _e("macros", "map", "macro", 2, "list or map", "list",
       "the list of the expression's value for each element",
       "payload.ballots.map(b, b * 2) == [6, 2, 4]"),
    _e("macros", "map", "macro", 3, "list or map", "list",
       "the expression's value for each element for which the predicate holds",
       "payload.ballots.map(b, b > 1, b * 10) == [30, 20]"),
    _e("macros", "filter", "macro", 2, "list or map", "list",
       "the elements for which the predicate holds",
       "payload.ballots.filter(b, b >= 2) == [3, 2]"),
    _e("macros", "has", "function", 1, "", "bool",
       "true when a field is present (``has(payload.note)``), without reading it",
       "has(payload.ballots) && !has(payload.missing)"),
    _e("lists", "sum", "function", 1, "", "int",
       "the sum of a list of integers (0 for an empty list); one pass, no macro needed",
       "sum(payload.ballots) == 6"),
    _e("lists", "min", "function", 1, "", "int",
       "the least integer of a non-empty list (an empty list is an error)",
       "min(payload.ballots) == 1"),
    _e("lists", "max", "function", 1, "", "int",
       "the greatest integer of a non-empty list (an empty list is an error)",
       "max(payload.ballots) == 3"),
    _e("sizes", "size", "function", 1, "", "int",
       "the number of elements of a list or map, or of bytes of a string (UTF-8: a "
       "Chinese character counts 3)", "size(payload.ballots) == 3 && size('王') == 3"),
    _e("sizes", "size", "method", 0, "list, map, string or bytes", "int",
       "as size(x)", "payload.names.size() == 2"),
    _e("strings", "contains", "method", 1, "string", "bool",
       "true when the text contains the other text", "'村民委员会'.contains('委员')"),
    _e("strings", "startsWith", "method", 1, "string", "bool",
       "true when the text starts with the other text", "'村民委员会'.startsWith('村民')"),
    _e("strings", "endsWith", "method", 1, "string", "bool",
       "true when the text ends with the other text", "'村民委员会'.endsWith('委员会')"),
    _e("strings", "matches", "method", 1, "string", "bool",
       "true when the text matches the regular expression (RE2 syntax, linear time)",
       "'2024-001'.matches('^[0-9]{4}-[0-9]{3}$')"),
    _e("conversions", "int", "function", 1, "", "int",
       "an integer from a string or unsigned integer", "int('-3') == -3"),
    _e("conversions", "uint", "function", 1, "", "uint",
       "an unsigned integer from an integer or string (negative is an error)",
       "uint(3) == 3u"),
    _e("conversions", "string", "function", 1, "", "string",
       "the text of an integer, timestamp, duration or bytes", "string(42) == '42'"),
    _e("conversions", "bytes", "function", 1, "", "bytes",
       "the UTF-8 bytes of a string", "bytes('a') == b'a'"),
    _e("conversions", "dyn", "function", 1, "", "any",
       "the value itself, typed dynamically", "dyn(1) == 1"),
    _e("conversions", "type", "function", 1, "", "type",
       "the type of a value, comparable with another type(…)",
       "type(payload.ballots) == type([])"),
    _e("time", "timestamp", "function", 1, "", "timestamp",
       "the instant an RFC 3339 text names (it must carry its offset)",
       "timestamp('2024-03-01T01:30:00Z') == now"),
    _e("time", "duration", "function", 1, "", "duration",
       "a duration from text such as '90m', '48h', '1h30m' (no days: write 24h)",
       "duration('1h30m') == duration('90m')"),
    _e("time", "getFullYear", "method", 0, "timestamp", "int",
       f"the year {_GETTER}", "now.getFullYear() == 2024"),
    _e("time", "getMonth", "method", 0, "timestamp", "int",
       f"the month, 0 for January {_GETTER}", "now.getMonth() == 2"),
    _e("time", "getDate", "method", 0, "timestamp", "int",
       f"the day of the month, 1-based {_GETTER}", "now.getDate() == 1"),
    _e("time", "getDayOfMonth", "method", 0, "timestamp", "int",
       f"the day of the month, 0-based {_GETTER}", "now.getDayOfMonth() == 0"),
    _e("time", "getDayOfWeek", "method", 0, "timestamp", "int",
       f"the day of the week, 0 for Sunday {_GETTER}", "now.getDayOfWeek() == 5"),
    _e("time", "getDayOfYear", "method", 0, "timestamp", "int",
       f"the day of the year, 0-based {_GETTER}", "now.getDayOfYear() == 60"),
    _e("time", "getHours", "method", 0, "timestamp or duration", "int",
       f"the hour (0–23) {_GETTER}; for a duration, its whole hours",
       "now.getHours() == 9 && duration('150m').getHours() == 2"),
    _e("time", "getMinutes", "method", 0, "timestamp or duration", "int",
       "the minute of the hour; for a duration, its whole minutes",
       "now.getMinutes() == 30 && duration('2h').getMinutes() == 120"),
    _e("time", "getSeconds", "method", 0, "timestamp or duration", "int",
       "the second of the minute; for a duration, its whole seconds",
       "now.getSeconds() == 0 && duration('90s').getSeconds() == 90"),
    _e("time", "getMilliseconds", "method", 0, "timestamp or duration", "int",
       "the millisecond of the second; for a duration, its whole milliseconds",
       "now.getMilliseconds() == 0 && duration('1500ms').getMilliseconds() == 1500"),
)  # fmt: skip

NAMES = frozenset(entry.name for entry in TABLE)
TIME_GETTERS = frozenset(e.name for e in TABLE if e.group == "time" and e.name.startswith("get"))


def forms(name: str) -> tuple[Entry, ...]:
    """Every entry for ``name`` (``size`` has a function and a method form)."""
    return tuple(entry for entry in TABLE if entry.name == name)


def _integers(name: str, values: Any) -> list[int]:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(f"{name}() takes a list of integers")
    return values


def _in_range(name: str, value: int) -> int:
    if not _INT64[0] <= value <= _INT64[1]:
        raise OverflowError(f"{name}() overflows a 64-bit integer")
    return value


def _sum(values: Any) -> int:
    return _in_range("sum", sum(_integers("sum", values)))


def _min(values: Any) -> int:
    items = _integers("min", values)
    if not items:
        raise ValueError("min() of an empty list")
    return min(items)


def _max(values: Any) -> int:
    items = _integers("max", values)
    if not items:
        raise ValueError("max() of an empty list")
    return max(items)


# The helpers the CEL core lacks, registered on every context; each is one pass over
# a list whose size the static cost bound already accounts for.
HELPERS: dict[str, Callable[[Any], int]] = {"sum": _sum, "min": _min, "max": _max}


def call_problem(name: str, method: bool, args: int) -> str | None:
    """Why a call of ``name`` (as a method or not, with ``args`` arguments) cannot run.

    Returns:
        None when the dialect has that form, else a message that says what exists.
    """
    candidates = forms(name)
    if not candidates:
        return None  # unknown names are reported by the caller, with "did you mean"
    want: Sequence[Form] = ("method", "macro") if method else ("function",)
    fitting = [e for e in candidates if e.form in want]
    if any(e.args == args for e in fitting):
        return None
    if name in TIME_GETTERS and method and args:
        return (
            f"{name}() takes no argument: time getters read the procedure's time_zone "
            "(Asia/Shanghai unless it declares another); declare time_zone instead"
        )
    return f"{name} is called {_usage(name)}, not with {args} argument{'s' * (args != 1)}"


def _usage(name: str) -> str:
    shapes = []
    for e in forms(name):
        params = ", ".join(["…"] * e.args)
        shapes.append(f"{name}({params})" if e.form == "function" else f"x.{name}({params})")
    return " or ".join(dict.fromkeys(shapes))


def reference_markdown() -> str:
    """The reference section of docs/cel.md: every entry with its example, by group."""
    titles = {
        "macros": "Macros",
        "lists": "List helpers",
        "sizes": "Sizes",
        "strings": "Text",
        "conversions": "Conversions and types",
        "time": "Time",
    }
    lines = []
    for group, title in titles.items():
        lines += [
            f"### {title}",
            "",
            "| call | on | gives | what | example |",
            "|---|---|---|---|---|",
        ]
        for e in TABLE:
            if e.group != group:
                continue
            params = ", ".join(["…"] * e.args)
            call = f"{e.name}({params})" if e.form == "function" else f"x.{e.name}({params})"
            example = e.example.replace("|", "\\|")
            summary = e.summary.replace("|", "\\|")
            lines.append(
                f"| `{call}` | {e.receiver or '—'} | {e.returns} | {summary} | `{example}` |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
