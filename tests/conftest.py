"""Shared fixtures: where the repository's procedures and corpora are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture
def procedures_dir() -> Path:
    """The bundled procedures."""
    return ROOT / "procedures"
