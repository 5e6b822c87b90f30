"""``yishi keygen`` and ``yishi checkpoint``: the writer's signing key and published heads.

The key signs records (``--signing-key`` on ``yishi serve`` and ``yishi case``)
and checkpoints; it lives in a file the database never holds, so write access to
the database alone cannot forge a signed trail. A checkpoint lists every case
head of a store, to publish where the store's writers cannot reach (a notice
board, a results report, an auditor's files).
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.case_support import fail, guarded


def run_keygen(path: Path) -> int:
    """Write a new private key to ``path`` and its public key to ``path.pub``."""
    from engine.audit.signing import Signer, short, write_keypair

    def run() -> int:
        signer = Signer.generate()
        public = write_keypair(path, signer)
        print(f"private key: {path} (keep it from the database and its backups)")
        print(f"public key:  {public} (give it to auditors)")
        print(f"fingerprint: {signer.fingerprint} ({short(signer.fingerprint)}…)")
        return 0

    return guarded(run)


def run_checkpoint(db: str | None, *, out: Path | None, signing_key: Path | None) -> int:
    """Print or write a checkpoint of every case head in the store ``db``."""
    from engine.audit.checkpoint import checkpoint, encode_checkpoint
    from engine.audit.signing import load_signer
    from engine.cli.case_support import engine_on
    from engine.runtime.clock import SystemClock, format_time

    def run() -> int:
        signer = load_signer(signing_key) if signing_key is not None else None
        with engine_on(db) as engine:
            heads = engine.heads()
        if not heads:
            return fail("the store holds no cases: there is no head to publish")
        made = checkpoint(heads, format_time(SystemClock().now()), signer)
        data = encode_checkpoint(made)
        if out is None:
            sys.stdout.write(data.decode("utf-8"))
        else:
            out.write_bytes(data)
            print(f"{out}: {len(heads)} case head(s), digest {made['digest']}")
        return 0

    return guarded(run)
