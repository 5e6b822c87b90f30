"""Ed25519 signatures on audit records and checkpoints, with a key kept apart from the store.

An unkeyed hash chain proves only that a copy matches itself: anyone who can
write the database can rewrite a trail and re-seal every hash. A signature made
with a private key that only the writer process holds (a key file given to
``yishi serve`` or ``yishi case``, never stored in the database) cannot be
re-made by someone with database access alone. Auditors get the public key.

A signed record carries ``signature: {"key": FINGERPRINT, "ed25519": BASE64}``.
The signature is over ``DOMAIN_RECORD`` followed by the canonical bytes of the
record without ``hash`` and ``signature``; the record's ``hash`` then covers the
signature too. Because the signed bytes include ``prev``, one valid signature
vouches for every earlier record of its case.

Key files are PEM (PKCS#8 for the private key, SubjectPublicKeyInfo for the
public one), as ``openssl genpkey -algorithm ed25519`` writes them too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from engine.audit.canonical import canonical_bytes
from engine.errors import KeyFileError as KeyFileError

DOMAIN_RECORD = b"yishi audit record v1\n"
"""Prefix of the bytes a record signature covers (a record signature is never a checkpoint's)."""

DOMAIN_CHECKPOINT = b"yishi checkpoint v1\n"
"""Prefix of the bytes a checkpoint signature covers."""

_UNSIGNED = frozenset({"hash", "signature"})


def fingerprint(public: Ed25519PublicKey) -> str:
    """The key's fingerprint: sha256 of its 32 raw bytes, as 64 hex digits."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def short(fingerprint_hex: str) -> str:
    """The first 16 hex digits of a fingerprint, as messages show it."""
    return fingerprint_hex[:16]


def record_body(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's signature covers."""
    return DOMAIN_RECORD + canonical_bytes(
        {key: value for key, value in record.items() if key not in _UNSIGNED}
    )


class Signer:
    """Signs records and checkpoints with one private key."""

    __slots__ = ("_private", "fingerprint", "public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.fingerprint = fingerprint(self.public)

    @classmethod
    def generate(cls) -> Signer:
        """A signer with a fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> dict[str, str]:
        """``{"key": fingerprint, "ed25519": base64 signature}`` of ``message``."""
        signature = base64.b64encode(self._private.sign(message)).decode("ascii")
        return {"key": self.fingerprint, "ed25519": signature}

    def sign_record(self, record: Mapping[str, Any]) -> dict[str, str]:
        """The ``signature`` field for ``record`` (its other fields, ``prev`` included)."""
        return self.sign(record_body(record))

    def sign_body(self, body: bytes) -> dict[str, str]:
        """The ``signature`` field for a record whose canonical bytes without ``hash``
        and ``signature`` are ``body`` (what ``sign_record`` signs, already encoded)."""
        return self.sign(DOMAIN_RECORD + body)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (what ``yishi keygen`` writes)."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM (what auditors get)."""
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Verifier:
    """Checks signatures made by one public key."""

    __slots__ = ("fingerprint", "public")

    def __init__(self, public: Ed25519PublicKey) -> None:
        self.public = public
        self.fingerprint = fingerprint(public)

    def record_problem(self, signature: object, body: bytes) -> str | None:
        """``problem`` for a record whose bytes without hash and signature are ``body``."""
        return self.problem(signature, DOMAIN_RECORD + body)

    def problem(self, signature: object, message: bytes) -> str | None:
        """Why ``signature`` (a record's ``signature`` field) is not valid for ``message``.

        Returns:
            None when it is valid; otherwise a short reason.
        """
        if not isinstance(signature, Mapping) or set(signature) != {"key", "ed25519"}:
            return 'the signature must be {"key": fingerprint, "ed25519": base64}'
        key, value = signature["key"], signature["ed25519"]
        if key != self.fingerprint:
            return (
                f"signed by key {short(str(key))}…, not by the key given "
                f"({short(self.fingerprint)}…)"
            )
        try:
            raw = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            return "the signature is not base64"
        try:
            self.public.verify(raw, message)
        except InvalidSignature:
            return f"the signature by key {short(self.fingerprint)}… does not match what it signs"
        return None


def load_signer(path: str | os.PathLike[str]) -> Signer:
    """The signer whose private key is in ``path`` (PEM, unencrypted).

    Raises:
        KeyFileError: the file cannot be read or holds no Ed25519 private key.
    """
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(
            f"{path}: not an unencrypted PEM private key (make one with yishi keygen)"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: the key is not an Ed25519 key (make one with yishi keygen)")
    return Signer(key)


def load_verifier(path: str | os.PathLike[str]) -> Verifier:
    """The verifier for the public key in ``path`` (PEM); a private key file also works.

    Raises:
        KeyFileError: the file cannot be read or holds no Ed25519 key.
    """
    data = _read(path, "public key")
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path}: not a PEM Ed25519 public key") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFileError(f"{path}: the key is not an Ed25519 key") from None
        public = private.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFileError(f"{path}: the key is not an Ed25519 key")
    return Verifier(public)


def write_keypair(path: str | os.PathLike[str], signer: Signer) -> Path:
    """Write the private key to ``path`` (mode 0600, never over an existing file)
    and the public key beside it as ``path.pub``; return the public key's path.

    Raises:
        KeyFileError: a file is already there or cannot be written.
    """
    target = Path(path)
    public = target.with_name(target.name + ".pub")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{target}: already exists; keys are never overwritten") from exc
    except OSError as exc:
        raise KeyFileError(f"{target}: cannot write the key: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(signer.private_pem())
    try:
        with open(public, "xb") as handle:
            handle.write(signer.public_pem())
    except OSError as exc:
        raise KeyFileError(f"{public}: cannot write the public key: {exc.strerror}") from exc
    return public


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(65536)
    except IsADirectoryError as exc:
        raise KeyFileError(f"{path}: is a directory, not a {what} file") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {what}: {exc.strerror}") from exc
    return data
