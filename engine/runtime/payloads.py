"""Check payloads and case data against their schemas: fast when valid, precise when not.

The hot path asks ``jsonschema_rs`` (Rust) whether a value is valid, for schemas
written with the keywords it reads exactly as ``fastjsonschema`` does (``_RUST_READS``);
it costs about a quarter of the compiled ``fastjsonschema`` validator (callgrind: the
data of 四议两公开 after an action 6.1k instructions against 24.8k, a meeting payload
3.5k against 13.2k). A value it does not accept — or cannot read: a mapping proxy, a
``str`` subclass — goes the way every value went before: the compiled
``fastjsonschema`` validator decides, and only when it rejects the value does
``jsonschema`` list every violation with its path, which is what a refusal must say.
So whatever ``jsonschema_rs`` makes of a value, the verdict and the violations are
``fastjsonschema``'s and ``jsonschema``'s, as they were.

Compiling a validator generates and compiles Python code (about 7 ms for the payloads
of 四议两公开), and every runner of a procedure version needs one per event: a new
engine, replay, a what-if comparison, a server taking a version back into its cache.
``schema_check`` therefore keeps one ``SchemaCheck`` per schema content for the
process; a check holds nothing that changes, so every runner may share it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema
import jsonschema_rs
from jsonschema import Draft202012Validator

_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
     "writeOnly"}
)  # fmt: skip
_RUST_READS = _ANNOTATIONS | frozenset(
    {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
     "required", "properties", "additionalProperties", "items"}
)  # fmt: skip
"""The keywords both validators read alike (the bundled procedures' schemas use little
else). Any other keyword keeps its schema on ``fastjsonschema`` alone: ``format`` and
``pattern`` (each library has its own formats and regular expressions), ``$ref`` (one
of them would fetch a remote schema), ``uniqueItems``, and the 2020-12 keywords that
``fastjsonschema`` (drafts 4 to 7) does not know."""


class SchemaCheck:
    """A compiled schema: ``violations(value)`` is empty when the value is valid."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = _plain(schema)
        self._fast: Callable[[Any], Any] = fastjsonschema.compile(self.schema)
        self._full = Draft202012Validator(self.schema)
        self._valid: Callable[[Any], bool] | None = _rust_check(self.schema)

    def violations(self, value: Any) -> list[dict[str, str]]:
        """Each violation as ``{"path": "payload.yes", "message": …}``, sorted by path."""
        if self._valid is not None:
            try:
                if self._valid(value):
                    return []
            except (ValueError, TypeError, OverflowError):
                pass  # a value it cannot read: the compiled validator decides
        try:
            self._fast(value)
        except fastjsonschema.JsonSchemaException as exc:
            fast_message = str(exc)
        else:
            return []
        found = []
        for error in self._full.iter_errors(value):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            found.append({"path": path.lstrip(".") or "(root)", "message": error.message})
        if not found:  # the two validators disagree: trust the stricter one, say why
            found.append({"path": "(root)", "message": fast_message})
        return sorted(found, key=lambda v: (v["path"], v["message"]))


def _rust_check(schema: Any) -> Callable[[Any], bool] | None:
    """``jsonschema_rs``'s validity test for ``schema``, or None when it uses other keywords."""
    if not _rust_reads(schema):
        return None
    try:
        validator = jsonschema_rs.validator_for(schema)
    except (ValueError, TypeError, OverflowError):
        return None  # a schema it cannot compile: fastjsonschema alone
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


def _rust_reads(schema: Any) -> bool:
    """Whether ``schema`` and every schema under it use only keywords of ``_RUST_READS``."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key not in _RUST_READS:
            return False
        if key == "properties":
            if not isinstance(value, dict) or not all(_rust_reads(v) for v in value.values()):
                return False
        elif key in ("additionalProperties", "items") and not _rust_reads(value):
            return False
    return True


SHARED_CHECKS = 512
"""Schemas whose checks the process keeps (the least recently used dropped first): the
bundled procedures have about a hundred; a server registering many versions stays bounded."""

_shared: OrderedDict[str, SchemaCheck] = OrderedDict()
_shared_lock = threading.Lock()


def schema_check(schema: Mapping[str, Any]) -> SchemaCheck:
    """The process's check for ``schema``, compiled on first use of its content."""
    plain = _plain(schema)
    # JSON text tells apart what must stay apart (1, 1.0 and true), and sorted keys make
    # two spellings of one schema one entry.
    key = json.dumps(plain, sort_keys=True, ensure_ascii=False)
    with _shared_lock:
        found = _shared.get(key)
        if found is not None:
            _shared.move_to_end(key)
            return found
    made = SchemaCheck(plain)  # compiled outside the lock: two threads may both compile
    with _shared_lock:
        found = _shared.setdefault(key, made)
        _shared.move_to_end(key)
        while len(_shared) > SHARED_CHECKS:
            _shared.popitem(last=False)
    return found


def _plain(value: Any) -> Any:
    """Deep copy of read-only mappings into plain dicts and lists (for the validators)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
