"""Check payloads and case data against their schemas: fast when valid, precise when not.

The hot path uses a compiled ``fastjsonschema`` validator. Only when it rejects
a value do we run ``jsonschema`` to list every violation with its path, which
is what a refusal must say.

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
from jsonschema import Draft202012Validator


class SchemaCheck:
    """A compiled schema: ``violations(value)`` is empty when the value is valid."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = _plain(schema)
        self._fast: Callable[[Any], Any] = fastjsonschema.compile(self.schema)
        self._full = Draft202012Validator(self.schema)

    def violations(self, value: Any) -> list[dict[str, str]]:
        """Each violation as ``{"path": "payload.yes", "message": …}``, sorted by path."""
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
