"""iCalendar text -> EventRecord: one calendar object (all VEVENTs of one UID), expanded (pure).

Recurring series go through `parse.recurrence` (bounded work); a plain one-off
event skips that machinery (`one_off_record`), and the fast path (`parse.fast`)
builds the same record without icalendar's parser. Zones named by IANA or
Windows names come from the zone database, never from the object's VTIMEZONE
(`parse.zones`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

import icalendar
from icalendar.parser.content_line import NEWLINE, UFOLD

from nudge.core.identity import normalise_email
from nudge.core.records import Attendee, EventRecord, Occurrence, clean_line
from nudge.parse import recurrence
from nudge.parse.base import ParseError, short_reason
from nudge.parse.text import block_uid, event_key
from nudge.parse.zones import by_iana_name, drop_known_timezones

MAX_OCCURRENCES = recurrence.MAX_OCCURRENCES


def as_utc(value: date | datetime, tz: tzinfo) -> datetime:
    """Aware UTC; floating times are the user's zone, all-day events count at local noon."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(12, 0))
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _addresses(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _occurrence(event: Mapping[str, Any], tz: tzinfo) -> Occurrence:
    start = as_utc(event["DTSTART"].dt, tz)
    rid = event.get("RECURRENCE-ID")
    rid_utc = as_utc(rid.dt, tz) if rid is not None else start
    organizer = None
    if event.get("ORGANIZER") is not None:
        organizer = normalise_email(str(event["ORGANIZER"]))
    attendees = []
    for address in _addresses(event.get("ATTENDEE")):
        params = getattr(address, "params", {})
        attendees.append(
            Attendee(
                email=normalise_email(str(address)),
                name=str(params.get("CN", "")),
                declined=str(params.get("PARTSTAT", "")).upper() == "DECLINED",
                person=str(params.get("CUTYPE", "INDIVIDUAL")).upper() not in ("ROOM", "RESOURCE"),
            )
        )
    return Occurrence(
        recurrence_id=rid_utc.strftime("%Y%m%dT%H%M%SZ"),
        start=start,
        summary=str(event.get("SUMMARY", "")).strip(),
        cancelled=str(event.get("STATUS", "")).upper() == "CANCELLED",
        organizer=organizer,
        attendees=tuple(attendees),
    )


# What nudge (`_occurrence`, `one_off_record`) and recurring-ical-events read of a VEVENT.
_READ = frozenset(
    {"UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID"}
    | {"SEQUENCE", "SUMMARY", "STATUS", "ORGANIZER", "ATTENDEE"}
)
_TOKEN = re.compile(r"[A-Za-z0-9-]+")
_UNFOLD, _NEWLINE = UFOLD, NEWLINE  # icalendar's own unfolding and line splitting


def trim(text: str) -> str:
    """`text` without what no reader of an event looks at: VALARMs and the VEVENT properties not in _READ.

    Real events carry long folded DESCRIPTIONs (meeting links), alarms and
    vendor properties; icalendar would build objects for all of them. Lines are
    unfolded and split as icalendar itself does (so what it reads of the rest is
    unchanged); an object whose BEGIN and END lines do not pair up is left as it is.
    """
    out: list[str] = []
    stack: list[str] = []
    for line in _NEWLINE.split(_UNFOLD.sub("", text)):
        if not line:
            continue
        head, _, value = line.partition(":")
        name, value = head.split(";", 1)[0].upper(), value.upper()
        if name == "BEGIN":
            stack.append(value)
        dropping = stack[:3] == ["VCALENDAR", "VEVENT", "VALARM"] or (
            stack == ["VCALENDAR", "VEVENT"]
            and name not in _READ
            and name not in ("BEGIN", "END")
            and _TOKEN.fullmatch(name) is not None
        )
        if name == "END":
            if not stack or stack[-1] != value:
                return text
            stack.pop()
        if not dropping:
            out.append(by_iana_name(line))
    return text if stack else "\r\n".join(out) + "\r\n"


def parse_ical(text: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> EventRecord:
    """One calendar object (all VEVENTs of one UID) expanded within the window."""
    try:
        cal = icalendar.Calendar.from_ical(trim(drop_known_timezones(text)))
    except Exception as e:
        raise ParseError(
            f"unreadable iCalendar: {short_reason(e)}", block_uid(text) or event_key(text)
        ) from e
    events = [c for c in cal.walk("VEVENT")]
    if not events:
        raise ParseError("no VEVENT")
    uid = clean_line(str(events[0].get("UID", "")).strip()) or event_key(text)
    if not uid:
        raise ParseError("no UID and no DTSTART")
    try:
        return _expand(cal, events, uid, tz, window_start, window_end)
    except ParseError:
        raise
    except (recurrence.TooManyOccurrences, recurrence.BadRule) as e:
        raise ParseError(str(e), uid) from e
    except Exception as e:
        raise ParseError(f"bad event: {short_reason(e)}", uid) from e


def _expand(
    cal: Any, events: list[Any], uid: str, tz: tzinfo, window_start: datetime, window_end: datetime
) -> EventRecord:
    for event in events:
        if event.get("DTSTART") is None:
            raise ParseError("no DTSTART", uid)
        event["DTSTART"].dt  # noqa: B018 - raises on a malformed value
    recurring = any(e.get("RRULE") is not None or e.get("RDATE") is not None for e in events)
    if len(events) == 1 and not recurring and events[0].get("RECURRENCE-ID") is None:
        return one_off_record(events[0], uid, tz, window_start, window_end)
    inside, after = recurrence.occurrences(cal, tz, window_start, window_end)
    one_master = sum(1 for e in events if e.get("RECURRENCE-ID") is None) == 1
    master: Occurrence | None = None
    found = []
    for occ in inside:
        if one_master and not occ.recurrence_ids:
            # An instance of the one series: the component recurring-ical-events would copy for it
            # differs from the series' first only in DTSTART/DTEND and a RECURRENCE-ID equal to
            # DTSTART, so its record is the first's with the start (and the key) moved.
            if master is None:
                master = _occurrence(occ.as_component(False), tz)
            start = as_utc(occ.start, tz)
            found.append(replace(master, start=start, recurrence_id=start.strftime("%Y%m%dT%H%M%SZ")))
        else:
            found.append(_occurrence(occ.as_component(False), tz))
    occurrences = tuple(sorted(found, key=lambda o: o.start))
    return EventRecord(uid=uid, occurrences=occurrences, next_after_window=after, recurring=recurring)


def one_off_record(
    event: Mapping[str, Any], uid: str, tz: tzinfo, window_start: datetime, window_end: datetime
) -> EventRecord:
    """A one-off event without the recurrence machinery: most events, and 20x faster.

    `event` maps property names to icalendar's property values (an icalendar Event, or
    what `parse.fast` reads); ATTENDEE may be one value or a list.
    """
    occ = replace(_occurrence(event, tz), recurrence_id="")  # its key must not move when the event does
    start = event["DTSTART"].dt
    if event.get("DTEND") is not None:
        end = as_utc(event["DTEND"].dt, tz)
    elif event.get("DURATION") is not None:
        end = as_utc(start + event["DURATION"].dt, tz) if isinstance(start, datetime) else occ.start
    else:
        end = occ.start
    end = max(end, occ.start)
    found = (occ,) if window_start <= occ.start <= window_end else ()
    after = occ.start if end > window_end or occ.start > window_end else None
    return EventRecord(uid=uid, occurrences=found, next_after_window=after, recurring=False)
