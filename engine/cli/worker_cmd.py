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
        with engine_on(db, signing_key) as engine:
            while True:
                try:
                    outcomes = engine.tick(moment, limit=batch)
                except KeyboardInterrupt:
                    break
                for outcome in outcomes:
                    fired += 1
                    _report(outcome.case, outcome.seq, outcome.status, outcome.to_state, as_json)
                if once and len(outcomes) < batch:
                    break
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
