"""``yishi demo``: the README's main job — check and describe every bundled procedure.

For now the demo validates each file in ``procedures/`` and describes it; later
it will also run a scenario. The directory is looked for next to the package's
source tree (a checkout or an editable install) and then in the current
directory (an installed wheel run from a checkout, as ``make demo`` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from engine.cli.describe_cmd import render_description
from engine.cli.loading import load_or_report
from engine.definition.describe import describe_procedure


def procedures_dir() -> Path | None:
    """Where the bundled procedures are.

    Returns:
        The first ``procedures/`` directory holding YAML files, next to the source tree of
        the ``engine`` package or in the current directory; None when there is none.
    """
    source_tree = Path(__file__).resolve().parents[2]
    for candidate in (source_tree / "procedures", Path.cwd() / "procedures"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return None


def run_demo() -> int:
    """Validate and describe every bundled procedure, then print a one-line summary.

    Returns:
        0 when every procedure is valid; 1 when any is invalid or none can be found.
    """
    directory = procedures_dir()
    if directory is None:
        print(
            "error: no procedures/ directory with YAML files found next to the engine "
            "package or in the current directory; run yishi demo from the repository root",
            file=sys.stderr,
        )
        return 1
    console = Console(highlight=False)
    files = sorted(directory.glob("*.yaml"))
    invalid: list[Path] = []
    for path in files:
        compiled = load_or_report(path)
        if compiled is None:
            invalid.append(path)
            continue
        render_description(describe_procedure(compiled), console)
    valid = len(files) - len(invalid)
    summary = f"{len(files)} procedure(s) in {directory}: {valid} valid, {len(invalid)} invalid"
    console.print(summary, markup=False)
    return 1 if invalid else 0
