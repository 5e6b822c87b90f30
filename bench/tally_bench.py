"""Count 100,000 ballots × 10 candidates for 5 seats, against a plain Counter.

The goal (issue 4) is under 1 s for ``engine.governance.ballots.tally_round``,
which does everything a real count needs (R14 returned vs voters, R15 validity of
every ballot, approve/disapprove/abstain per name, the R16 threshold, ranking and
the explanation). The baseline is ``collections.Counter`` over the approvals of the
same ballots, which does none of that; the ratio shows what the rules cost.

Run: ``.venv/bin/python bench/tally_bench.py [--ballots N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable

from engine.governance.ballots import Ballot, tally_round

CANDIDATES = tuple(f"候选人{i:02d}" for i in range(10))
SEATS = 5


def make_ballots(count: int, seed: int = 2004) -> list[Ballot]:
    """Random ballots: 0–6 approvals (so some are invalid), a few disapprovals, some blank."""
    rng = random.Random(seed)
    ballots = []
    for _ in range(count):
        approvals = rng.choice((0, 1, 2, 3, 4, 5, 5, 5, 6))
        picked = rng.sample(CANDIDATES, approvals + 2)
        ballots.append(
            Ballot(approve=tuple(picked[:approvals]), disapprove=tuple(picked[approvals:]))
        )
    return ballots


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` wall-clock timings, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Time both and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ballots = make_ballots(args.ballots)

    def ours() -> object:
        return tally_round(candidates=CANDIDATES, seats=SEATS, ballots=ballots, voters=len(ballots))

    def baseline() -> object:
        return Counter(name for ballot in ballots for name in ballot.approve)

    result = tally_round(candidates=CANDIDATES, seats=SEATS, ballots=ballots, voters=len(ballots))
    t_ours = best_of(args.repeat, ours)
    t_counter = best_of(args.repeat, baseline)
    print(f"ballots: {len(ballots):,} × {len(CANDIDATES)} candidates, {SEATS} seats")
    print(
        f"valid {result.valid:,}, invalid {result.invalid:,}, blank {result.blank:,}; "
        f"status {result.status}"
    )
    print(f"tally_round: {t_ours * 1000:.1f} ms (best of {args.repeat})")
    print(f"Counter:     {t_counter * 1000:.1f} ms (best of {args.repeat})")
    print(f"ratio tally_round / Counter: {t_ours / t_counter:.2f}")
    print(f"goal < 1 s: {'met' if t_ours < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
