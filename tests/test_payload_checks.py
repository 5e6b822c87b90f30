"""Specification: payload and data checks are compiled once per schema content per process,
and their fast path changes no verdict.

Compiling a validator costs milliseconds; every runner (a new engine, replay, a what-if, a
server re-loading a version) needs one per event. ``schema_check`` shares one check per
schema content, and the sharing never mixes up schemas that differ, even where Python
calls their values equal (1 and true), and stays bounded. ``jsonschema_rs`` is asked
first where a schema uses only the keywords it reads as ``fastjsonschema`` does; what it
accepts, ``fastjsonschema`` and ``jsonschema`` accept alone.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.definition.loader import load_procedure
from engine.runtime import payloads
from engine.runtime.payloads import SchemaCheck, schema_check

ROOT = Path(__file__).resolve().parent.parent


def test_the_same_schema_content_gets_the_same_check() -> None:
    """Two spellings of one schema (another key order, a tuple for a list) share a check."""
    first = schema_check({"type": "object", "required": ["n"], "properties": {"n": {}}})
    second = schema_check({"properties": {"n": {}}, "required": ("n",), "type": "object"})

    assert first is second
    assert first.violations({"n": 1}) == []


def test_schemas_python_calls_equal_keep_their_own_checks() -> None:
    """``const: 1`` and ``const: true`` are different schemas: each refuses the other's value."""
    one = schema_check({"const": 1})
    true = schema_check({"const": True})

    assert one is not true
    assert (one.violations(1), true.violations(True)) == ([], [])
    assert one.violations(True) and true.violations(1)


def test_the_shared_checks_are_bounded() -> None:
    """Beyond SHARED_CHECKS schemas the least recently used is dropped (and rebuilt on use)."""
    kept = schema_check({"type": "integer", "minimum": -1})
    for n in range(payloads.SHARED_CHECKS):
        schema_check({"type": "integer", "minimum": n})

    assert len(payloads._shared) == payloads.SHARED_CHECKS
    again = schema_check({"type": "integer", "minimum": -1})
    assert again is not kept
    assert again.violations(-2) and not again.violations(-1)


# -- the Rust fast path (jsonschema_rs) never changes a verdict or a violation ----------------

_PLAIN_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "required": ["n"],
        "additionalProperties": False,
        "properties": {
            "n": {"type": "integer", "minimum": 0, "maximum": 10, "title": "件数"},
            "s": {"type": "string", "minLength": 2, "maxLength": 3},
            "a": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
            "o": {
                "type": "object",
                "maxProperties": 1,
                "additionalProperties": {"type": "boolean"},
            },
            "e": {"enum": [1, "x", None]},
        },
    },
    {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "n": {"type": ["integer", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 5},
            "e": {"const": True},
            "a": {"items": {"type": "number"}},
        },
    },
]


@functools.cache
def _checks() -> list[tuple[SchemaCheck, SchemaCheck]]:
    """For each schema above and each bundled schema that takes the Rust path: its check,
    and a check of the same schema without the Rust path."""
    schemas = list(_PLAIN_SCHEMAS)
    for path in sorted((ROOT / "procedures").glob("*.yaml")):
        procedure = load_procedure(path).procedure
        events = procedure.events.values()
        schemas += [procedure.data_schema, *(e.payload_schema for e in events)]
    pairs = []
    for schema in schemas:
        check = schema_check(schema)
        if check._valid is not None:
            alone = SchemaCheck(schema)
            alone._valid = None
            pairs.append((check, alone))
    return pairs


class _Text(str):
    """A ``str`` subclass: a value ``jsonschema_rs`` cannot read."""


_LEAVES = (
    st.integers(min_value=-3, max_value=12)
    | st.sampled_from([2**70, -(2**70), 2.0, 2.5, float("nan"), True, False, None])
    | st.text(st.sampled_from(["a", "议", "𠀋", "\ud800"]), max_size=4)
    | st.sampled_from([_Text("ab"), MappingProxyType({"k": True}), (1, 2), {1: 2}])
)


@functools.cache
def _values_like(index: int) -> st.SearchStrategy[Any]:
    """Values shaped like the schema of ``_checks()[index]``, built once: a strategy built
    afresh at each draw is validated again by Hypothesis, most of this test's time."""
    check, _ = _checks()[index]
    keys = [*check.schema.get("properties", {}), "other"]
    values = st.recursive(
        _LEAVES,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["k", "b", *keys]), inner, max_size=3)
        ),
        max_leaves=8,
    )
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys)) | values


@st.composite
def _checked_value(draw: st.DrawFn) -> tuple[SchemaCheck, SchemaCheck, Any]:
    """A check with the Rust path, the same without it, and a value shaped like its schema."""
    index = draw(st.sampled_from(range(len(_checks()))))
    check, alone = _checks()[index]
    return check, alone, draw(_values_like(index))


@given(_checked_value())
@settings(max_examples=500)
def test_the_rust_fast_path_changes_no_verdict(case: tuple[SchemaCheck, SchemaCheck, Any]) -> None:
    """Rule: with ``jsonschema_rs`` asked first, every value gets the very violations (none
    included) that ``fastjsonschema`` and ``jsonschema`` alone give it: odd values (a
    ``str`` subclass, a mapping proxy, a key that is not a string, 2**70, NaN, a lone
    surrogate) included."""
    check, alone, value = case

    assert check.violations(value) == alone.violations(value)


def test_the_bundled_meeting_payloads_and_data_take_the_rust_path() -> None:
    """Rule: the schemas of the engine's hot path use only the keywords the Rust check reads
    (else the speed bench/engine_bench.py measures would not be the engine's), and so do
    most bundled schemas."""
    procedure = load_procedure(ROOT / "procedures" / "four-deliberations-two-disclosures.yaml")
    schemas = [
        procedure.procedure.data_schema,
        procedure.procedure.events["propose"].payload_schema,
    ]

    assert all(schema_check(s)._valid is not None for s in schemas)
    assert len(_checks()) >= 20


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "date"},
        {"type": "string", "pattern": "^[0-9]+$"},
        {"type": "object", "properties": {"d": {"$ref": "#/$defs/d"}}, "$defs": {"d": {}}},
        {"type": "array", "uniqueItems": True},
        {"type": "object", "dependentRequired": {"a": ["b"]}},
        {"type": "object", "properties": {"n": {"x-yishi": 1}}},
    ],
)
def test_other_keywords_keep_their_schema_on_fastjsonschema(schema: dict[str, Any]) -> None:
    """Rule: a schema with a keyword the two libraries may read differently (formats,
    patterns, references, unique items, 2020-12 keywords, unknown ones) is not given to
    ``jsonschema_rs``."""
    assert SchemaCheck(schema)._valid is None
