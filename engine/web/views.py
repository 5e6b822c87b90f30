"""What a case page shows, worked out from the records: timeline rows, deadlines, chain status.

Everything here reads the audit records as they are stored and puts them in the
procedure's own words (state and event labels, guard explanations, action
results); nothing is recomputed, so the page says exactly what the log says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.definition.model import Procedure

MAX_DAYS_COUNTED = 800
"""Working days are counted one by one; a deadline further off is shown in calendar days."""

KIND_WORDS = {
    "case.opened": "立案 opened",
    "event.applied": "通过 applied",
    "event.refused": "未通过 refused",
    "timer.fired": "期满 timer",
    "case.migrated": "改用新版规程 migrated",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardRow:
    """One guard as the timeline shows it."""

    label: str
    explanation: str
    result: bool
    transition: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineRow:
    """One record as the timeline shows it."""

    seq: int
    at: str
    kind: str
    kind_words: str
    applied: bool
    actor: str
    event: str
    event_label: str
    move: str
    payload: str
    guards: tuple[GuardRow, ...]
    actions: tuple[str, ...]
    reason: str
    details: tuple[str, ...]


def _label(procedure: Procedure | None, state: object) -> str:
    if not isinstance(state, str):
        return ""
    found = procedure.states.get(state) if procedure is not None else None
    return f"{found.label} ({state})" if found is not None else state


def _move(procedure: Procedure | None, record: Mapping[str, Any]) -> str:
    target = _label(procedure, record.get("to"))
    if not record.get("from"):
        return f"→ {target}"
    return f"{_label(procedure, record.get('from'))} → {target}"


def _action_lines(record: Mapping[str, Any]) -> tuple[str, ...]:
    lines: list[str] = []
    for action in record.get("actions") or []:
        if not isinstance(action, Mapping):
            continue
        output = action.get("output")
        explanation = output.get("explanation") if isinstance(output, Mapping) else None
        name = str(action.get("name", ""))
        if isinstance(explanation, str):
            lines.append(f"{name}: {explanation}")
        elif isinstance(explanation, list):
            lines.extend(f"{name}: {line}" for line in explanation)
        else:
            lines.append(f"{name}: {_compact(output)}")
    return tuple(lines)


def shown(value: Any) -> str:
    """A data value as a person reads it: text as it is, anything else as compact JSON."""
    return value if isinstance(value, str) else _compact(value, limit=2000)


def _compact(value: Any, limit: int = 400) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline(
    records: Sequence[Mapping[str, Any]], procedure: Procedure | None
) -> list[TimelineRow]:
    """The timeline rows of a case's records, newest last."""
    rows = []
    for record in records:
        event = record.get("event")
        spec = procedure.events.get(event) if procedure is not None and event else None
        reason = record.get("reason") if isinstance(record.get("reason"), Mapping) else None
        details = []
        for item in (reason or {}).get("details") or []:
            if isinstance(item, Mapping) and "path" in item:
                details.append(f"{item.get('path')}: {item.get('message', '')}")
            elif not record.get("guards"):
                # A guards-failed reason lists the guards again: the guard list says it.
                details.append(item if isinstance(item, str) else _compact(item))
        actor = record.get("actor")
        rows.append(
            TimelineRow(
                seq=int(record.get("seq", 0)),
                at=str(record.get("at", "")),
                kind=str(record.get("kind", "")),
                kind_words=KIND_WORDS.get(str(record.get("kind")), str(record.get("kind"))),
                applied=record.get("kind") != "event.refused" and reason is None,
                actor=str(actor.get("id", "")) if isinstance(actor, Mapping) else "",
                event=str(event or ""),
                event_label=spec.label if spec is not None else "",
                move=_move(procedure, record),
                payload=_compact(record.get("payload") or {}) if record.get("payload") else "",
                guards=tuple(
                    GuardRow(
                        label=str(g.get("label") or g.get("kind") or ""),
                        explanation=str(g.get("explanation", "")),
                        result=bool(g.get("result")),
                        transition=g.get("transition"),
                    )
                    for g in record.get("guards") or []
                    if isinstance(g, Mapping)
                ),
                actions=_action_lines(record),
                reason=f"[{reason.get('code')}] {reason.get('message')}" if reason else "",
                details=tuple(details),
            )
        )
    return rows


def _parse(moment: object) -> datetime | None:
    if isinstance(moment, datetime):
        return moment
    if isinstance(moment, str):
        try:
            return datetime.fromisoformat(moment)
        except ValueError:
            return None
    return None


DEFAULT_ZONE = "Asia/Shanghai"


def zone_of(procedure: Procedure | None) -> tzinfo:
    """The procedure's time zone (``time_zone`` when it declares one), else Asia/Shanghai."""
    name = getattr(procedure, "time_zone", None) or DEFAULT_ZONE
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_time(moment: object, zone: tzinfo) -> str:
    """An instant as the procedure's people read it: ``2024-03-23 09:00`` in its zone."""
    when = _parse(moment)
    if when is None or when.tzinfo is None:
        return str(moment)
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def remaining(due: object, now: datetime, days: str, zone: tzinfo | None = None) -> str:
    """How long is left until ``due``, in the procedure's own days (calendar or working).

    Working days are counted on the dates of ``zone`` (the procedure's time zone).
    """
    when = _parse(due)
    if when is None:
        return ""
    if zone is not None:
        when = when.astimezone(zone)
    local_now = now.astimezone(when.tzinfo)
    if when <= local_now:
        return "已到期 due now"
    if days == "working":
        from engine.runtime.deadlines import CalendarUnavailable, is_working_day

        start: date = local_now.date()
        end: date = when.date()
        if (end - start).days <= MAX_DAYS_COUNTED:
            try:
                count = sum(
                    1
                    for n in range(1, (end - start).days + 1)
                    if is_working_day(start + timedelta(days=n))
                )
            except CalendarUnavailable:  # no official calendar for that year: calendar days
                count = -1
            if count >= 0:
                return f"还剩 {count} 个工作日 ({count} working days)"
    left = when - local_now
    whole = left.days
    hours = left.seconds // 3600
    return f"还剩 {whole} 天 {hours} 小时 ({whole} days {hours} h)"
