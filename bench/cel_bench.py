"""What CEL guards cost: binding fields once, and the time one cost unit takes.

Two measures, ratios in one run (never timed tests):

1. *Binding once.* The CEL core copies a list on every field read, so inside a macro
   ``payload.xs.all(x, size(payload.xs) > 0)`` is quadratic. yishi binds fields read
   inside macros once per evaluation (``CelExpression.hoisted``). Printed: the text as
   written (the core's ``program``) against the bound program, at several sizes.
2. *Cost units.* ``cel_cost`` bounds expressions in units; this times expressions at
   their worst case (every list at its maxItems) and prints µs per unit, so the limit
   (``MAX_EXPRESSION_COST``) can be read as a time on this machine.

Run: ``.venv/bin/python bench/cel_bench.py``.
"""

from __future__ import annotations

import time
from typing import Any

from engine.guards.cel import Bindings, blank_strings, compile_cel, new_context
from engine.guards.cel_cost import MAX_EXPRESSION_COST, cost_bound


def _best(run: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def binding_once() -> None:
    source = "payload.xs.all(x, size(payload.xs) > 0)"
    expression = compile_cel(source)
    print(f"binding once: {source}")
    for n in (250, 500, 1000, 2000):
        values = {"payload": {"xs": list(range(n))}}
        context = new_context(values)
        as_written = _best(lambda c=context: expression.program.execute(c), 1)
        bound = _best(lambda v=values: expression.evaluate(Bindings(v)))
        print(
            f"  n={n:>5}  as written {as_written * 1000:>9.2f} ms"
            f"  bound once {bound * 1000:>7.2f} ms  ratio {as_written / bound:>7.1f}"
        )


def _list(n: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": n, "items": {"type": "integer"}}


CASES = (
    ("payload.xs.all(x, payload.ys.exists(y, y == x + 1000000) || true)", ("xs", "ys")),
    ("payload.xs.all(a, payload.xs.all(b, payload.xs.all(c, a + b + c >= 0)))", ("xs",)),
    ("size(payload.xs.filter(x, x >= 0)) >= 0", ("xs",)),
    ("payload.xs.all(x, !(x + 1000000 in payload.ys))", ("xs", "ys")),
)


def _largest_within(source: str, names: tuple[str, ...]) -> int:
    low, high = 1, 100_000
    while low < high:
        middle = (low + high + 1) // 2
        schema = {"type": "object", "properties": {name: _list(middle) for name in names}}
        try:
            cost_bound(blank_strings(source), {"type": "object"}, schema)
            low = middle
        except ValueError:
            high = middle - 1
    return low


def units() -> None:
    print(f"cost units (limit {MAX_EXPRESSION_COST:,} per expression), worst case at the limit:")
    for source, names in CASES:
        n = _largest_within(source, names)
        schema = {"type": "object", "properties": {name: _list(n) for name in names}}
        bound = cost_bound(blank_strings(source), {"type": "object"}, schema)
        expression = compile_cel(source)
        values = {"payload": {name: list(range(n)) for name in names}}
        seconds = _best(lambda e=expression, v=values: e.evaluate(Bindings(v)))
        print(
            f"  {source[:60]:<60} n={n:>6}  bound {bound:>9,}  {seconds * 1000:>7.1f} ms"
            f"  {seconds * 1e6 / bound:.3f} µs/unit"
        )


if __name__ == "__main__":
    binding_once()
    units()
