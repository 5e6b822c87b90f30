"""Shared fixtures, Hypothesis profiles and the markers that say what a test needs.

Hypothesis runs under one of two profiles, chosen by the ``CI`` variable (or named by
``HYPOTHESIS_PROFILE``):

- ``ci`` (``CI=true``): derandomized, so a CI run tries the same examples every time
  and a failure there reproduces on any machine; no example database is written.
- ``dev`` (otherwise): random examples, remembered in ``.hypothesis/`` so a failure
  found once is tried first next time.

Neither has a deadline: the suite times nothing (speed is measured in ``bench/``), and
a deadline only turns a busy machine into a flaky test. Each property keeps the
``max_examples`` it declares; the default (100) applies where it declares none.

Markers (registered in pyproject.toml) let a developer leave out a kind of test while
working, e.g. ``-m "not slow and not browser"``; the README's ``make test`` runs them
all. ``browser`` and ``postgres`` are given here from what a test uses, so a new test
of either kind is marked without remembering to; so is ``subprocess`` for the modules
built around a spawned server or interpreter. Elsewhere ``slow`` and ``subprocess`` are
written on the tests themselves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import compile_cache
import pytest
from hypothesis import HealthCheck, settings

# Each procedure text is checked once per worker, not
# at each of its hundreds of loads. YISHI_TEST_COMPILE_CACHE=0 does it every time (and
# cli_support rebuilds the command tree at every run), to measure what the caches save.
if os.environ.get("YISHI_TEST_COMPILE_CACHE") != "0":
    compile_cache.install()

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # a loaded CI machine may generate slowly; that is not a fault of the property
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)

BROWSER_MODULES = frozenset({"test_web_browser.py"})
"""Modules whose tests drive Chromium (through web_support.chromium)."""

SUBPROCESS_MODULES = frozenset(
    {
        "test_embedding_docs.py",  # the documented snippets, run as a user would
        "test_layering.py",  # imports measured in a fresh interpreter
        "test_lazy_imports.py",  # same
        "test_serve_tokens_units.py",  # `yishi serve` started and stopped
        "test_server_connections.py",  # a live `yishi serve` shared by the module
        "test_server_hostile.py",  # same
        "test_server_live.py",  # same
    }
)
"""Modules whose tests start the installed script or another interpreter."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark browser and subprocess tests by their module, PostgreSQL ones by their backend."""
    for item in items:
        if item.path.name in BROWSER_MODULES:
            item.add_marker(pytest.mark.browser)
        if item.path.name in SUBPROCESS_MODULES:
            item.add_marker(pytest.mark.subprocess)
        if _uses_postgres(item):
            item.add_marker(pytest.mark.postgres)


def _uses_postgres(item: pytest.Item) -> bool:
    """A test parametrised with the ``postgresql`` backend, or named for PostgreSQL."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in callspec.params.values():
        return True
    return "postgres" in item.name.lower()


@pytest.fixture(autouse=True)
def _apps_lent_for_one_test() -> Iterator[None]:
    """Let ``server_support.client`` reuse, in this test, apps that earlier tests are done with.

    Looked up rather than imported, so a process whose tests never import it (the xdist
    controller among them) does not load FastAPI for nothing.
    """
    support = sys.modules.get("server_support")
    if support is None:
        yield
        return
    with support.lending_apps():
        yield


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture
def procedures_dir() -> Path:
    """The bundled procedures."""
    return ROOT / "procedures"
