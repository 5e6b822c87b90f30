"""How fast ``verify_file`` is next to bare reading, parsing and hashing the same file.

Generates ~200k realistic records (interleaved cases with Chinese text, guards,
actions, refusals, ballots), writes them with ``write_records``, then times:

* bare: for each line, ``json.loads`` and ``hashlib.sha256`` (the floor any
  verifier pays);
* verify: ``engine.audit.verify_file`` (layout, fields, hash and chain checks).

The goal (issue 3) is verify ≥ 0.5 × bare. Run:
``.venv/bin/python bench/verify_bench.py [--records N] [--keep FILE]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from engine.audit import ChainHead, verify_file, write_records

_T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
PROCEDURE = {"id": "si-yi-liang-gong-kai", "version": "1.0.0", "sha256": "ab" * 32}
MEMBERS = ["王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]


def _record(case: str, seq: int, day: int) -> dict[str, Any]:
    # A case's records are in time order (verify checks it): one minute apart, per day.
    at = (_T0 + timedelta(days=day, minutes=seq)).isoformat()
    who = MEMBERS[seq % len(MEMBERS)]
    base: dict[str, Any] = {
        "v": 1,
        "case": case,
        "seq": seq,
        "at": at,
        "actor": {"id": who, "roles": ["村民代表", "党员"]},
        "procedure": PROCEDURE,
        "payload": {},
        "guards": [],
        "actions": [],
    }
    if seq == 1:
        base.update(
            kind="case.opened",
            event=None,
            to="proposed",
            rule_set={"name": "四议两公开", "choices": {"quorum": "2/3", "passing": "1/2"}},
            data={"议题": f"{case} 修建村道及排水沟", "预算": "120000", "户数": 86},
        )
        base["from"] = None
        return base
    if seq % 5 == 0:
        base.update(
            kind="event.refused",
            event="proposal.approved",
            to="deliberating",
            reason={
                "code": "guards-failed",
                "message": "到会人数不足三分之二",
                "details": ["到会 35 人，应到 58 人，35/58 < 2/3"],
            },
        )
        base["from"] = "deliberating"
        base["guards"] = [
            {
                "transition": 0,
                "kind": "quorum",
                "label": "到会人数达到三分之二",
                "inputs": {"present": 35, "eligible": 58, "threshold": "2/3"},
                "result": False,
                "explanation": "到会 35 人，应到 58 人，35/58 < 2/3",
            }
        ]
        return base
    base.update(kind="event.applied", event="vote.counted", to="deliberating")
    base["from"] = "deliberating"
    base["payload"] = {
        "attendance": {"present": 41, "ballots_issued": 41},
        "ballots": [{"choice": "赞成"}] * 4 + [{"choice": "反对"}],
        "意见": f"第{seq}次会议：同意提交村民代表会议审议",
    }
    base["guards"] = [
        {
            "transition": 1,
            "kind": "majority",
            "label": "赞成票过半数",
            "inputs": {"yes": 33, "cast": 41, "threshold": "1/2"},
            "result": True,
            "explanation": "赞成 33 票，投票 41 票，33/41 > 1/2",
        }
    ]
    base["actions"] = [
        {"name": "set", "params": {"path": "data.结果", "value": "通过"}, "output": "通过"}
    ]
    return base


def generate(path: Path, count: int, cases: int = 500) -> None:
    """Write ``count`` sealed records of ``cases`` interleaved cases to ``path``."""
    heads = {f"c-{i:05d}": ChainHead(case=f"c-{i:05d}") for i in range(cases)}
    names = list(heads)

    def records() -> Any:
        for n in range(count):
            case = names[n % cases]
            head = heads[case]
            sealed, heads[case] = head.seal(_record(case, head.seq + 1, n // cases))
            yield sealed

    write_records(path, records())


def bare(path: Path) -> int:
    """Read, parse and hash every line: the floor."""
    count = 0
    loads, sha256 = json.loads, hashlib.sha256
    with path.open("rb") as handle:
        for line in handle:
            loads(line)
            sha256(line).hexdigest()
            count += 1
    return count


def interleaved(runs: int, path: Path) -> tuple[float, int, float, Any]:
    """Best-of-``runs`` CPU times of bare and verify, alternating.

    CPU time (not wall time) and alternation keep other processes on a shared
    machine from skewing one side.
    """
    bare_best = verify_best = float("inf")
    count, report = 0, None
    for _ in range(runs):
        start = time.process_time()
        count = bare(path)
        bare_best = min(bare_best, time.process_time() - start)
        start = time.process_time()
        report = verify_file(path)
        verify_best = min(verify_best, time.process_time() - start)
    return bare_best, count, verify_best, report


def main() -> int:
    """Generate, time, print rates and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the generated log here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "audit.jsonl"
        start = time.process_time()
        generate(path, args.records)
        made = time.process_time() - start
        size = path.stat().st_size
        print(f"generated {args.records} records ({size / 1e6:.1f} MB) in {made:.1f} s")
        bare_s, count, verify_s, report = interleaved(args.runs, path)
    if not report.ok or report.records != count:
        print(f"verify failed on its own output: {report.failure}", file=sys.stderr)
        return 1
    bare_rate, verify_rate = count / bare_s, count / verify_s
    print(f"bare read+json.loads+sha256: {bare_rate:12,.0f} records/s ({bare_s:.2f} s)")
    print(f"verify_file:                 {verify_rate:12,.0f} records/s ({verify_s:.2f} s)")
    print(f"ratio verify/bare: {verify_rate / bare_rate:.2f} (goal ≥ 0.50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
