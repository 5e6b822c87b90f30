"""Specification: every error yishi raises is defined in engine/errors.py, under one root,
and declares the HTTP status and problem code it is answered with.

An embedding system catches ``EngineError`` and knows it caught ours; the HTTP
server reads the status and code from the class (no table of its own), so a
new error cannot be answered by accident with another's code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import engine
from engine import errors
from engine.errors import EngineError

# Signals an interface turns into its own answer, never seen by a caller of the engine:
# each is caught in its package and becomes an HTTP problem, a page or an exit status.
INTERFACE_SIGNALS = {
    "engine.server.problems.ProblemError",  # an endpoint's answer: status and code per raise
    "engine.web.scope.Refused",  # a workbench page refused (a logged 403 page)
    "engine.web.context.SignInNeeded",  # the workbench's redirect to sign in
    "engine.web.context.BadForm",  # a workbench form sent back with its mistakes
    "engine.cli.case_support.UsageProblem",  # a CLI usage line and exit status 2
    # a guard's count could not be read: caught inside the guard, recorded as a failed guard
    "engine.guards.checks.InputError",
}

TITLED_ELSEWHERE = {"invalid-unit"}
"""Codes answered today without an entry in ``TITLES`` (the title repeats the code)."""


def _engine_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, prefix="engine.")]
    assert len(names) > 100  # every module, subpackages included
    return ["engine", *names]


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _engine_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
            ):
                found[f"{name}.{value.__qualname__}"] = value
    return found


def test_every_public_error_is_defined_in_engine_errors() -> None:
    """Outside engine/errors.py only private helpers and the interfaces' own signals remain."""
    elsewhere = {
        name
        for name, cls in _exception_classes().items()
        if cls.__module__ != "engine.errors" and not cls.__name__.startswith("_")
    }
    assert elsewhere == INTERFACE_SIGNALS


def test_every_error_in_engine_errors_derives_from_the_root() -> None:
    """``except EngineError`` catches every error engine/errors.py defines."""
    classes = [v for v in vars(errors).values() if inspect.isclass(v)]
    exceptions = [c for c in classes if issubclass(c, BaseException)]
    outside = [c.__name__ for c in exceptions if not issubclass(c, EngineError)]
    assert outside == []
    assert len(exceptions) > 40


def test_the_errors_a_caller_catches_as_builtins_still_are() -> None:
    """Joining the root kept the builtin each error was: ValueError, OSError, KeyError."""
    assert issubclass(errors.CelCheckError, ValueError)
    assert issubclass(errors.FractionSyntaxError, ValueError)
    assert issubclass(errors.RuleError, ValueError)
    assert issubclass(errors.GovernanceError, ValueError)
    assert issubclass(errors.NotRegularFile, OSError)
    assert issubclass(errors.UnknownCase, KeyError)


def test_old_import_paths_name_the_same_classes() -> None:
    """Code written against a class's former module still imports it, and catches ours."""
    from engine.actions.registry import ActionFailed
    from engine.audit.errors import LineError
    from engine.guards.cel import CelRuntimeError
    from engine.runtime.attempt import InvalidData
    from engine.runtime.deadlines import CalendarUnavailable
    from engine.runtime.engine import IdempotencyMismatch, TimeWentBackwards
    from engine.server.auth import TokenFileError

    assert ActionFailed is errors.ActionFailed
    assert LineError is errors.LineError
    assert CelRuntimeError is errors.CelRuntimeError
    assert InvalidData is errors.InvalidData
    assert CalendarUnavailable is errors.CalendarUnavailable
    assert IdempotencyMismatch is errors.IdempotencyMismatch
    assert TimeWentBackwards is errors.TimeWentBackwards
    assert TokenFileError is errors.TokenFileError


def test_each_error_declares_a_status_and_a_known_code() -> None:
    """Every class has an HTTP status and a problem code the API can title."""
    from engine.server.problems import TITLES

    for cls in (v for v in vars(errors).values() if inspect.isclass(v)):
        if not issubclass(cls, EngineError):
            continue
        assert 400 <= cls.http_status < 600, cls
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.problem_code), cls
        assert cls.problem_code in TITLES or cls.problem_code in TITLED_ELSEWHERE, cls


def test_the_statuses_the_api_documents() -> None:
    """The statuses docs/embedding.md promises, read from the classes themselves."""
    declared = {
        cls.__name__: (cls.http_status, cls.problem_code)
        for cls in (v for v in vars(errors).values() if inspect.isclass(v))
        if issubclass(cls, EngineError)
    }
    expected = {
        "UnknownCase": (404, "unknown-case"),
        "CaseExists": (409, "case-exists"),
        "Conflict": (409, "conflict"),
        "VersionTaken": (409, "procedure-version-taken"),
        "Forbidden": (403, "forbidden"),
        "InvalidData": (422, "invalid-data"),
        "InvalidUnit": (422, "invalid-unit"),
        "ProcedureInvalid": (422, "procedure-invalid"),
        "ScenarioInvalid": (422, "procedure-invalid"),
        "IdempotencyMismatch": (422, "idempotency-key-reused"),
        "TimeWentBackwards": (422, "time-backwards"),
        "TimeOutOfRange": (422, "time-out-of-range"),
        "StoreError": (503, "store-unavailable"),
        "EngineError": (500, "internal-error"),
        "CelRuntimeError": (500, "internal-error"),
    }
    assert {name: declared[name] for name in expected} == expected


def test_an_engine_error_answered_500_keeps_its_words_in_the_log() -> None:
    """Never a leak: an engine error whose class declares no status (a fault of ours, such
    as a CEL failure reaching the API) is a 500 whose detail is the generic one, not the
    error's own words, which may name internals."""
    from fastapi.testclient import TestClient
    from server_support import token_table

    from engine.errors import CelRuntimeError
    from engine.runtime.engine import Engine
    from engine.server.app import create_app

    app = create_app(Engine(), token_table())

    @app.get("/boom")
    def boom() -> None:
        raise CelRuntimeError("internal detail: payload.ballots[3] at 0x7f00")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")

    assert answer.status_code == 500
    body = answer.json()
    assert body["code"] == "internal-error"
    assert body["detail"] == "an unexpected error; see the server log"
    assert "0x7f00" not in answer.text
