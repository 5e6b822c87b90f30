"""What Ed25519 signatures cost: signed against unsigned events, keyed against bare verify.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/signing_bench.py [--events N]

Figures (CPU time, best of several interleaved rounds; ratios, never pass/fail):

* **signed / unsigned engine events**: events/s of ``Engine.fire`` in memory with a
  signer, against the same engine without one (bench/engine_bench.py's event).
* **keyed / unkeyed verify**: records/s of ``verify_bytes`` over the signed log
  with the public key (every signature checked), against the same call without it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.audit.jsonl import encode_line  # noqa: E402
from engine.audit.signing import Signer, Verifier  # noqa: E402
from engine.audit.verify import verify_bytes  # noqa: E402
from engine.definition.loader import load_procedure  # noqa: E402
from engine.runtime.clock import FixedClock  # noqa: E402
from engine.runtime.engine import Engine  # noqa: E402
from engine.runtime.types import Actor  # noqa: E402
from engine.storage.memory import MemoryStore  # noqa: E402

PROCEDURE = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
SECRETARY = Actor(id="张书记", roles=("branch_secretary",))
DATA = {
    "matter": "村内主干道硬化",
    "branch_committee_members": 5,
    "two_committees_members": 9,
    "voting_party_members": 41,
    "representatives": 57,
    "reconvened": 0,
}
PAYLOAD = {"present": 2, "yes": 2}  # the self-loop "另行召开": any number of events


def _fire_round(signer: Signer | None, events: int) -> tuple[float, Engine]:
    engine = Engine(store=MemoryStore(), clock=FixedClock(T0), signer=signer)
    compiled = load_procedure(PROCEDURE)
    engine.open_case(compiled, "c1", DATA, actor=SECRETARY, at=T0)
    start = time.process_time()
    for _ in range(events):
        engine.fire("c1", "propose", actor=SECRETARY, payload=PAYLOAD, at=T0)
    return time.process_time() - start, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    signer = Signer.generate()
    verifier = Verifier(signer.public)
    plain_best = signed_best = keyed_best = bare_best = float("inf")
    log = b""
    for _ in range(args.rounds):
        plain, _engine = _fire_round(None, args.events)
        signed, engine = _fire_round(signer, args.events)
        plain_best, signed_best = min(plain_best, plain), min(signed_best, signed)
        log = b"".join(encode_line(r) for r in engine.records("c1"))
        start = time.process_time()
        assert verify_bytes(log).ok
        bare_best = min(bare_best, time.process_time() - start)
        start = time.process_time()
        assert verify_bytes(log, verifier=verifier).ok
        keyed_best = min(keyed_best, time.process_time() - start)
    records = log.count(b"\n")
    print(f"events per round: {args.events}; CPU time, best of {args.rounds} rounds")
    print(f"unsigned engine events : {args.events / plain_best:10,.0f} events/s")
    print(f"signed engine events   : {args.events / signed_best:10,.0f} events/s")
    print(f"  ratio signed/unsigned: {plain_best / signed_best:10.3f}")
    print(f"verify, no key         : {records / bare_best:10,.0f} records/s")
    print(f"verify, every signature: {records / keyed_best:10,.0f} records/s")
    print(f"  ratio keyed/unkeyed  : {bare_best / keyed_best:10.3f}")


if __name__ == "__main__":
    main()
