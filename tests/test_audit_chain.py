"""Canonical bytes, sealing and chain heads (engine.audit.canonical, .chain, .record)."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Any

import pytest
import rfc8785
from audit_samples import opened, sample_log, single
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.audit
from engine.audit import (
    GENESIS,
    MAX_SAFE_INT,
    ChainError,
    ChainHead,
    NotCanonicalizable,
    RecordInvalid,
    canonical_bytes,
    record_hash,
    record_problem,
    seal,
)
from engine.audit.record import _first_problem, _looks_valid

# Text with CJK, full-width punctuation, controls, quotes and characters beyond U+FFFF,
# where UTF-16 and code point order disagree.
_TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            ["一", "议", "，", "\ufffd", "\uff0c", "𠀋", "\U0001f600", '"', "\\", "\n"]
        ),
    ),
    max_size=8,
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.slow
@given(_JSON)
@settings(max_examples=300)
def test_canonical_bytes_equal_the_reference(value: Any) -> None:
    """Rule: the fast encoder writes exactly the bytes of rfc8785.dumps (RFC 8785)."""
    assert rfc8785.dumps(value) == canonical_bytes(value)


def test_keys_beyond_the_bmp_sort_by_utf16() -> None:
    """Rule: keys sort by UTF-16 code units, so U+1F600 comes before U+FF0C."""
    value = {"\uff0c": 1, "\U0001f600": 2}
    assert canonical_bytes(value) == '{"\U0001f600":2,"\uff0c":1}'.encode()


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ({"guards": [{"inputs": {"ratio": 0.5}}]}, "$.guards[0].inputs.ratio", "float 0.5"),
        ({"n": 2**53}, "$.n", "outside"),
        ({"n": -(2**53)}, "$.n", "outside"),
        ({"q": Fraction(2, 3)}, "$.q", "Fraction is not JSON"),
        ({1: "x"}, "$", "not a string"),
        ({"s": "\ud800"}, "$.s", "lone surrogate"),
    ],
)
def test_values_without_canonical_form_are_refused_with_their_path(
    value: Any, path: str, words: str
) -> None:
    """Rule: floats, unsafe integers, non-JSON types and lone surrogates are refused, located."""
    with pytest.raises(NotCanonicalizable) as caught:
        canonical_bytes(value)
    assert path == caught.value.path
    assert words in str(caught.value)


def test_seal_sets_prev_and_the_hash_of_the_canonical_bytes() -> None:
    """Rule: hash = sha256(RFC 8785 of the record without hash), prev as given."""
    fields = opened("c-1", "修路", "2024-03-01T09:00:00+08:00")
    sealed = seal(fields, GENESIS)
    body = {k: v for k, v in sealed.items() if k != "hash"}
    assert sealed["prev"] == GENESIS
    assert hashlib.sha256(rfc8785.dumps(body)).hexdigest() == sealed["hash"]
    assert record_hash(sealed) == sealed["hash"]
    assert "hash" not in fields and "prev" not in fields  # the input is not changed


def test_seal_refuses_floats_naming_the_path() -> None:
    """Rule: no floats anywhere in records; the error names where."""
    fields = opened("c-1", "修路", "2024-03-01T09:00:00+08:00")
    fields["data"]["比例"] = 0.5
    with pytest.raises(NotCanonicalizable) as caught:
        seal(fields, GENESIS)
    assert caught.value.path == "$.data.比例"


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda r: r.pop("actor"), "missing-field"),
        (lambda r: r.update(v=2), "unknown-version"),
        (lambda r: r.update(seq="1"), "bad-field-type"),
        (lambda r: r.update(at="2024-03-01 09:00"), "bad-field-type"),
        (lambda r: r.update(extra=1), "unknown-field"),
        (lambda r: r.update(reason={"code": "x", "message": "y", "details": []}), "unknown-field"),
        (lambda r: r.update(seq=2), "bad-first-record"),
    ],
)
def test_seal_refuses_malformed_records(change: Any, kind: str) -> None:
    """Rule: seal checks the fields first and says which kind of problem it found."""
    fields = opened("c-1", "修路", "2024-03-01T09:00:00+08:00")
    change(fields)
    with pytest.raises(RecordInvalid) as caught:
        seal(fields, GENESIS)
    assert kind == caught.value.kind


def test_only_seq_1_follows_the_genesis() -> None:
    """Rule: prev is 64 zeros exactly for seq 1."""
    with pytest.raises(RecordInvalid) as caught:
        seal(opened("c-1", "修路", "2024-03-01T09:00:00+08:00"), "ab" * 32)
    assert caught.value.kind == "bad-first-record"


def test_chain_head_links_each_record_to_the_last() -> None:
    """Rule: each sealed record's prev is the previous record's hash, per case."""
    records = sample_log()
    last: dict[str, str] = {}
    for record in records:
        assert last.get(record["case"], GENESIS) == record["prev"]
        last[record["case"]] = record["hash"]
    head = ChainHead.of(records[-1])
    assert (records[-1]["case"], records[-1]["seq"]) == (head.case, head.seq)


def test_chain_head_refuses_another_case_or_a_skipped_seq() -> None:
    """Rule: a head only seals the next seq of its own case."""
    head = ChainHead(case="c-2024-009")
    with pytest.raises(ChainError):
        head.seal(opened("c-other", "x", "2024-03-01T09:00:00+08:00"))
    fields = opened("c-2024-009", "x", "2024-03-01T09:00:00+08:00")
    fields["seq"] = 2
    with pytest.raises(ChainError):
        head.seal(fields)


_MUTATIONS = st.sampled_from(
    [
        ("drop", "actor"),
        ("drop", "prev"),
        ("drop", "hash"),
        ("set", ("v", True)),
        ("set", ("case", "")),
        ("set", ("seq", 0)),
        ("set", ("kind", "case.closed")),
        ("set", ("actor", {"id": "x"})),
        ("set", ("actor", {"id": "x", "roles": [1]})),
        ("set", ("procedure", {"id": "p", "version": 1, "sha256": "x"})),
        ("set", ("guards", [1])),
        ("set", ("actions", {})),
        ("set", ("event", "x")),
        ("set", ("prev", "0" * 63)),
        ("set", ("hash", "A" * 64)),
        ("set", ("reason", {"code": "x"})),
        ("set", ("idempotency_key", 5)),
        ("set", ("data", [])),
        ("set", ("payload", None)),
    ]
)


@given(st.lists(_MUTATIONS, max_size=3))
def test_fast_field_check_agrees_with_the_readable_one(mutations: list[Any]) -> None:
    """Rule: the one-expression fast path accepts exactly what the field-by-field check does."""
    record = dict(single())
    for action, arg in mutations:
        if action == "drop":
            record.pop(arg, None)
        else:
            record[arg[0]] = arg[1]
    for sealed in (True, False):
        assert (_first_problem(record, sealed=sealed) is None) == _looks_valid(record, sealed)
        assert record_problem(record, sealed=sealed) == _first_problem(record, sealed=sealed)


def test_public_names_are_sorted_and_complete() -> None:
    """Rule: engine.audit exports an explicit __all__ of its public names, sorted as ruff
    sorts it (constants, then classes, then functions)."""
    public = {n for n in vars(engine.audit) if not n.startswith("_")} - {"annotations"}
    modules = {"canonical", "chain", "checkpoint", "entry", "errors", "jsonl", "record"}
    modules |= {"signing", "verify"}
    order = sorted(engine.audit.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert order == engine.audit.__all__
    assert public - modules == set(engine.audit.__all__)
