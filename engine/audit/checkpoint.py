"""Checkpoints: case heads published outside the store, so later changes can be caught.

A head is ``CASE:SEQ:HASH``: the case's last record when it was taken. Because
each record's hash covers the previous one, a head pins every record of its
case up to that seq. An auditor keeps heads from each visit (``yishi verify``
prints them); at the next visit ``yishi verify LOG --since HEADS`` proves the
records up to each kept head are unchanged and still present, and checks what
came after.

A checkpoint file holds every case head of a store at one moment, with its own
digest and, when the writer's key is given, an Ed25519 signature::

    {"checkpoint": 1, "made_at": "…", "heads": [{"case", "seq", "hash", "at"}, …],
     "digest": sha256 of the canonical JSON of the three fields before it,
     "signature": {"key": FINGERPRINT, "ed25519": BASE64}}

A heads file may also be plain text: one ``CASE:SEQ:HASH`` per line (``head ``
before it allowed, as ``yishi verify`` prints them); blank lines and lines
starting with ``#`` or ``ok:`` are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.audit.canonical import canonical_bytes
from engine.audit.signing import DOMAIN_CHECKPOINT, Signer, Verifier, short
from engine.audit.verify import CaseHead
from engine.errors import CheckpointInvalid as CheckpointInvalid

CHECKPOINT_VERSION = 1
_HEAD = re.compile(r"(?P<case>.+):(?P<seq>[1-9][0-9]{0,17}):(?P<hash>[0-9a-f]{64})")
_MAX_FILE = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptHeads:
    """Heads read from a file or the command line, and what vouches for them."""

    heads: tuple[CaseHead, ...]
    signed_by: str | None = None
    """The fingerprint of the key whose signature on the checkpoint was checked."""


def parse_head(text: str) -> CaseHead:
    """``CASE:SEQ:HASH`` as a head (the case id may itself contain colons).

    Raises:
        ValueError: when the text is not of that form.
    """
    match = _HEAD.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text.strip()[:80]!r} is not a head: expected CASE:SEQ:HASH "
            "(a seq ≥ 1 and 64 lower-case hex digits), as yishi verify prints it"
        )
    return CaseHead(case=match["case"], seq=int(match["seq"]), hash=match["hash"])


def checkpoint(
    heads: Iterable[tuple[CaseHead, str]], made_at: str, signer: Signer | None = None
) -> dict[str, Any]:
    """A checkpoint of ``heads`` (each with its record's time), with its digest.

    Args:
        heads: each case's head and the ``at`` of that record.
        made_at: when the checkpoint was taken (RFC 3339).
        signer: signs the digest when given.
    """
    body: dict[str, Any] = {
        "checkpoint": CHECKPOINT_VERSION,
        "made_at": made_at,
        "heads": [
            {"case": head.case, "seq": head.seq, "hash": head.hash, "at": at}
            for head, at in sorted(heads, key=lambda pair: pair[0].case)
        ],
    }
    digest = hashlib.sha256(canonical_bytes(body)).hexdigest()
    result = {**body, "digest": digest}
    if signer is not None:
        result["signature"] = signer.sign(DOMAIN_CHECKPOINT + digest.encode("ascii"))
    return result


def encode_checkpoint(value: Mapping[str, Any]) -> bytes:
    """The checkpoint as a file: indented JSON, one head per line group, newline at the end."""
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def read_heads(path: str | os.PathLike[str], verifier: Verifier | None = None) -> KeptHeads:
    """The heads in a checkpoint file (JSON) or a heads file (text).

    Args:
        path: the file.
        verifier: when given and the file is a checkpoint, its signature must be by
            this key and valid (an unsigned checkpoint is refused).

    Raises:
        CheckpointInvalid: the file cannot be read or used; the message names the
            file and, for a text file, the line.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except IsADirectoryError as exc:
        raise CheckpointInvalid(f"{path}: is a directory, not a heads file") from exc
    except OSError as exc:
        raise CheckpointInvalid(f"{path}: cannot read: {exc.strerror}") from exc
    if len(data) > _MAX_FILE:
        raise CheckpointInvalid(f"{path}: larger than {_MAX_FILE} bytes; not a heads file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointInvalid(f"{path}: not UTF-8 (byte {exc.start + 1})") from exc
    if text.lstrip().startswith("{"):
        return _checkpoint_heads(str(path), text, verifier)
    heads = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "ok:")):
            continue
        stripped = stripped.removeprefix("head ").strip()
        try:
            heads.append(parse_head(stripped))
        except ValueError as exc:
            raise CheckpointInvalid(f"{path}:{number}: {exc}") from exc
    if not heads:
        raise CheckpointInvalid(f"{path}: holds no heads (CASE:SEQ:HASH lines)")
    return KeptHeads(heads=_unique(str(path), heads))


def _checkpoint_heads(path: str, text: str, verifier: Verifier | None) -> KeptHeads:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CheckpointInvalid(f"{path}: not valid JSON: {exc}") from exc
    if (
        not isinstance(value, dict)
        or value.get("checkpoint") != CHECKPOINT_VERSION
        or not isinstance(value.get("heads"), list)
        or not isinstance(value.get("made_at"), str)
        or not isinstance(value.get("digest"), str)
        or not set(value) <= {"checkpoint", "made_at", "heads", "digest", "signature"}
    ):
        raise CheckpointInvalid(
            f"{path}: not a yishi checkpoint (expected checkpoint: 1, made_at, heads, digest)"
        )
    heads = []
    for index, item in enumerate(value["heads"]):
        if (
            not isinstance(item, dict)
            or set(item) != {"case", "seq", "hash", "at"}
            or not isinstance(item["case"], str)
            or type(item["seq"]) is not int
            or not isinstance(item["hash"], str)
        ):
            raise CheckpointInvalid(
                f"{path}: heads[{index}] must be {{case, seq, hash, at}}; found {str(item)[:80]}"
            )
        try:
            heads.append(parse_head(f"{item['case']}:{item['seq']}:{item['hash']}"))
        except ValueError as exc:
            raise CheckpointInvalid(f"{path}: heads[{index}]: {exc}") from exc
    body = {key: value[key] for key in ("checkpoint", "made_at", "heads")}
    try:
        digest = hashlib.sha256(canonical_bytes(body)).hexdigest()
    except ValueError as exc:
        raise CheckpointInvalid(f"{path}: {exc}") from exc
    if digest != value["digest"]:
        raise CheckpointInvalid(
            f"{path}: the checkpoint's digest says {value['digest'][:16]}…, its heads hash "
            f"to {digest[:16]}…: it was changed after it was made"
        )
    signed_by = None
    if verifier is not None:
        if "signature" not in value:
            raise CheckpointInvalid(
                f"{path}: the checkpoint is not signed, so key {short(verifier.fingerprint)}… "
                "cannot vouch for it"
            )
        reason = verifier.problem(value["signature"], DOMAIN_CHECKPOINT + digest.encode("ascii"))
        if reason is not None:
            raise CheckpointInvalid(f"{path}: {reason}")
        signed_by = verifier.fingerprint
    return KeptHeads(heads=_unique(path, heads), signed_by=signed_by)


def _unique(path: str, heads: list[CaseHead]) -> tuple[CaseHead, ...]:
    seen: dict[str, CaseHead] = {}
    for head in heads:
        earlier = seen.get(head.case)
        if earlier is not None and earlier != head:
            raise CheckpointInvalid(
                f"{path}: case {head.case} has two heads ({earlier.seq} and {head.seq}); "
                "keep one head per case"
            )
        seen[head.case] = head
    return tuple(seen.values())
