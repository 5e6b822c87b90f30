"""HTML forms generated from a JSON Schema (an event's payload, a procedure's case data).

Each property becomes one field a person can fill without knowing JSON: numbers,
text, a choice for ``enum``, yes/no, a list (one item per line), a table for a map
of candidates to counts (a ballot table: one row per candidate), and a JSON box
for any shape beyond these. Reading the form back never second-guesses the engine:
an empty field is left out and a number that does not parse is sent as the text
typed, so the engine's own payload check refuses it, records the refusal, and says
which path was wrong — exactly what the API would do with the same input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.datastructures import FormData

TABLE_ROWS = 10
"""Blank rows a ballot table offers beyond the rows named by the case."""
MAX_TABLE_ROWS = 200

Kind = Literal["integer", "number", "text", "choice", "boolean", "list", "table", "json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """A column of a table field: a property of each row's value."""

    name: str
    label: str
    kind: Kind


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One form field for one schema property."""

    name: str
    label: str
    kind: Kind
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()
    item_kind: Kind = "text"
    columns: tuple[Column, ...] = ()
    rows: tuple[str, ...] = field(default_factory=tuple)
    minimum: int | None = None


def _scalar_kind(schema: Mapping[str, Any]) -> Kind | None:
    kind = schema.get("type")
    if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
        return "choice"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "string":
        return "text"
    if kind == "boolean":
        return "boolean"
    return None


def _table_columns(value: Mapping[str, Any]) -> tuple[Column, ...] | None:
    """The columns of a map's values, when each value is a number or a flat object."""
    own = _scalar_kind(value)
    if own in ("integer", "number"):
        return (Column(name="", label="票数", kind=own),)
    props = value.get("properties")
    if value.get("type") != "object" or not isinstance(props, Mapping):
        return None
    columns = []
    for name, sub in props.items():
        kind = _scalar_kind(sub) if isinstance(sub, Mapping) else None
        if kind is None or kind == "choice":
            return None
        columns.append(Column(name=name, label=str(sub.get("title") or name), kind=kind))
    return tuple(columns)


def fields_of(schema: Mapping[str, Any], *, rows: tuple[str, ...] = ()) -> tuple[Field, ...]:
    """The form fields of an object schema, in the schema's property order.

    Args:
        schema: a JSON Schema of ``type: object``.
        rows: names to offer as the first rows of every table (e.g. the candidates).

    Returns:
        One field per property.
    """
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return ()
    required = set(schema.get("required") or ())
    found = []
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            continue
        common: dict[str, Any] = {
            "name": str(name),
            "label": str(sub.get("title") or name),
            "required": name in required,
            "description": str(sub.get("description") or ""),
        }
        kind = _scalar_kind(sub)
        items = sub.get("items")
        extra = sub.get("additionalProperties")
        if kind is not None:
            minimum = sub.get("minimum")
            found.append(
                Field(
                    kind=kind,
                    choices=tuple(sub.get("enum") or ()),
                    minimum=minimum if isinstance(minimum, int) else None,
                    **common,
                )
            )
        elif sub.get("type") == "array" and isinstance(items, Mapping) and _scalar_kind(items):
            item = _scalar_kind(items) or "text"
            found.append(Field(kind="list", item_kind=item, **common))
        elif (
            sub.get("type") == "object"
            and not sub.get("properties")
            and isinstance(extra, Mapping)
            and (columns := _table_columns(extra)) is not None
        ):
            found.append(Field(kind="table", columns=columns, rows=rows, **common))
        else:
            found.append(Field(kind="json", **common))
    return tuple(found)


def _number(text: str, kind: Kind) -> Any:
    """The number typed, or the text itself when it is not one (the engine will say so)."""
    try:
        return int(text)
    except ValueError:
        pass
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            pass
    return text


def _scalar(text: str, kind: Kind) -> Any:
    if kind in ("integer", "number"):
        return _number(text, kind)
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def read_form(fields: tuple[Field, ...], form: FormData) -> dict[str, Any]:
    """The JSON value the filled form stands for (empty fields left out).

    Args:
        fields: what ``fields_of`` gave for the schema.
        form: the posted form.

    Returns:
        The payload (or data) object.
    """
    value: dict[str, Any] = {}
    for f in fields:
        if f.kind == "table":
            table = _read_table(f, form)
            if table:
                value[f.name] = table
            continue
        raw = form.get(f"f.{f.name}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        if f.kind == "list":
            value[f.name] = [_scalar(line.strip(), f.item_kind) for line in text.splitlines()]
        elif f.kind == "json":
            try:
                value[f.name] = json.loads(text)
            except ValueError:
                value[f.name] = text
        else:
            value[f.name] = _scalar(text, f.kind)
    return value


def _read_table(f: Field, form: FormData) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for row in range(MAX_TABLE_ROWS):
        key = form.get(f"t.{f.name}.{row}.key")
        if key is None:
            break
        name = key.strip() if isinstance(key, str) else ""
        if not name:
            continue
        cells: dict[str, Any] = {}
        for column in f.columns:
            raw = form.get(f"t.{f.name}.{row}.{column.name}")
            text = raw.strip() if isinstance(raw, str) else ""
            if text:
                cells[column.name] = _scalar(text, column.kind)
        if f.columns[0].name == "":
            if "" in cells:
                table[name] = cells[""]
        else:
            table[name] = cells
    return table


CANDIDATE_KEYS = ("formal", "eligible", "candidates", "nominees", "slate")
"""Data keys naming who is on a ballot, in the order preferred (the latest list first)."""
MAX_NAME = 40


def _names(value: Any) -> tuple[str, ...] | None:
    """The names a list holds: short texts, or objects with a ``name``; None otherwise."""
    if not isinstance(value, list) or not value:
        return None
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, Mapping) else item
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            return None
        if name not in names:
            names.append(name)
    return tuple(names)


def candidate_rows(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The candidates a ballot table offers as its first rows, read from the case data.

    The first list under a key named like ``CANDIDATE_KEYS`` (looked for at the top
    and one level down, e.g. ``review.eligible``) that holds names; empty when none.
    """
    found: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        places = [(str(key), value)]
        if isinstance(value, Mapping):
            places += [(str(k), v) for k, v in value.items()]
        for name, inner in places:
            names = _names(inner)
            if names is not None:
                for wanted in CANDIDATE_KEYS:
                    if wanted in name.lower():
                        found.setdefault(wanted, names)
    for wanted in CANDIDATE_KEYS:
        if wanted in found:
            return found[wanted]
    return ()


def table_rows(f: Field) -> tuple[str, ...]:
    """The row names a table shows: the named ones, then blank rows."""
    return (*f.rows[:MAX_TABLE_ROWS], *([""] * TABLE_ROWS))[:MAX_TABLE_ROWS]
