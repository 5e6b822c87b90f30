"""How validation time grows with the size of a procedure file (it must grow linearly).

A dry-run registration of a large valid procedure cost 9 s of CPU, and a file with
70,000 unknown keys produced a 16.5 MB problem list. This script builds procedures of
increasing size in two shapes and times ``check_source`` on each, printing the time
per kilobyte and its ratio to the smallest size: linear growth keeps the ratio near 1.

* ``valid``: N states in a chain, each with an event, a CEL guard, a quorum guard and
  an action (a large valid procedure);
* ``unknown-keys``: N misspelt keys in one place (every one a problem; the report is
  capped, so its length must stay bounded too).

Run: ``.venv/bin/python bench/validate_bench.py [--sizes 250,500,1000,2000,4000]``.
"""

from __future__ import annotations

import argparse
import time

from engine.definition.loader import check_source

HEAD = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: big
version: "1.0.0"
title: 大程序
rule_set:
  name: bench
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    notes:
      type: array
      maxItems: 100
      items: {type: string}
initial: s0
"""


def valid(n: int) -> str:
    """A valid procedure with ``n`` states and ``n`` events."""
    states = ["states:"]
    events = ["events:"]
    for i in range(n):
        states.append(f"  s{i}:\n    label: 状态{i}")
        events.append(
            f"  e{i}:\n    label: 事件{i}\n    roles: [clerk]\n"
            "    payload:\n      type: object\n      required: [present, yes, names]\n"
            "      properties:\n        present: {type: integer, minimum: 0}\n"
            "        yes: {type: integer, minimum: 0}\n"
            "        names: {type: array, maxItems: 50, items: {type: string}}\n"
            f"    transitions:\n      - from: s{i}\n        to: s{i + 1}\n"
            "        guards:\n          - cel: payload.yes <= payload.present && "
            "payload.names.all(n, n != '')\n"
            "          - quorum: {present: payload.present, expected: 9, at_least: 1/2}\n"
            "        actions:\n          - append: {path: data.notes, value: done}"
        )
    states.append(f"  s{n}:\n    label: 完成\n    final: true")
    return HEAD + "\n".join(states) + "\n" + "\n".join(events) + "\n"


def unknown_keys(n: int) -> str:
    """A procedure whose first state carries ``n`` unknown keys."""
    keys = "".join(f"    lable{i}: x\n" for i in range(n))
    body = (
        "states:\n  s0:\n    label: 开始\n" + keys + "  s1:\n    label: 完成\n    final: true\n"
        "events:\n  go:\n    label: 走\n    roles: [clerk]\n"
        "    transitions:\n      - from: s0\n        to: s1\n"
    )
    return HEAD + body


def measure(text: str, repeat: int) -> tuple[float, int]:
    """Best time of ``repeat`` runs (seconds) and the length of the problem report."""
    best = float("inf")
    report_length = 0
    for _ in range(repeat):
        start = time.perf_counter()
        report = check_source(text, "big.yaml")
        best = min(best, time.perf_counter() - start)
        report_length = sum(len(str(p)) for p in report.problems)
    return best, report_length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250,500,1000,2000,4000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for shape, build in (("valid", valid), ("unknown-keys", unknown_keys)):
        first = None
        print(f"{shape}:")
        for n in sizes:
            text = build(n)
            seconds, report = measure(text, args.repeat)
            per_kb = seconds / (len(text.encode()) / 1024)
            first = first or per_kb
            print(
                f"  n={n:>6}  {len(text.encode()) / 1024:>8.0f} KiB  {seconds * 1000:>8.1f} ms"
                f"  {per_kb * 1e6:>7.0f} µs/KiB  ratio {per_kb / first:4.2f}"
                f"  report {report:>8} chars"
            )


if __name__ == "__main__":
    main()
