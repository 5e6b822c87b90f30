"""A strict YAML reader that remembers where every value came from.

PyYAML's ``safe_load`` lets a duplicate key silently win, turns ``yes``/``off``
into booleans, reads ``012`` as 10 and expands aliases without limit. Procedures
are legal texts turned into software, so none of that is acceptable here:

* only ``true`` and ``false`` are booleans; ``yes``/``no``/``on``/``off`` stay text;
* integers with leading zeros and all floats are errors (exact arithmetic);
* duplicate keys, merge keys (``<<``), explicit tags and multiple documents are errors;
* file size, nesting depth and the number of nodes after alias expansion are bounded,
  so a "billion laughs" file is refused quickly.

The result keeps a position for every path so later stages can report
``file:line:col: path: message``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import Problem, SourceLocation
from engine.errors import YamlProblems as YamlProblems

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_DIGITS = 18

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SURROGATE = re.compile("[\ud800-\udfff]")
_FLOAT = "tag:yaml.org,2002:float"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_ALLOWED_TAGS = {_STR, _INT, _BOOL, _NULL, _FLOAT, _MAP, _SEQ}


class _StrictResolver(yaml.resolver.BaseResolver):
    """Resolves plain scalars the way a careful reader would, YAML-1.2 style."""


_StrictResolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|false)$"), list("tf"))
_StrictResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|)$"), ["~", "n", ""])
_StrictResolver.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?[0-9][0-9_]*$"), list("-+0123456789")
)
_StrictResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|nan)$"
    ),
    list("-+0123456789."),
)


class _StrictComposer(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _StrictResolver,
):
    """Composes a node graph; values are built by ``_Builder`` below, not by PyYAML."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _StrictResolver.__init__(self)


# libyaml reads about ten times faster than the pure-Python reader, with the same marks.
_WITH_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


def _compose(text: str) -> Any:
    """The node graph of ``text``, composed by libyaml when PyYAML has it.

    When libyaml reports an error, the pure-Python composer reads the text again and
    has the last word: its messages say what it found (e.g. "but got ':'"), and deep
    nesting is refused by our own limit rather than by libyaml's.

    Raises:
        yaml.MarkedYAMLError: a syntax error, located.
        yaml.reader.ReaderError: a character YAML does not allow (NUL, controls).
        RecursionError: nesting too deep for the Python composer.
    """
    if not _WITH_LIBYAML:  # pragma: no cover
        return _StrictComposer(text).get_single_node()
    try:
        return _StrictCComposer(text).get_single_node()
    except yaml.MarkedYAMLError as exc:
        if _LIBYAML_TOO_DEEP in str(exc.problem):
            # libyaml stops nesting at 1,000 levels. The Python composer must not read
            # such a text again: its scanner is quadratic in the depth (20,000 levels:
            # seconds) and deeper still it crashed the process.
            raise _TooDeep(exc.problem_mark) from exc
        return _StrictComposer(text).get_single_node()
    except (yaml.YAMLError, UnicodeEncodeError):
        # UnicodeEncodeError: libyaml takes UTF-8, so a lone surrogate stops it before
        # it reads anything; the Python reader refuses that character with a position.
        return _StrictComposer(text).get_single_node()


_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"
"""libyaml's words when a text nests deeper than it will read."""


class _TooDeep(Exception):
    """libyaml refused the nesting at ``mark``; the text is not read again."""

    def __init__(self, mark: Any) -> None:
        super().__init__("too deep")
        self.mark = mark


if _WITH_LIBYAML:
    from yaml._yaml import CParser

    class _StrictCComposer(CParser, _StrictResolver):
        """libyaml's composer resolving plain scalars as ``_StrictResolver`` does."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _StrictResolver.__init__(self)


def format_path(path: Path) -> str:
    """Render a key path the way users read it: ``events.propose.transitions[0].to``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A parsed YAML document: plain Python values plus where each path starts."""

    file: str
    value: Any
    positions: Mapping[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: Mapping[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> SourceLocation:
        """Best location for ``path``: its key (if asked), its value, or its nearest parent."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while True:
            where = table.get(probe) or self.positions.get(probe)
            if where is not None or not probe:
                break
            probe = probe[:-1]
        line, column = where or (1, 1)
        return SourceLocation(file=self.file, line=line, column=column, path=format_path(path))


class _TooBig(Exception):
    """A limit was exceeded while building ``path`` (which starts at ``line``:``column``)."""

    def __init__(self, message: str, path: Path, line: int, column: int) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[Path, tuple[int, int]] = {}
        self.key_positions: dict[Path, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.nodes = 0

    def problem(self, node: yaml.Node, path: Path, message: str, code: str) -> None:
        mark = node.start_mark
        loc = SourceLocation(
            file=self.file, line=mark.line + 1, column=mark.column + 1, path=format_path(path)
        )
        self.problems.append(Problem(location=loc, message=message, code=code))

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            # Blame the top-level key whose value blew up (aliases make deeper marks useless).
            top = path[:1]
            line, column = self.key_positions.get(top, (1, 1))
            raise _TooBig(
                f"the document expands to more than {MAX_NODES} values "
                "(an alias bomb?); procedures are far smaller than this",
                top,
                line,
                column,
            )
        if depth > MAX_DEPTH:
            # Name the innermost key, not the long run of list indices below it.
            named = path
            while named and isinstance(named[-1], int):
                named = named[:-1]
            raise _TooBig(
                f"values are nested more than {MAX_DEPTH} levels deep",
                named[:8],
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _ALLOWED_TAGS:
            # Show the tag as written: !!python/… rather than tag:yaml.org,2002:python/….
            shown = node.tag.replace("tag:yaml.org,2002:", "!!", 1)
            self.problem(
                node,
                path,
                f"tag {shown} is not allowed: yishi reads plain YAML values only",
                "yaml.tag",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (
                isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<"
            ):
                self.problem(
                    key_node,
                    path,
                    "merge keys (<<) are not supported: write the keys out",
                    "yaml.merge",
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, path, "keys must be plain text", "yaml.key")
                continue
            key = str(key_node.value)
            child = (*path, key)
            self._no_surrogate(key_node, path, key)
            if key in seen:
                self.problem(
                    key_node,
                    child,
                    f"duplicate key {key!r} (first defined on line {seen[key]}); "
                    "a later value would silently replace the earlier one",
                    "yaml.duplicate-key",
                )
                continue
            seen[key] = key_node.start_mark.line + 1
            self.key_positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def _no_surrogate(self, node: yaml.Node, path: Path, text: str) -> None:
        """A lone surrogate (from an escape such as "\\ud800") is no character: no record
        or response could hold it, so it is refused where it is written."""
        found = _SURROGATE.search(text)
        if found is not None:
            self.problem(
                node,
                path,
                f"the escape \\u{ord(found.group()):04x} is half of a surrogate pair, not a "
                "character: write the character itself",
                "yaml.surrogate",
            )

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        text = str(node.value)
        if node.tag == _STR:
            self._no_surrogate(node, path, text)
            return text
        if node.tag == _BOOL:
            return text == "true"
        if node.tag == _NULL:
            return None
        if node.tag == _INT:
            digits = text.lstrip("+-").replace("_", "")
            if len(digits) > 1 and digits.startswith("0"):
                self.problem(
                    node,
                    path,
                    f"{text} has a leading zero (YAML 1.1 reads it as octal): "
                    f"quote it if it is text, or write {int(digits)}",
                    "yaml.leading-zero",
                )
                return text
            if len(digits) > MAX_DIGITS:
                self.problem(
                    node,
                    path,
                    f"the number {text} has {len(digits)} digits; "
                    f"integers have at most {MAX_DIGITS}",
                    "yaml.huge-number",
                )
                return text
            return int(text.replace("_", ""))
        self.problem(
            node,
            path,
            f"{text} is a decimal number; yishi counts exactly: "
            'write an integer or a fraction in quotes such as "3/5"',
            "yaml.float",
        )
        return text


def _unreadable(text: str, file: str, exc: yaml.reader.ReaderError) -> Problem:
    """A located problem for a character YAML does not allow (NUL, other controls)."""
    position = max(0, min(exc.position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character
    code = ord(character) if isinstance(character, str) and len(character) == 1 else character
    shown = f"U+{code:04X}" if isinstance(code, int) else repr(code)
    if code == 0:
        message = (
            f"a NUL character ({shown}) is not allowed in YAML text; remove it "
            "(editors often show it as ^@ or not at all)"
        )
    else:
        message = f"the character {shown} is not allowed in YAML text; remove it"
    loc = SourceLocation(file=file, line=line, column=column)
    return Problem(location=loc, message=message, code="yaml.control-character")


def parse_yaml(text: str | bytes, file: str) -> Document:
    """Parse one YAML document strictly.

    Args:
        text: the file's contents.
        file: the name used in problem locations.

    Returns:
        The document with its values and positions.

    Raises:
        YamlProblems: with every problem found (syntax, duplicates, traps, limits).
    """
    # surrogatepass: a lone surrogate (possible in text that did not come from a file)
    # is then refused below as a character YAML does not allow, not as a crash here.
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > MAX_BYTES:
        loc = SourceLocation(file=file, line=1, column=1)
        msg = f"the file is {size} bytes; procedures are limited to {MAX_BYTES} bytes"
        raise YamlProblems([Problem(location=loc, message=msg, code="yaml.too-big")])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            loc = SourceLocation(file=file, line=1, column=1)
            msg = f"the file is not UTF-8 text (byte {exc.start})"
            raise YamlProblems([Problem(location=loc, message=msg, code="yaml.encoding")]) from exc
    builder = _Builder(file)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        if "but found another document" in what:
            what = "a procedure file holds one YAML document; remove the second '---'"
        loc = SourceLocation(file=file, line=line, column=col)
        raise YamlProblems(
            [Problem(location=loc, message=f"YAML syntax: {what}", code="yaml.syntax")]
        ) from exc
    except yaml.reader.ReaderError as exc:
        # Raised before any mark exists (NUL and other control characters); its
        # position is an index into the text, turned here into line and column.
        raise YamlProblems([_unreadable(text, file, exc)]) from exc
    except (RecursionError, _TooDeep) as exc:
        mark = exc.mark if isinstance(exc, _TooDeep) else None
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        loc = SourceLocation(file=file, line=line, column=col)
        msg = f"values are nested more than {MAX_DEPTH} levels deep"
        raise YamlProblems([Problem(location=loc, message=msg, code="yaml.too-deep")]) from exc
    if node is None:
        loc = SourceLocation(file=file, line=1, column=1)
        raise YamlProblems([Problem(location=loc, message="the file is empty", code="yaml.empty")])
    try:
        value = builder.build(node, ())
    except _TooBig as exc:
        loc = SourceLocation(
            file=file, line=exc.line, column=exc.column, path=format_path(exc.path)
        )
        raise YamlProblems([Problem(location=loc, message=str(exc), code="yaml.limit")]) from exc
    if builder.problems:
        raise YamlProblems(builder.problems)
    return Document(
        file=file,
        value=value,
        positions=builder.positions,
        key_positions=builder.key_positions,
    )
