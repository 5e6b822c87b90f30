"""Specification: payload and data checks are compiled once per schema content per process.

Compiling a validator costs milliseconds; every runner (a new engine, replay, a what-if, a
server re-loading a version) needs one per event. ``schema_check`` shares one check per
schema content, and the sharing never mixes up schemas that differ, even where Python
calls their values equal (1 and true), and stays bounded.
"""

from __future__ import annotations

from engine.runtime import payloads
from engine.runtime.payloads import schema_check


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
