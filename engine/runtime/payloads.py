"""Check payloads and case data against their schemas: fast when valid, precise when not.

The hot path uses a compiled ``fastjsonschema`` validator. Only when it rejects
a value do we run ``jsonschema`` to list every violation with its path, which
is what a refusal must say.
"""

from __future__ import annotations

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


def _plain(value: Any) -> Any:
    """Deep copy of read-only mappings into plain dicts and lists (for the validators)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
