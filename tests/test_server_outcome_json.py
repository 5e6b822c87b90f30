"""Specification: outcomes are written with orjson, in exactly ``JSONResponse``'s bytes.

``routes_cases.OutcomeJSON`` renders an outcome (or a refusal's problem) with orjson
for speed; an API answer must not change a byte for it. Every value an outcome can
hold (no floats: records refuse them) is written alike, and what orjson refuses
takes ``JSONResponse``'s road, its errors included.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from engine.server.routes_cases import OutcomeJSON

PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(alphabet=st.characters(exclude_categories=("Cs",))), inner)
    ),
    max_leaves=20,
)
"""JSON values without floats: what an outcome holds (integers beyond 64 bits included)."""


def _both(content: Any) -> tuple[bytes, bytes]:
    return bytes(OutcomeJSON(content).body), bytes(JSONResponse(content).body)


@settings(max_examples=300)
@given(PLAIN)
def test_every_plain_value_is_written_in_jsonresponses_bytes(content: Any) -> None:
    """Strings of any code point, integers of any size, nesting: the same bytes."""
    ours, theirs = _both(content)
    assert theirs == ours


def test_what_orjson_cannot_write_takes_jsonresponses_road() -> None:
    """An integer beyond 64 bits and a key that is not a string are written as
    JSONResponse writes them; a lone surrogate fails as it fails there."""
    for content in ({"n": 2**64 + 1}, {1: "one"}):
        ours, theirs = _both(content)
        assert theirs == ours
    with pytest.raises(UnicodeEncodeError):
        JSONResponse({"s": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        OutcomeJSON({"s": "\ud800"})
