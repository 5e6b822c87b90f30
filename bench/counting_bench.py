"""count_vote (the procedure's own counting rule) against tally_round on the same ballots.

Both read 100,000 JSON ballots × 10 candidates for 5 seats the way their actions do
(each ballot parsed by ``Ballot.from_json``), check every ballot, count and decide; the
ratio says what the general vocabulary costs against the party-election count it
generalises. The DESIGN goal for a tally of 100,000 ballots × 10 candidates is < 1 s.

Run: ``.venv/bin/python bench/counting_bench.py [--ballots N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
from typing import Any

from tally_bench import CANDIDATES, best_of
from tally_bench import make_ballots as tally_ballots

from engine.governance.ballots import Ballot, tally_round
from engine.governance.counting import VoteInputs, count_vote
from engine.governance.counting_rule import parse_rule

SEATS = 5
RULE = parse_rule(
    "bench",
    {
        "label": "选举",
        "form": "approval",
        "seats": SEATS,
        "decide": {"threshold": {"base": "present", "more_than": "1/2"}},
    },
)


def make_ballots(count: int) -> list[dict[str, Any]]:
    """tally_bench's random ballots, written as the JSON a payload carries."""
    return [
        {
            "marks": {
                **dict.fromkeys(b.approve, "approve"),
                **dict.fromkeys(b.disapprove, "disapprove"),
            }
        }
        for b in tally_ballots(count)
    ]


def main() -> None:
    """Time both and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw = make_ballots(args.ballots)

    def general() -> object:
        inputs = VoteInputs(present=len(raw), candidates=CANDIDATES, ballots=raw)
        return count_vote(RULE, inputs)

    def party() -> object:
        ballots = [Ballot.from_json(b) for b in raw]
        return tally_round(candidates=CANDIDATES, seats=SEATS, ballots=ballots, voters=len(raw))

    record = count_vote(RULE, VoteInputs(present=len(raw), candidates=CANDIDATES, ballots=raw))
    t_general = best_of(args.repeat, general)
    t_party = best_of(args.repeat, party)
    print(f"ballots: {len(raw):,} × {len(CANDIDATES)} candidates, {SEATS} seats")
    print(f"status {record.status}; ballots {record.record()['ballots']}")
    print(f"count_vote  {t_general:.3f} s")
    print(f"tally_round {t_party:.3f} s")
    print(f"ratio count_vote / tally_round: {t_general / t_party:.2f}")


if __name__ == "__main__":
    main()
