"""The bundled example scenarios, each run once per test process.

Running a bundled scenario fires dozens of events, each with its guards and actions: a
second or more of CPU for the elections. Several modules check different things of
the same run (that it holds, that its chain is sound, what its counts say), so the run
is shared. Each caller gets its own copy of what a test could change (the records and
the final data); the rest of a result is frozen. The copies are made by the engine's
``copy_json``: the records are JSON trees, copied in about a third of the time
``copy.deepcopy`` takes (it was called 156 times in test_scenarios alone).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

from engine.runtime.attempt import copy_json
from engine.runtime.scenario import ScenarioResult, load_scenario, run_scenario


def example_run(path: Path) -> ScenarioResult:
    """The result of running the scenario at ``path`` (a bundled example, unchanged by tests)."""
    result = _run(Path(path).resolve())
    return dataclasses.replace(
        result,
        records=tuple(copy_json(record) for record in result.records),
        final_data=copy_json(result.final_data),
    )


@cache
def _run(path: Path) -> ScenarioResult:
    return run_scenario(load_scenario(path))


__all__ = ["example_run"]
