"""What wall-clock time an instant is, in a procedure's declared IANA time zone.

An instant has one meaning whatever offset a client wrote it with, but "17:00" or
"a working day" depend on whose wall clock is asked. A procedure names its zone
(``time_zone``, Asia/Shanghai when omitted); this module is the one place that
turns an instant into that zone's wall-clock time, for CEL's ``now`` and time
getters and for working-day deadlines. It lives beside the guards so that the
definition layer can check a zone name without importing the runtime.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Asia/Shanghai"

_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*$")
# Files in the zone database that are not zones: "localtime" is whatever the host is set
# to, so a procedure naming it would mean different hours on different machines.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "posix", "right"})


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Shanghai``).

    Raises:
        ValueError: when the name is not an IANA time zone.
    """
    problem = f"{name!r} is not an IANA time zone; write e.g. {DEFAULT_TIME_ZONE}"
    if not _ZONE_NAME.match(name) or name.split("/", maxsplit=1)[0] in _NOT_ZONES:
        raise ValueError(problem)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(problem) from exc


def local_time(at: datetime, zone_name: str = DEFAULT_TIME_ZONE) -> datetime:
    """The instant ``at`` as wall-clock time in ``zone_name``, with a fixed offset.

    The offset is the one the zone had at that instant; a fixed offset (not the
    zone object) is what the CEL core accepts, and getters then read the zone's
    hours and days.
    """
    local = at.astimezone(zone(zone_name))
    offset = local.utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return local.replace(tzinfo=timezone(offset))
