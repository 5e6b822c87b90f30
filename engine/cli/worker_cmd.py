"""``yishi worker``: fire due timers from a store, in a loop or once.

Each round claims at most ``--batch`` due timers (with PostgreSQL, several
workers share them through ``FOR UPDATE SKIP LOCKED``) and fires each at its own
due time as the system actor. A timer another worker fired first, or a case
that moved meanwhile, is skipped: the expected seq makes every timer fire once.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

MAX_ONCE_ROUNDS = 100_000
"""With ``--once``, rounds of ``--batch`` timers before giving up on a runaway timer."""


def run_worker(
    db: str | None,
    *,
    once: bool = False,
    interval: float = 1.0,
    batch: int = 100,
    now: str | None = None,
    as_json: bool = False,
    signing_key: Path | None = None,
) -> int:
    """Fire due timers until interrupted (or, with ``once``, until none is due).

    With ``once``, every due period of every case is fired before it returns: a
    timer whose firing arms another deadline already past is fired again.

    Args:
        db: the store URL (``$YISHI_DB`` or ``sqlite:///yishi.db`` when None).
        once: fire what is due now, then exit.
        interval: seconds to sleep when nothing was due.
        batch: timers claimed per round.
        now: fire timers due at this RFC 3339 time instead of the clock's now.
        as_json: print one JSON object per fired timer.
        signing_key: sign the timer records with this key (as the server signs its own,
            so that a signed case stays signed to its end).

    Returns:
        0 when it stopped normally; 1 on an error (printed as one line).
    """
    from engine.cli.case_support import UsageProblem, engine_on, fail, guarded, parse_at

    def run() -> int:
        moment: datetime | None = parse_at(now)
        fired = 0
        rounds = 0
        with engine_on(db, signing_key) as engine:
            if once and moment is None:
                # One "now" for the whole run: a periodic deadline re-armed by its own
                # firing is fired again while still due, and the loop ends when none is.
                moment = engine.clock.now()
            while True:
                try:
                    outcomes = engine.tick(moment, limit=batch)
                except KeyboardInterrupt:
                    break
                for outcome in outcomes:
                    fired += 1
                    _report(outcome.case, outcome.seq, outcome.status, outcome.to_state, as_json)
                # A fired timer may arm the next period of the same case, due already
                # (a quarterly disclosure months behind): --once goes on until a round
                # fires nothing, so it exits with no timer overdue.
                if once and not outcomes:
                    break
                rounds += 1
                if once and rounds >= MAX_ONCE_ROUNDS:
                    # Only a timer that re-arms itself due at once, for ever, gets here.
                    print(
                        f"worker: stopped after {rounds} rounds ({fired} timer(s) fired) "
                        "with timers still due; check the procedure's deadlines",
                        file=sys.stderr,
                    )
                    return 1
                if not outcomes:
                    try:
                        time.sleep(interval)
                    except KeyboardInterrupt:
                        break
        if not as_json:
            print(f"worker: fired {fired} timer(s)", file=sys.stderr)
        return 0

    if batch < 1:
        return fail("--batch must be 1 or more")
    if not 0 <= interval <= 3600:  # also refuses nan, which every comparison lets through
        return fail(f"--interval must be 0 to 3600 seconds, not {interval}")
    try:
        return guarded(run)
    except UsageProblem as exc:  # pragma: no cover - guarded handles it
        return fail(str(exc))


def _report(case: str, seq: int, status: str, to: str, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps({"case": case, "seq": seq, "status": status, "to": to}, ensure_ascii=False)
        )
    else:
        print(f"timer fired: case {case} seq {seq} {status} → {to}")
    sys.stdout.flush()
