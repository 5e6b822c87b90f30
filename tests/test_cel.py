"""CEL guards: compiled once at load time, checked, never Python (engine.guards.cel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.guards.cel import (
    MAX_EXPRESSION_LENGTH,
    Bindings,
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
            "unknown function '__import__': docs/cel.md lists the functions yishi's CEL has",
            1,
            1,
        ),
        (
            "_evil_(payload.x)",
            "unknown function '_evil_': docs/cel.md lists the functions yishi's CEL has",
            1,
            1,
        ),
        (
            "payload.x.system() && exec(1)",
            "unknown function 'system': docs/cel.md lists the functions yishi's CEL has",
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


def test_every_dialect_entry_runs_in_the_cel_core_as_its_example_says() -> None:
    """One dialect: each entry of the table validate checks against is run by the CEL core
    with its documented example, which must hold; a name validate accepts but the core
    lacks would fail here, not in a case."""
    from datetime import datetime, timedelta, timezone

    from engine.guards.cel_dialect import TABLE

    now = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    env = {"payload": {"ballots": [3, 1, 2], "names": ["王", "李"]}, "now": now}
    for entry in TABLE:
        expression = compile_cel(entry.example)
        if entry.group != "macros":  # macros (has too) expand before references are listed
            assert entry.name in expression.program.references()["functions"], entry
        assert expression.evaluate(env) is True, entry


def test_functions_the_core_lacks_are_refused_at_load_time() -> None:
    """``lowerAscii``, ``trim`` and ``sort`` are not in the dialect, so they are refused
    when the procedure loads rather than when a case runs."""
    for source in ("'A'.lowerAscii() == 'a'", "' a '.trim() == 'a'", "[2, 1].sort() == [1, 2]"):
        with pytest.raises(CelCheckError) as caught:
            compile_cel(source)
        assert "unknown function" in caught.value.message


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        (
            'now.getHours("+08:00") >= 9',
            "getHours() takes no argument: time getters read the procedure's time_zone",
            5,
        ),
        ("now.getDayOfWeek('Asia/Shanghai') == 1", "getDayOfWeek() takes no argument", 5),
        ("max(1, 2) == 2", "max is called max(…), not with 2 arguments", 1),
        ("payload.xs.sum() == 2", "sum is called sum(…), not with 0 arguments", 12),
        ("payload.xs.all(x) == 2", "all is called x.all(…, …), not with 1 argument", 12),
        ("'a'.size(1) == 1", "size is called size(…) or x.size(), not with 1 argument", 5),
        ("getHours(now) == 1", "getHours is called x.getHours(), not with 1 argument", 1),
    ],
)
def test_calls_in_a_form_the_runtime_lacks_are_refused_at_load_time(
    source: str, message: str, column: int
) -> None:
    """One dialect: a call whose form (method or function, number of arguments) the
    runtime does not have is refused by validate, at the call's name."""
    with pytest.raises(CelCheckError) as caught:
        compile_cel(source)

    assert caught.value.message.startswith(message)
    assert (caught.value.line, caught.value.column) == (1, column)


def test_commas_and_parentheses_inside_text_do_not_count_as_arguments() -> None:
    """Argument counting ignores what is inside string literals."""
    assert compile_cel("'a,(b'.contains(',(') && now.getHours() >= 0").source


def test_list_helpers_sum_min_max_over_integers() -> None:
    """List helpers: sum of [] is 0; min/max of [] and lists of non-integers fail cleanly
    as guard errors; a sum beyond 64 bits is an error, never a wrong number."""
    env = {"payload": {"xs": [5, -2, 7], "empty": [], "words": ["a"], "big": [2**62, 2**62]}}

    assert compile_cel("sum(payload.xs) == 10 && min(payload.xs) == -2").evaluate(env)
    assert compile_cel("max(payload.xs) == 7 && sum(payload.empty) == 0").evaluate(env)
    for bad in (
        "min(payload.empty)",
        "max(payload.empty)",
        "sum(payload.words)",
        "sum(payload.big)",
    ):
        with pytest.raises(CelRuntimeError):
            compile_cel(bad + " == 0").evaluate(env)


def test_fields_read_outside_macros_are_bound_alone_and_answer_as_written() -> None:
    """``payload.yes`` is bound as a variable of its own (the core then converts an
    integer, not the whole payload); a missing field keeps CEL's own error, and an
    expression that reads a root whole still gets it."""
    expression = compile_cel("payload.yes <= payload.present")

    assert [parts for _, parts in expression.lifted] == [
        ("payload", "yes"),
        ("payload", "present"),
    ]
    assert expression.residual == ()
    assert expression.helpers is False
    assert expression.evaluate(Bindings(payload={"yes": 3, "present": 5})) is True
    assert expression.evaluate(Bindings(payload={"yes": 6, "present": 5})) is False
    with pytest.raises(CelRuntimeError, match="present"):
        expression.evaluate(Bindings(payload={"yes": 3}))
    whole = compile_cel("size(payload) == 2 && payload.yes > 0 && sum([payload.yes]) == 3")
    assert whole.residual == ("payload",)
    assert whole.helpers is True
    assert whole.evaluate(Bindings(payload={"yes": 3, "present": 5})) is True


def test_a_deferred_binding_is_computed_once_and_only_when_read() -> None:
    """``now`` is deferred by the runtime: an attempt whose expressions never read the
    time never works it out; one that does reads one value, computed once (``in``
    sees it from then on)."""
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 9

    env = Bindings(payload={"yes": 1}).defer("now", compute)
    assert compile_cel("payload.yes == 1").evaluate(env) is True
    assert calls == []
    assert "now" not in env
    assert compile_cel("now == 9").evaluate(env) is True
    assert compile_cel("now > 8").evaluate(env.rebind(payload={})) is True
    assert (env["now"], env.get("now"), env.get("later", 0), "now" in env) == (9, 9, 0, True)
    assert calls == [1]
