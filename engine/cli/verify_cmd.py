"""``yishi verify FILE``: check every hash chain; name the first bad case and seq.

On success it says what was checked (a chain alone proves only that the copy
matches itself; signatures by a key and kept heads prove more) and prints each
case's head as ``head CASE:SEQ:HASH``, a line an auditor can keep and give back
with ``--since`` at the next visit.

Exit codes: 0 every chain intact; 1 the log is damaged or does not hold what the
key or the kept heads require (printed as ``FILE:LINE: case C seq S: what is
wrong``), or the log is empty; 2 the file, key or heads cannot be read at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.audit import LogUnreadable, verify_file
from engine.audit.checkpoint import CheckpointInvalid, parse_head, read_heads
from engine.audit.signing import KeyFileError, Verifier, load_verifier
from engine.audit.verify import CaseHead


def run_verify(
    path: Path,
    *,
    public_key: Path | None = None,
    since: list[str] | None = None,
    checkpoints: list[Path] | None = None,
) -> int:
    """Verify ``path``, print the outcome, return the exit code.

    Args:
        path: the audit log (JSON Lines).
        public_key: when given, every case must be signed by this key.
        since: kept heads, each ``CASE:SEQ:HASH`` or a heads/checkpoint file.
        checkpoints: published checkpoint files (their signatures are checked with
            ``public_key`` when given).

    Returns:
        0 when intact, 1 at the first problem, 2 when an input cannot be read.
    """
    try:
        verifier = load_verifier(public_key) if public_key is not None else None
        kept = _kept_heads(since or [], checkpoints or [], verifier)
        report = verify_file(path, verifier=verifier, since=kept)
    except LogUnreadable as exc:
        print(exc, file=sys.stderr)  # "FILE: why": it names the file already
        return 2
    except (KeyFileError, CheckpointInvalid) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if report.failure is None:
        print(f"{report.message}: {report.proves}")
        for head in report.heads:
            print(f"head {head}")
        return 0
    failure = report.failure
    where = f"{path}:{failure.line}" if failure.line else f"{path}"
    print(f"{where}: {failure.where}{failure.message}")
    return 1


def _kept_heads(
    since: list[str], checkpoints: list[Path], verifier: Verifier | None
) -> list[CaseHead]:
    heads: dict[str, CaseHead] = {}
    sources: list[tuple[CaseHead, ...]] = []
    for item in since:
        try:
            sources.append((parse_head(item),))
        except ValueError as exc:
            if not Path(item).exists():
                raise CheckpointInvalid(f"--since: {exc}; nor is it a file") from None
            sources.append(read_heads(item).heads)
    for file in checkpoints:
        sources.append(read_heads(file, verifier).heads)
    for group in sources:
        for head in group:
            earlier = heads.get(head.case)
            if earlier is not None and earlier != head:
                raise CheckpointInvalid(
                    f"case {head.case} is given two kept heads (seq {earlier.seq} and "
                    f"{head.seq}); give one per case"
                )
            heads[head.case] = head
    return list(heads.values())
