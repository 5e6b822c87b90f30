"""Check a parsed procedure against its JSON Schema, reporting every violation helpfully.

``jsonschema`` finds the violations; this module turns each into a located
message that says what was expected, what was found and how to fix it
("unknown key 'lable'; did you mean 'label'?"). Alternatives (``oneOf`` of the
guard kinds) are resolved by the key the author wrote, so the message speaks of
the guard they meant rather than of every guard they did not.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from engine.actions.registry import Registry
from engine.definition.strict_yaml import Document, Path
from engine.errors import Problem
from engine.schemas import load_schema

_TEXT_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "True", "False", "TRUE", "FALSE", "Yes", "No"}
_PATTERN_WORDS = {
    "^[a-z][a-z0-9_]*$": "an ASCII id: lower-case letters, digits and _ (Chinese goes in label)",
    "^[a-z][a-z0-9]*(-[a-z0-9]+)*$": "lower-case ASCII words joined by hyphens",
    "^-?[0-9]+(/[0-9]+)?$": 'a fraction in quotes such as "2/3"',
    r"^data(\.[A-Za-z_][A-Za-z0-9_]*)+$": "a data path such as data.outcome",
    "^[0-9]+(\\.[0-9]+){0,2}([-+][0-9A-Za-z.-]+)?$": 'a version such as "1.0.0"',
}
_DURATION = (
    "^P(?!$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$"
)


def procedure_schema(registry: Registry) -> dict[str, Any]:
    """The shipped procedure schema with the registry's actions in ``$defs.action``."""
    return _schema_for(tuple((name, id(registry[name])) for name in registry), registry)


_cache: dict[tuple[tuple[str, int], ...], dict[str, Any]] = {}


def _schema_for(key: tuple[tuple[str, int], ...], registry: Registry) -> dict[str, Any]:
    if key not in _cache:
        schema = copy.deepcopy(load_schema("procedure.schema.json"))
        props = schema["$defs"]["action"]["properties"]
        for name in registry:
            spec = registry[name]
            if name not in props:
                props[name] = {
                    "description": spec.description,
                    **copy.deepcopy(dict(spec.params_schema)),
                }
        _cache[key] = schema
    return _cache[key]


@cache
def _validator_class() -> type[Draft202012Validator]:
    return Draft202012Validator


def check_schema(doc: Document, registry: Registry) -> list[Problem]:
    """Every schema violation in ``doc``, located and explained."""
    validator = _validator_class()(procedure_schema(registry))
    errors = list(validator.iter_errors(doc.value))
    try:
        misspelt = _misspelt_required(errors)
        problems: list[Problem] = []
        for error in errors:
            if (
                error.validator == "required"
                and (
                    tuple(error.absolute_path),
                    _missing_key(error),
                )
                in misspelt
            ):
                continue  # "unknown key 'lable'; did you mean 'label'?" already says it
            problems.extend(_explain(doc, error))
    finally:
        _closest.cache_clear()
    return _dedupe(problems)


def _missing_key(error: ValidationError) -> str:
    return str(error.message).split("'")[1] if "'" in error.message else error.message


def _misspelt_required(errors: list[ValidationError]) -> set[tuple[Path, str]]:
    """(path, key) of required keys that an unknown key at the same place misspells."""
    found: set[tuple[Path, str]] = set()
    for error in errors:
        if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
            continue
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = list(schema.get("properties", {}))
        for extra in (k for k in error.instance if k not in allowed):
            close = _closest(extra, tuple(allowed))
            if close is not None and close not in error.instance:
                found.add((tuple(error.absolute_path), close))
    return found


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for problem in problems:
        key = (problem.location, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _problem(doc: Document, path: Path, message: str, code: str, *, key: bool = False) -> Problem:
    return Problem(location=doc.locate(path, key=key), message=message, code=code)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = _closest(word, tuple(choices))
    return f"; did you mean {close!r}?" if close is not None else ""


@cache
def _closest(word: str, choices: tuple[str, ...]) -> str | None:
    """The choice closest to ``word`` (difflib, cutoff 0.6), or None.

    Remembered during one ``check_schema`` (which empties it when done) because an
    unknown key was looked up three times (is it a misspelt required key? the message's
    hint, and whether to list the allowed keys instead), and difflib's ratios were 85%
    of checking a file of 60,000 unknown keys. The file's size limit bounds what one
    check remembers.
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


_MAX_QUOTED = 80
"""Texts longer than this are described by their length, not quoted."""


def _describe(value: Any, *, quote: bool = True) -> str:
    """Say what a value is; ``quote=False`` keeps its content out of the message.

    A whole file that is not a procedure (a password file named by mistake) must not
    be echoed back, so the document itself is described without quoting it, and long
    texts are never quoted.
    """
    if isinstance(value, str) and (not quote or len(value) > _MAX_QUOTED):
        return f"text of {len(value)} character(s)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    return f"{type(value).__name__} {value!r}"


def _explain(doc: Document, error: ValidationError) -> list[Problem]:
    path: Path = tuple(error.absolute_path)
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        what = "action" if _is_action_schema(schema) else "key"
        return [
            _problem(
                doc,
                (*path, extra),
                f"unknown {what} {extra!r}"
                + (_suggest(extra, allowed) or f" (allowed: {', '.join(allowed)})"),
                "schema.unknown-key",
                key=True,
            )
            for extra in extras
        ]
    if validator == "required":
        missing = _missing_key(error)
        return [_problem(doc, path, f"missing required key {missing!r}", "schema.required")]
    if validator == "oneOf" and isinstance(error.instance, dict):
        return _explain_alternatives(doc, error, path)
    if validator in ("minProperties", "maxProperties") and _is_action_schema(schema):
        names = ", ".join(schema.get("properties", {}))
        return [
            _problem(
                doc,
                path,
                f"each action entry names exactly one action (one of: {names})",
                "schema.action-shape",
            )
        ]
    if validator == "type":
        expected = error.validator_value
        found = error.instance
        hint = ""
        if expected == "boolean" and isinstance(found, str) and found in _TEXT_BOOLEANS:
            hint = " (only true and false are booleans in yishi; write true or false)"
        elif expected == "string" and isinstance(found, int) and not isinstance(found, bool):
            hint = f' (quote it: "{found}")'

        return [
            _problem(
                doc,
                path,
                f"expected {_type_words(expected)}, found {_describe(found, quote=bool(path))}"
                f"{hint}",
                "schema.type",
            )
        ]
    if validator == "enum":
        allowed_values: Any = error.validator_value
        options = [str(o) for o in allowed_values]
        found = error.instance
        return [
            _problem(
                doc,
                path,
                f"expected one of {', '.join(options)}; found {_describe(found)}"
                + (_suggest(found, options) if isinstance(found, str) else ""),
                "schema.enum",
            )
        ]
    if validator == "pattern" and "propertyNames" in error.schema_path:
        # jsonschema reports a bad key at its mapping; point at the key itself.
        return _bad_id(doc, (*path, str(error.instance)), str(error.instance))
    if validator == "pattern" and error.validator_value == _DURATION:
        return [
            _problem(
                doc,
                path,
                f"{_describe(error.instance)} is not an ISO 8601 duration such as P7D or PT48H",
                "schema.pattern",
            )
        ]
    if validator == "pattern":
        words = _PATTERN_WORDS.get(
            str(error.validator_value), f"text matching {error.validator_value}"
        )
        return [
            _problem(
                doc,
                path,
                f"{_describe(error.instance)} is not {words}",
                "schema.pattern",
            )
        ]
    if validator == "propertyNames":
        bad = error.instance
        return _bad_id(doc, (*path[:-1], bad) if path and path[-1] == bad else path, str(bad))
    if validator == "not":
        return [_problem(doc, path, "give either value or expr, not both", "schema.not")]
    return [_problem(doc, path, error.message, f"schema.{validator}")]


def _bad_id(doc: Document, path: Path, bad: str) -> list[Problem]:
    return [
        _problem(
            doc,
            path,
            f"{bad!r} is not a valid id: use lower-case ASCII letters, digits and _ "
            "(Chinese names go in label)",
            "schema.id",
            key=True,
        )
    ]


def _is_action_schema(schema: dict[str, Any]) -> bool:
    props = schema.get("properties", {})
    return "set" in props and "increment" in props


def _type_words(expected: Any) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "text",
        "integer": "an integer",
        "boolean": "true or false",
        "null": "null",
    }
    if isinstance(expected, list):
        return " or ".join(words.get(str(e), str(e)) for e in expected)
    return words.get(str(expected), str(expected))


def _explain_alternatives(doc: Document, error: ValidationError, path: Path) -> list[Problem]:
    """Pick the alternative the author meant (by its distinguishing key) and explain that one."""
    branches: list[tuple[str, list[ValidationError]]] = []
    alternatives: Any = error.validator_value
    for index, branch in enumerate(alternatives):
        required = branch.get("required", [])
        name = required[0] if required else str(index)
        branches.append((name, [e for e in error.context or [] if e.schema_path[0] == index]))
    instance: Any = error.instance
    for name, errors in branches:
        if name in instance:
            problems: list[Problem] = []
            for sub in errors:
                problems.extend(_explain(doc, sub))
            if problems:
                return problems
    kinds = [name for name, _ in branches]
    keys = [k for k in instance if k not in ("label", "explain")]
    guess = _suggest(keys[0], kinds) if keys else ""
    found = ", ".join(repr(k) for k in keys) or "nothing"
    if "guards" not in path:
        # An action whose parameters offer alternatives (reduce_seats' more_than or at_least).
        message = f"exactly one of {', '.join(kinds)} is required; found {found}"
        return [_problem(doc, path, message, "schema.one-of")]
    return [
        _problem(
            doc,
            path,
            f"a guard is one of {', '.join(kinds)}; found {found}{guess}",
            "schema.guard-kind",
        )
    ]
