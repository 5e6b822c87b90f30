"""CEL guards: compiled once at load time, checked, never Python (engine.guards.cel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.guards.cel import (
    MAX_EXPRESSION_LENGTH,
    CelCheckError,
    CelRuntimeError,
    compile_cel,
    field_paths,
)


def _refusal(source: str) -> CelCheckError:
    with pytest.raises(CelCheckError) as caught:
        compile_cel(source)
    return caught.value


def test_compiles_and_evaluates_over_data_payload_and_actor() -> None:
    """A compiled expression reads data, payload and actor and gives a CEL value."""
    expression = compile_cel('payload.yes <= data.members && "chair" in actor.roles')
    env = {"data": {"members": 7}, "payload": {"yes": 5}, "actor": {"id": "a", "roles": ["chair"]}}
    assert expression.evaluate(env) is True
    assert sorted(expression.variables) == ["actor", "data", "payload"]
    assert expression.fields == ("actor.roles", "data.members", "payload.yes")


def test_macro_bound_names_are_not_unknown_variables() -> None:
    """``exists(m, …)`` binds m; only free names must be data, payload, actor or now."""
    expression = compile_cel("data.members.exists(m, m > 3)")
    assert expression.evaluate({"data": {"members": [1, 5]}}) is True
    assert expression.fields == ("data.members",)


def test_field_paths_skip_strings_methods_and_whitespace() -> None:
    """Fields are read from code only: not from string literals, not method names."""
    source = 'payload . yes <= data.x && "data.y" == actor.id && data.tally.size() > 0'
    assert field_paths(source) == ("actor.id", "data.tally", "data.x", "payload.yes")


def test_runtime_errors_are_reported_not_raised_as_python_errors() -> None:
    """A missing field or an overflow is a CelRuntimeError naming the expression."""
    expression = compile_cel("payload.n + 1 > 0")
    with pytest.raises(CelRuntimeError) as missing:
        expression.evaluate({"payload": {}})
    with pytest.raises(CelRuntimeError) as overflow:
        expression.evaluate({"payload": {"n": 2**63 - 1}})
    assert missing.value.source == "payload.n + 1 > 0"
    assert "overflow" in overflow.value.message.lower()


def test_expression_at_the_length_limit_compiles() -> None:
    """The limit is inclusive: exactly MAX_EXPRESSION_LENGTH characters are allowed."""
    head = "payload.yes == 1"
    source = head + " " * (MAX_EXPRESSION_LENGTH - len(head))
    assert len(compile_cel(source).source) == MAX_EXPRESSION_LENGTH


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        (
            '__import__("os").system("touch x")',
            "unknown function '__import__': only CEL's standard functions are available",
            1,
            1,
        ),
        (
            "_evil_(payload.x)",
            "unknown function '_evil_': only CEL's standard functions are available",
            1,
            1,
        ),
        (
            "payload.x.system() && exec(1)",
            "unknown function 'system': only CEL's standard functions are available",
            1,
            11,
        ),
        ("().__class__.__bases__", "CEL syntax: unexpected ')'", 1, 2),
        ("(lambda x: x)(1) > 0", "CEL syntax: unexpected 'x'", 1, 9),
        ("payload.x ** 99999", "CEL syntax: unexpected '*'", 1, 12),
        ("payload.x ==", "CEL syntax: the expression ends too early", 1, 13),
        ("[1, 2", "CEL syntax: the expression ends too early (expected ']' or ',')", 1, 6),
        ("payload.x &&\n  * 2", "CEL syntax: unexpected '*'", 2, 3),
        (
            "payloads.x > 1",
            "unknown variable 'payloads': expressions may read actor, data, now, payload; "
            "did you mean 'payload'?",
            1,
            1,
        ),
        (
            "os.system('x')",
            "unknown variable 'os': expressions may read actor, data, now, payload",
            1,
            1,
        ),
        (
            "double(payload.x) > 1",
            "double() is not allowed; yishi counts exactly with integers",
            1,
            1,
        ),
        (
            "payload.yes > 0.5 * payload.present",
            "decimal number 0.5 is not allowed; yishi counts exactly: compare integers instead, "
            "e.g. 5 * yes < 3 * total for 'below 60 %'",
            1,
            15,
        ),
        (
            "payload.yes > 1e3",
            "decimal number 1e3 is not allowed; yishi counts exactly: compare integers instead, "
            "e.g. 5 * yes < 3 * total for 'below 60 %'",
            1,
            15,
        ),
        (
            "payload.x == 1 || " * 200 + "true",
            f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters",
            1,
            1,
        ),
    ],
    ids=[
        "import",
        "underscored-name-is-not-an-operator",
        "method",
        "dunder-bases",
        "lambda",
        "power",
        "ends-early",
        "unclosed-list",
        "second-line",
        "unknown-variable",
        "python-module",
        "double",
        "decimal",
        "exponent",
        "too-long",
    ],
)
def test_escape_attempts_and_inexact_numbers_are_refused_at_load_time(
    source: str, message: str, line: int, column: int
) -> None:
    """No Python, no unknown names, no floats: each refusal says why and where (1-based)."""
    error = _refusal(source)
    assert (error.message, error.line, error.column) == (message, line, column)


def test_decimal_inside_a_string_is_just_text() -> None:
    """Only code is checked for decimals: "0.5" in a string literal is fine."""
    assert compile_cel('payload.note == "0.5"').evaluate({"payload": {"note": "0.5"}}) is True


def test_refused_expression_never_runs(tmp_path: Path) -> None:
    """A hostile expression is refused before anything could execute it."""
    marker = tmp_path / "pwned"
    _refusal(f'__import__("os").system("touch {marker}") == 0')
    assert not marker.exists()


_EACH_FUNCTION = {
    "size": "size('ab') == 2",
    "has": "has(payload.a)",
    "int": "int('3') == 3",
    "uint": "uint(3) == 3u",
    "string": "string(3) == '3'",
    "bytes": "bytes('a') == b'a'",
    "timestamp": "timestamp('2024-01-01T00:00:00Z') < now",
    "duration": "duration('1h') == duration('60m')",
    "type": "type(1) == type(2)",
    "dyn": "dyn(1) == 1",
    "matches": "'ab'.matches('^a')",
    "contains": "'ab'.contains('a')",
    "startsWith": "'ab'.startsWith('a')",
    "endsWith": "'ab'.endsWith('b')",
    "all": "[1].all(i, i > 0)",
    "exists": "[1].exists(i, i > 0)",
    "exists_one": "[1].exists_one(i, i > 0)",
    "map": "[1].map(i, i * 2) == [2]",
    "filter": "[1, 2].filter(i, i > 1) == [2]",
    "getFullYear": "now.getFullYear() == 2024",
    "getMonth": "now.getMonth() == 2",
    "getDate": "now.getDate() == 1",
    "getDayOfMonth": "now.getDayOfMonth() == 0",
    "getDayOfWeek": "now.getDayOfWeek() == 5",
    "getDayOfYear": "now.getDayOfYear() == 60",
    "getHours": "now.getHours() == 0",
    "getMinutes": "now.getMinutes() == 0",
    "getSeconds": "now.getSeconds() == 0",
}


def test_every_allowed_function_runs_in_the_cel_core() -> None:
    """Each function the load-time check accepts is one the CEL core provides: an
    accepted function that the core lacks would only fail when a case runs."""
    from datetime import UTC, datetime

    from engine.guards import cel as cel_module

    assert set(_EACH_FUNCTION) == set(cel_module._STANDARD_FUNCTIONS) - {"@in", "!_", "-_"}
    env = {"payload": {"a": 1}, "now": datetime(2024, 3, 1, tzinfo=UTC)}
    for name, source in _EACH_FUNCTION.items():
        assert compile_cel(source).evaluate(env) is True, name


def test_functions_the_core_lacks_are_refused_at_load_time() -> None:
    """``max``, ``lowerAscii`` and friends are not in the CEL core, so they are refused
    when the procedure loads rather than when a case runs."""
    for source in ("max(1, 2) == 2", "'A'.lowerAscii() == 'a'", "' a '.trim() == 'a'"):
        with pytest.raises(CelCheckError) as caught:
            compile_cel(source)
        assert "unknown function" in caught.value.message
