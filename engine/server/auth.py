"""Bearer tokens → who is calling: an actor, their roles, their units, admin or auditor.

The token file (YAML or JSON) maps each token to an actor::

    tokens:
      - actor: 张书记
        roles: [branch_secretary]
        units: [柳河县/城关镇/柳树村]   # the cases of this village only
        sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
      - actor: 县民政局
        auditor: true          # reads every case of the county, writes nothing
        units: [柳河县]
        sha256: …
      - actor: ops
        admin: true            # may register (and dry-run) procedures
        token: dev-only-token  # plain text: accepted, for development only

``units`` lists unit paths (``县/镇/村``); a unit covers itself and every unit
under it. An entry without ``units`` is not limited to any unit (so token files
written before units existed keep their meaning); ``units: []`` is refused as
ambiguous. What each kind of principal may do is ``Principal``'s to answer.

Only hashes need to be kept (``printf %s "$TOKEN" | sha256sum``). A presented token
is hashed and its sha256 looked up in a table keyed by the entries' hashes: one
hash and one lookup per request, however many entries the file holds, so a
stranger's bogus token costs no more with a county's token file than with one
entry. The lookup compares digests, never tokens: to learn anything from its
timing a caller would need tokens whose sha256 begins like a kept one's, which
tells them nothing about the token itself.
Tokens are never logged nor put in an error message; the file's problems name
the entry by its position, never by its token.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.definition.model import Procedure
from engine.errors import TokenFileError as TokenFileError
from engine.runtime.door import holds_role_in, may_open
from engine.runtime.types import Actor
from engine.units import InvalidUnit, check_unit, covered

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
MIN_TOKEN_LENGTH = 16
"""Plain-text tokens shorter than this are refused: they could be guessed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller and what they may do.

    Attributes:
        actor: the actor id recorded in the audit for their attempts.
        roles: the roles they hold (a procedure's roles give its rights).
        units: the unit paths whose cases they may see and act on; None: every unit.
        admin: may register procedures (and dry-run them).
        auditor: reads every case in their units, writes nothing.
    """

    actor: str
    roles: tuple[str, ...] = ()
    units: tuple[str, ...] | None = None
    admin: bool = False
    auditor: bool = False

    def as_actor(self) -> Actor:
        """The actor the engine records: this principal's id and roles."""
        return Actor(id=self.actor, roles=self.roles)

    def covers(self, unit: str) -> bool:
        """Whether ``unit`` lies within this principal's units ("" is covered only when
        the principal is not limited to units)."""
        return covered(self.units, unit)

    def may_read(self, unit: str) -> bool:
        """Whether they may read a case of ``unit``: its state, data, audit, verify, replay."""
        return self.covers(unit)

    def may_write(self, procedure: Procedure, unit: str) -> bool:
        """Whether they may attempt events on a case of ``procedure`` in ``unit``.

        Passing here lets the attempt be *recorded*; the event's own roles, the
        payload and the guards then decide whether it is applied.
        """
        return not self.auditor and self.covers(unit) and holds_role_in(procedure, self.as_actor())

    def may_open(self, procedure: Procedure, unit: str) -> bool:
        """Whether they may open a case of ``procedure`` in ``unit``."""
        return not self.auditor and self.covers(unit) and may_open(procedure, self.as_actor())


def token_hash(token: str) -> str:
    """The sha256 (hex) of a token's UTF-8 bytes, as the token file keeps it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenTable:
    """Looks up the principal a bearer token stands for: one sha256 and one keyed lookup,
    whatever the number of entries.

    Args:
        entries: ``(sha256 hex of the token, principal)`` pairs; a hash listed twice
            keeps its first principal (``parse_tokens`` refuses such a file).
    """

    def __init__(self, entries: list[tuple[str, Principal]]) -> None:
        self._by_digest: dict[bytes, Principal] = {}
        for digest, who in entries:
            self._by_digest.setdefault(bytes.fromhex(digest), who)

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, token: str) -> Principal | None:
        """The principal for ``token``, or None when no entry has its hash."""
        return self._by_digest.get(hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest())


def parse_tokens(document: Any, source: str) -> TokenTable:
    """Build a table from a parsed token file.

    Args:
        document: the parsed YAML/JSON (a mapping with a ``tokens`` list).
        source: the file name, for messages.

    Returns:
        The token table.

    Raises:
        TokenFileError: naming the entry (by position) and the mistake.
    """
    if not isinstance(document, dict) or not isinstance(document.get("tokens"), list):
        raise TokenFileError(f"{source}: expected a mapping with a 'tokens' list")
    unknown = sorted(set(document) - {"tokens"})
    if unknown:
        raise TokenFileError(f"{source}: unknown key(s) {', '.join(unknown)}; expected: tokens")
    entries: list[tuple[str, Principal]] = []
    seen: set[str] = set()
    for number, item in enumerate(document["tokens"], 1):
        where = f"{source}: tokens[{number}]"
        digest, who = _entry(item, where)
        if digest in seen:
            raise TokenFileError(f"{where}: the same token is listed twice")
        seen.add(digest)
        entries.append((digest, who))
    return TokenTable(entries)


def _entry(item: Any, where: str) -> tuple[str, Principal]:
    if not isinstance(item, dict):
        raise TokenFileError(f"{where}: expected a mapping with actor, roles and sha256")
    unknown = sorted(set(item) - _ENTRY_KEYS, key=str)
    if unknown:
        raise TokenFileError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
            "expected: actor, roles, units, admin, auditor, sha256 (or token)"
        )
    actor = item.get("actor")
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 128:
        raise TokenFileError(f"{where}: actor must be a non-empty text of at most 128 characters")
    roles = item.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and _ROLE.match(r) for r in roles):
        raise TokenFileError(f"{where}: roles must be a list of role ids such as branch_secretary")
    admin = item.get("admin", False)
    if not isinstance(admin, bool):
        raise TokenFileError(f"{where}: admin must be true or false")
    auditor = item.get("auditor", False)
    if not isinstance(auditor, bool):
        raise TokenFileError(f"{where}: auditor must be true or false")
    units = _units(item, where)
    if ("sha256" in item) == ("token" in item):
        raise TokenFileError(f"{where}: give exactly one of sha256 (preferred) or token")
    if "sha256" in item:
        digest = item["sha256"]
        if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
            raise TokenFileError(f"{where}: sha256 must be 64 hexadecimal digits")
        digest = digest.lower()
    else:
        token = item["token"]
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            raise TokenFileError(f"{where}: token must be at least {MIN_TOKEN_LENGTH} characters")
        digest = token_hash(token)
    who = Principal(actor=actor, roles=tuple(roles), units=units, admin=admin, auditor=auditor)
    return digest, who


_ENTRY_KEYS = frozenset({"actor", "roles", "units", "admin", "auditor", "sha256", "token"})


def _units(item: dict[str, Any], where: str) -> tuple[str, ...] | None:
    if "units" not in item:
        return None
    units = item["units"]
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        raise TokenFileError(
            f"{where}: units must be a non-empty list of unit paths such as 柳河县/城关镇 "
            "(leave units out for a token not limited to units)"
        )
    for unit in units:
        try:
            if check_unit(unit) == "":
                raise InvalidUnit("a unit path cannot be empty")
        except InvalidUnit as exc:
            raise TokenFileError(f"{where}: {exc}") from None
    return tuple(units)


def load_tokens(path: str | Path) -> TokenTable:
    """Read a token file (YAML or JSON; JSON is YAML too).

    Raises:
        TokenFileError: when it is missing, unreadable, not YAML/JSON, or has a mistake.
    """
    import yaml

    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"{path}: cannot read the token file: {exc}") from exc
    try:
        document = json.loads(text) if target.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        # The parser's message may quote a line of the file, and so a token: say only where.
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if isinstance(line, int) else ""
        raise TokenFileError(f"{path}: the token file is not valid YAML/JSON{at}") from None
    return parse_tokens(document, str(path))
