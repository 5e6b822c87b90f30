"""What secret-ballot screening costs: checking and ordering 100,000 ballots, against the count.

Every secret-ballot attempt checks that each ballot holds marks only
(``secrecy_violations``) and sorts the ballots into their canonical order
(``canonical_ballots``) before anything is recorded. This prints the time of both on a
payload of JSON ballots and the time the ``tally_round`` action takes to read and count
the same ballots, and the ratio between them.

Run: ``.venv/bin/python bench/secrecy_bench.py [--ballots N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from tally_bench import CANDIDATES, SEATS, best_of

from engine.governance.ballots import Ballot, tally_round
from engine.governance.secrecy import canonical_ballots, secrecy_violations

MARKS = ("approve", "disapprove", "abstain")


def make_payload(count: int, seed: int = 2004) -> dict[str, Any]:
    """JSON ballots as a teller would enter them: 0–6 names marked each, some spoiled."""
    rng = random.Random(seed)
    ballots: list[dict[str, Any]] = []
    for _ in range(count):
        if rng.random() < 0.01:
            ballots.append({"spoiled": rng.choice(("signed", "torn", "unreadable"))})
            continue
        picked = rng.sample(CANDIDATES, rng.randint(0, 6))
        ballots.append({"marks": {name: rng.choice(MARKS) for name in picked}})
    return {"present": count, "issued": count, "ballots": ballots}


def main() -> None:
    """Time screening and counting and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    payload = make_payload(args.ballots)
    parsed = [Ballot.from_json(b) for b in payload["ballots"]]

    def screen() -> object:
        assert not secrecy_violations(payload)
        return canonical_ballots(payload)

    def count() -> object:
        # What the tally_round action does with the same payload: read, then count.
        ballots = [Ballot.from_json(b) for b in payload["ballots"]]
        return tally_round(candidates=CANDIDATES, seats=SEATS, ballots=ballots, voters=len(parsed))

    t_check = best_of(args.repeat, lambda: secrecy_violations(payload))
    t_screen = best_of(args.repeat, screen)
    t_count = best_of(args.repeat, count)
    print(f"ballots: {len(parsed):,} × {len(CANDIDATES)} candidates, {SEATS} seats")
    print(f"secrecy_violations:        {t_check * 1000:.1f} ms (best of {args.repeat})")
    print(f"check + canonical order:   {t_screen * 1000:.1f} ms")
    print(f"read + tally_round:        {t_count * 1000:.1f} ms")
    print(f"ratio screening / (read + tally_round): {t_screen / t_count:.2f}")


if __name__ == "__main__":
    main()
