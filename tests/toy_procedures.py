"""A procedure of one event for tests that need nothing more: open → done, one clerk.

Several specifications need a procedure only as the frame of one event (its payload
schema, a guard, an action, the time zone). The frame is written here once; each test
writes the event it is about, so what it specifies stays in the test file.
"""

from __future__ import annotations

_FRAME = """\
{comment}id: {id}
version: "1.0.0"
title: {title}
{time_zone}rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
initial: open
states:
  open:
    label: 办理中
  done:
    label: 办结
    final: true
events:
"""

SCHEMA_COMMENT = "# yaml-language-server: $schema=../schemas/procedure.schema.json\n"


def one_event(
    id: str, title: str, events: str, *, time_zone: str = "", schema_comment: bool = False
) -> str:
    """The procedure text: the frame with ``events`` (YAML indented by two spaces) under
    ``events:``; the role is ``clerk``, the states ``open`` and the final ``done``."""
    return (
        _FRAME.format(
            comment=SCHEMA_COMMENT if schema_comment else "",
            id=id,
            title=title,
            time_zone=f"time_zone: {time_zone}\n" if time_zone else "",
        )
        + events
    )
