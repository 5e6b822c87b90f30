"""The lexical shape of a CEL expression: where its macros are, what they iterate, what they bind.

The CEL core gives no syntax tree, only the names an expression references. Two
checks need more: the static cost bound (how deeply macros nest and over what)
and the rewriting that binds a collection once per evaluation instead of copying
it on every read inside a macro. Both work on the source with string literals
blanked out (``cel.blank_strings``) after the CEL parser has accepted it, so
brackets balance and a lexical reading is exact enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = ("all", "exists", "exists_one", "map", "filter")
_MACRO = re.compile(r"\.\s*(all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True, slots=True, kw_only=True)
class MacroCall:
    """``receiver.name(var, …)``: offsets into the blanked source."""

    name: str
    var: str
    receiver_start: int  # first character of the receiver expression
    dot: int  # the "." before the macro's name
    open: int  # its "("
    close: int  # its matching ")"

    @property
    def receiver(self) -> tuple[int, int]:
        return self.receiver_start, self.dot

    def body_contains(self, offset: int) -> bool:
        """True when ``offset`` lies inside the macro's arguments (run once per element)."""
        return self.open < offset < self.close


def matching(code: str, start: int) -> int:
    """The offset of the bracket closing the one at ``start`` (or len(code))."""
    depth = 0
    for index in range(start, len(code)):
        char = code[index]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                return index
    return len(code)


def _opening(code: str, end: int) -> int:
    """The offset of the bracket opening the one closing at ``end``."""
    depth = 0
    for index in range(end, -1, -1):
        char = code[index]
        if char in _CLOSE:
            depth += 1
        elif char in _OPEN:
            depth -= 1
            if depth == 0:
                return index
    return 0


def _skip_space_back(code: str, index: int) -> int:
    while index >= 0 and code[index].isspace():
        index -= 1
    return index


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def receiver_start(code: str, dot: int) -> int:
    """Where the postfix expression ending just before ``dot`` starts.

    ``data.review.eligible`` in ``data.review.eligible.all(…)``, ``payload.trust[n]``,
    a list literal ``[1, 2]``, or a chained call ``xs.filter(…)``.
    """
    index = _skip_space_back(code, dot - 1)
    start = index + 1
    while index >= 0:
        char = code[index]
        if char in _CLOSE:
            opening = _opening(code, index)
            start = opening
            before = _skip_space_back(code, opening - 1)
            # "x[…]" and "f(…)" continue the chain; a bare "[…]" or "(…)" starts it
            if before >= 0 and (_is_name_char(code[before]) or code[before] in ")]"):
                index = before
                continue
            break
        if _is_name_char(char):
            while index >= 0 and _is_name_char(code[index]):
                index -= 1
            start = index + 1
            before = _skip_space_back(code, index)
            if before >= 0 and code[before] == ".":
                index = _skip_space_back(code, before - 1)
                continue
        break
    return start


def macro_calls(code: str) -> tuple[MacroCall, ...]:
    """Every macro call in ``code`` (strings blanked), in source order."""
    calls = []
    for match in _MACRO.finditer(code):
        dot = match.start()
        open_paren = code.index("(", match.start(1))
        calls.append(
            MacroCall(
                name=match.group(1),
                var=match.group(2),
                receiver_start=receiver_start(code, dot),
                dot=dot,
                open=open_paren,
                close=matching(code, open_paren),
            )
        )
    return tuple(calls)


def enclosing(calls: tuple[MacroCall, ...], offset: int) -> tuple[MacroCall, ...]:
    """The macros whose bodies contain ``offset``, outermost first."""
    return tuple(call for call in calls if call.body_contains(offset))
