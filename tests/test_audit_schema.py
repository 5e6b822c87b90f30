"""schemas/audit-record.schema.json: sealed records validate; schema and code agree on fields."""

from __future__ import annotations

from typing import Any

import pytest
from audit_samples import sample_log
from jsonschema import Draft202012Validator

from engine.audit.record import ALL_FIELDS, REQUIRED_FIELDS
from engine.schemas import load_schema

SCHEMA = load_schema("audit-record.schema.json")
VALIDATOR = Draft202012Validator(SCHEMA)


def test_the_schema_is_valid_2020_12_with_a_stable_id() -> None:
    """Rule: a valid JSON Schema 2020-12 document with a versioned $id."""
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] == "https://yishi.dev/schemas/audit-record/v1.json"


def test_every_property_is_described() -> None:
    """Rule: each property (nested too) carries a description."""

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{path}.{name}"
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")

    walk(SCHEMA, "$")


@pytest.mark.parametrize("record", sample_log(), ids=lambda r: f"{r['case']}-{r['seq']}")
def test_sealed_records_validate(record: dict[str, Any]) -> None:
    """Rule: every record seal produces is valid against the schema."""
    assert [e.message for e in VALIDATOR.iter_errors(record)] == []


def test_schema_and_field_check_list_the_same_fields() -> None:
    """Rule (drift): the schema's properties and required list match engine.audit.record."""
    assert set(SCHEMA["properties"]) == set(ALL_FIELDS)
    assert set(SCHEMA["required"]) == set(REQUIRED_FIELDS)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda r: r.update(seq=1.5), "not of type 'integer'"),
        (lambda r: r.update(surprise=True), "Additional properties"),
        (lambda r: r.pop("prev"), "'prev' is a required property"),
        (lambda r: r.update(rule_set={}), "False schema"),
    ],
)
def test_malformed_records_do_not_validate(change: Any, words: str) -> None:
    """Rule: additionalProperties false, integers only, required fields, kind-specific fields."""
    record = dict(sample_log()[3])  # an event.applied record
    change(record)
    messages = [e.message for e in VALIDATOR.iter_errors(record)]
    assert any(words in m for m in messages), messages
