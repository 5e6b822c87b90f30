"""The test suite's own promises (README, tests/conftest.py): Hypothesis runs the ``ci``
profile when ``CI=true`` (the same examples every run, no example database) and ``dev``
otherwise; the markers a developer may leave out are registered."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_loaded_hypothesis_profile_follows_ci() -> None:
    """Rule: under CI=true properties are derandomized and write no example database;
    elsewhere they explore randomly (unless HYPOTHESIS_PROFILE names one)."""
    named = os.environ.get("HYPOTHESIS_PROFILE")
    expected = named or ("ci" if os.environ.get("CI") == "true" else "dev")
    assert settings.default == settings.get_profile(expected)
    if expected == "ci":
        assert settings.default.derandomize is True
        assert settings.default.database is None
    assert settings.default.deadline is None  # the suite times nothing


def test_the_markers_the_readme_names_are_registered() -> None:
    """Rule: `-m "not slow and not browser and not subprocess"` (README) names registered
    markers, so a misspelt one is an error rather than a silent no-op."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    names = {line.split(":", 1)[0].strip() for line in markers}
    assert {"slow", "subprocess", "browser", "postgres"} <= names
