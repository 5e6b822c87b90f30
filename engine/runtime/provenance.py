"""Which engine wrote a record: the yishi version and a digest of its action and guard code.

Replay re-executes records with the engine at hand. When a record no longer
follows from its inputs, the cause is either the record (changed) or the engine
(another version, another action or guard implementation). Each record carries
``engine: {"yishi": VERSION, "registry": DIGEST}`` so that replay can tell the two
apart and say "the engine changed" instead of only "the record differs".

The digest covers what decides an outcome besides the procedure: the source of
the action, guard and counting modules, and the names of every registered action
(so an installed plug-in action counts too). It is computed once per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import engine.actions
import engine.governance
import engine.guards
from engine.actions.registry import default_registry

IGNORED_IN_COMPARISON = frozenset({"hash", "signature", "engine"})
"""Fields replay and import do not compare: the hash follows from the others, a
signature from the writer's key, and ``engine`` names the writer, not the outcome."""


@cache
def provenance() -> dict[str, str]:
    """``{"yishi": version, "registry": sha256 hex}`` of the running engine."""
    try:
        version = metadata.version("yishi")
    except metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256()
    for package in (engine.actions, engine.guards, engine.governance):
        folder = Path(next(iter(package.__path__)))
        for source in sorted(folder.glob("*.py")):
            digest.update(f"{package.__name__}/{source.name}\n".encode())
            digest.update(source.read_bytes())
    for name in default_registry().names():
        digest.update(f"action {name}\n".encode())
    return {"yishi": version, "registry": digest.hexdigest()}


def record_provenance() -> dict[str, str]:
    """A fresh copy of ``provenance()`` to put into a record."""
    return dict(provenance())


def same_outcome(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> bool:
    """Whether a replayed record says what the recorded one says (ignoring writer fields)."""
    keys = (set(recorded) | set(replayed)) - IGNORED_IN_COMPARISON
    return all(recorded.get(key) == replayed.get(key) for key in keys)


def differing(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> list[str]:
    """The fields in which a replayed record differs from the recorded one (sorted)."""
    keys = (set(recorded) | set(replayed)) - IGNORED_IN_COMPARISON
    return sorted(key for key in keys if recorded.get(key) != replayed.get(key))


def engine_note(recorded: Mapping[str, Any]) -> str | None:
    """Why a divergence may be the engine's doing, or None when the same engine wrote it.

    A record without ``engine`` was written before records named their engine.
    """
    named = recorded.get("engine")
    now = provenance()
    if named is None:
        return (
            "the record does not name the engine that wrote it (written before records "
            f"carried it); this is yishi {now['yishi']}"
        )
    if not isinstance(named, Mapping) or named == now:
        return None
    return (
        f"the engine changed: the record was written by yishi {named.get('yishi')} "
        f"(registry {str(named.get('registry'))[:12]}…), this is yishi {now['yishi']} "
        f"(registry {now['registry'][:12]}…)"
    )
