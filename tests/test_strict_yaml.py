"""The strict YAML reader: no silent surprises, bounded work, a position for every value."""

from __future__ import annotations

import pytest

from engine.definition import strict_yaml
from engine.definition.strict_yaml import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    Document,
    YamlProblems,
    format_path,
    parse_yaml,
)


def _problems(text: str | bytes) -> list[str]:
    """Every problem ``parse_yaml`` reports for ``text``, as printed (file ``f.yaml``)."""
    with pytest.raises(YamlProblems) as caught:
        parse_yaml(text, "f.yaml")
    return [str(p) for p in caught.value.problems]


def test_plain_values_keep_their_types() -> None:
    """Integers, text, true/false and null read as themselves."""
    doc = parse_yaml("a: 12\nb: text\nc: true\nd: false\ne: ~\nf: null\ng:\nh: 1_000\n", "f.yaml")
    assert doc.value == {
        "a": 12,
        "b": "text",
        "c": True,
        "d": False,
        "e": None,
        "f": None,
        "g": None,
        "h": 1000,
    }


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "True", "FALSE", "Yes"])
def test_only_true_and_false_are_booleans(word: str) -> None:
    """YAML 1.1's yes/no/on/off (and capitalised forms) stay text."""
    assert parse_yaml(f"a: {word}\n", "f.yaml").value == {"a": word}


@pytest.mark.parametrize("word", ["2024-01-01", "0x1F", "0o17", "1e3", "Null", "=", "<<x"])
def test_other_yaml_1_1_forms_stay_text(word: str) -> None:
    """No timestamps, hex, octal or exponent numbers are guessed from plain text."""
    assert parse_yaml(f"a: {word}\n", "f.yaml").value == {"a": word}


def test_quoted_numbers_are_text() -> None:
    """Quoting is how an author says "this is text": "012" and "0.6" are kept as written."""
    assert parse_yaml('a: "012"\nb: "0.6"\n', "f.yaml").value == {"a": "012", "b": "0.6"}


@pytest.mark.parametrize(("number", "fix"), [("012", "12"), ("-007", "7"), ("00", "0")])
def test_leading_zero_is_an_error(number: str, fix: str) -> None:
    """A leading zero (octal in YAML 1.1) is refused with the two ways to fix it."""
    assert _problems(f"a: {number}\n") == [
        f"f.yaml:1:4: a: {number} has a leading zero (YAML 1.1 reads it as octal): "
        f"quote it if it is text, or write {fix}"
    ]


@pytest.mark.parametrize("number", ["0.6", "1.", ".5", "-2.5e3", ".inf", "-.inf", ".nan"])
def test_decimal_numbers_are_errors(number: str) -> None:
    """Counting is exact: floats are refused, pointing at fractions in quotes."""
    assert _problems(f"a: {number}\n") == [
        f"f.yaml:1:4: a: {number} is a decimal number; yishi counts exactly: "
        'write an integer or a fraction in quotes such as "3/5"'
    ]


def test_eighteen_digits_are_allowed_nineteen_are_not() -> None:
    """Integers fit in 18 digits (CEL's 64-bit integers hold them all)."""
    assert parse_yaml("a: 999999999999999999\n", "f.yaml").value == {"a": 999_999_999_999_999_999}
    assert _problems("a: 1000000000000000000\n") == [
        "f.yaml:1:4: a: the number 1000000000000000000 has 19 digits; integers have at most 18"
    ]


def test_duplicate_key_is_an_error_naming_the_first() -> None:
    """A later duplicate would silently win in PyYAML; here it is refused."""
    assert _problems("a: 1\nb:\n  c: 1\n  c: 2\n") == [
        "f.yaml:4:3: b.c: duplicate key 'c' (first defined on line 3); "
        "a later value would silently replace the earlier one"
    ]


def test_a_lone_surrogate_escape_is_an_error_where_it_is_written() -> None:
    """Rule: "\\ud800" escapes half a surrogate pair, which no record, response or file can
    hold (it once stored a procedure and then answered 500); value and key are refused."""
    assert _problems('title: "x\\ud800"\n"\\udfff": 1\n') == [
        "f.yaml:1:8: title: the escape \\ud800 is half of a surrogate pair, not a character: "
        "write the character itself",
        "f.yaml:2:1: the escape \\udfff is half of a surrogate pair, not a character: "
        "write the character itself",
    ]


def test_merge_key_is_an_error() -> None:
    """``<<`` merges are refused: every key is written out where it applies."""
    assert _problems("base: &b\n  x: 1\nother:\n  <<: *b\n  y: 2\n") == [
        "f.yaml:4:3: other: merge keys (<<) are not supported: write the keys out"
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('!!python/object/apply:os.system ["echo"]', "!!python/object/apply:os.system"),
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!include other.yaml", "!include"),
    ],
)
def test_explicit_tags_are_errors(value: str, shown: str) -> None:
    """Tags are never constructed: any tag outside the core schema is refused."""
    assert _problems(f"a: {value}\n") == [
        f"f.yaml:1:4: a: tag {shown} is not allowed: yishi reads plain YAML values only"
    ]


def test_core_tags_are_allowed() -> None:
    """``!!str 12`` is plain YAML for the text "12"."""
    assert parse_yaml("a: !!str 12\n", "f.yaml").value == {"a": "12"}


def test_every_problem_is_reported_at_once() -> None:
    """Problems are collected, not raised one at a time."""
    assert _problems("a: 012\nb: 0.5\nb: 3\n") == [
        "f.yaml:1:4: a: 012 has a leading zero (YAML 1.1 reads it as octal): "
        "quote it if it is text, or write 12",
        "f.yaml:2:4: b: 0.5 is a decimal number; yishi counts exactly: "
        'write an integer or a fraction in quotes such as "3/5"',
        "f.yaml:3:1: b: duplicate key 'b' (first defined on line 2); "
        "a later value would silently replace the earlier one",
    ]


def test_two_documents_are_an_error() -> None:
    """One file holds one procedure."""
    assert _problems("a: 1\n---\nb: 2\n") == [
        "f.yaml:2:1: YAML syntax: a procedure file holds one YAML document; remove the second '---'"
    ]


def test_syntax_error_is_located() -> None:
    """PyYAML's message is kept, with the position it found."""
    assert _problems("a: [1, 2\nb: 3\n") == [
        "f.yaml:2:2: YAML syntax: while parsing a flow sequence expected ',' or ']', but got ':'"
    ]


def test_empty_file_is_an_error() -> None:
    """A file with only comments holds no procedure."""
    assert _problems("# nothing\n") == ["f.yaml:1:1: the file is empty"]


def test_aliases_within_limits_are_expanded() -> None:
    """Anchors and aliases are ordinary YAML and work (the seed procedures share payloads)."""
    doc = parse_yaml("a: &p {x: 1}\nb: *p\n", "f.yaml")
    assert doc.value == {"a": {"x": 1}, "b": {"x": 1}}


def test_alias_bomb_is_refused_by_the_expansion_limit() -> None:
    """A billion-laughs file stops at MAX_NODES values, naming the key that blew up."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    assert _problems("\n".join(lines) + "\n") == [
        f"f.yaml:5:1: e: the document expands to more than {MAX_NODES} values "
        "(an alias bomb?); procedures are far smaller than this"
    ]


def test_nesting_at_the_limit_is_allowed_one_deeper_is_not() -> None:
    """Depth is bounded at MAX_DEPTH; the error names the key holding the deep value."""
    ok = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    too_deep = "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    assert parse_yaml(ok, "f.yaml").value["a"] is not None
    assert _problems(too_deep) == [
        f"f.yaml:1:{4 + MAX_DEPTH}: a: values are nested more than {MAX_DEPTH} levels deep"
    ]


@pytest.mark.parametrize("depth", [20_000, 40_000, 300_000])
def test_very_deep_nesting_is_refused_where_the_reader_stopped_without_crashing(
    depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nesting past the 1,000 levels libyaml reads is refused at the bracket where it
    stopped, and the text is not read again by the pure-Python composer: that one's
    scanner is quadratic in the depth (20,000 levels cost seconds) and at 40,000 levels
    the process crashed (a segmentation fault), from a 80 KB file anyone may upload."""

    def not_again(text: str) -> None:
        raise AssertionError("a text libyaml refused as too deep was read again")

    monkeypatch.setattr(strict_yaml, "_StrictComposer", not_again)
    assert _problems("a: " + "[" * depth + "]" * depth + "\n") == [
        f"f.yaml:1:1003: values are nested more than {MAX_DEPTH} levels deep"
    ]


def test_file_size_is_bounded() -> None:
    """Files over MAX_BYTES are refused before parsing."""
    text = "a: " + "x" * MAX_BYTES + "\n"
    assert _problems(text) == [
        f"f.yaml:1:1: the file is {len(text)} bytes; procedures are limited to {MAX_BYTES} bytes"
    ]


def test_non_utf8_bytes_are_refused() -> None:
    """Procedures are UTF-8 text; the first bad byte is named."""
    assert _problems(b"a: \xff\n") == ["f.yaml:1:1: the file is not UTF-8 text (byte 3)"]


def test_positions_of_values_and_keys() -> None:
    """Every path has a 1-based position; keys have their own; unknown paths use a parent."""
    doc: Document = parse_yaml("top:\n  list:\n    - x\n    - {k: v}\n", "f.yaml")
    item = doc.locate(("top", "list", 1, "k"))
    key = doc.locate(("top", "list"), key=True)
    missing = doc.locate(("top", "list", 1, "nope"))
    assert (item.line, item.column, item.path) == (4, 11, "top.list[1].k")
    assert (key.line, key.column) == (2, 3)
    assert (missing.line, missing.column, missing.path) == (4, 7, "top.list[1].nope")


def test_format_path() -> None:
    """Paths read the way users write them: dotted keys, bracketed indices."""
    assert (
        format_path(("events", "vote", "transitions", 0, "to")) == "events.vote.transitions[0].to"
    )
    assert format_path(()) == ""


@pytest.mark.parametrize(
    ("text", "where", "shown"),
    [
        ("id: a\x00b\n", "1:6", "a NUL character (U+0000)"),
        ("a: 1\nb: \x00\n", "2:4", "a NUL character (U+0000)"),
        ("\x00", "1:1", "a NUL character (U+0000)"),
        ("a: bell\x07\n", "1:8", "the character U+0007"),
        ("a: \x7f\n", "1:4", "the character U+007F"),
        ("a: \ufffe\n", "1:4", "the character U+FFFE"),
        ("a: \ud800\n", "1:4", "the character U+D800"),
    ],
    ids=["nul", "nul-line-2", "only-nul", "bell", "del", "non-character", "lone-surrogate"],
)
def test_characters_yaml_forbids_are_located_problems(text: str, where: str, shown: str) -> None:
    """Rule: NUL and other characters YAML forbids are one problem at their line and
    column, never a ReaderError escaping (the regression of composing with libyaml);
    a lone surrogate, possible in text not read from a file, too."""
    assert _problems(text) == [f"f.yaml:{where}: {shown} is not allowed in YAML text; remove it"
                               + (" (editors often show it as ^@ or not at all)"
                                  if "NUL" in shown else "")]  # fmt: skip


def test_a_byte_order_mark_in_utf8_is_accepted() -> None:
    """Rule: a UTF-8 byte-order mark (some editors write one) is not part of the text."""
    assert parse_yaml("\ufeffid: x\n", "f.yaml").value == {"id": "x"}
