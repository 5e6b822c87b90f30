"""The bundled example scenarios, each run once per test process.

Running a bundled scenario fires dozens of events, each with its guards and actions: a
second or more of CPU for the elections. Several modules check different things of
the same run (that it holds, that its chain is sound, what its counts say), so the run
is shared. Each caller gets its own copy of what a test could change (the records and
the final data); the rest of a result is frozen.
"""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from pathlib import Path

from engine.runtime.scenario import ScenarioResult, load_scenario, run_scenario


def example_run(path: Path) -> ScenarioResult:
    """The result of running the scenario at ``path`` (a bundled example, unchanged by tests)."""
    result = _run(Path(path).resolve())
    return dataclasses.replace(
        result,
        records=copy.deepcopy(result.records),
        final_data=copy.deepcopy(result.final_data),
    )


@cache
def _run(path: Path) -> ScenarioResult:
    return run_scenario(load_scenario(path))


__all__ = ["example_run"]
