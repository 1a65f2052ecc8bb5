"""Google People / Calendar JSON -> plain records (pure).

The Google source hands over the API's own JSON, plus what parsing needs that
the object alone does not say, under the key `nudge` (so this module never has
to call the API):

- a person: `{"nudge": {"labels": ["Top 100", ...]}}`, its contact labels by
  name (the API only gives label ids);
- a recurring event: a bundle `{"kind": "nudge#series", "timeZone": ...,
  "events": [master, exception, ...]}`. Google lists a series as its master
  (with `recurrence` lines) plus one object per moved or cancelled instance;
  they are expanded together here, within the window, the way `parse.py`
  expands a CalDAV series, so both sources give the same touches.

A plain Google event (no bundle) is a one-off event.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from nudge.core.identity import normalise_email
from nudge.core.records import Attendee, ContactRecord, EventRecord, Occurrence
from nudge.parse import recurrence
from nudge.parse.base import ParseError, short_reason
from nudge.parse.ical import MAX_OCCURRENCES, as_utc
from nudge.parse.vcard import parse_birthday

SERIES_KIND = "nudge#series"
_RECURRENCE_PROPS = ("RRULE", "EXRULE", "RDATE", "EXDATE")


def _load(data: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise ParseError(f"unreadable JSON: {short_reason(e)}") from e
    if not isinstance(obj, dict):
        raise ParseError("not a JSON object")
    return obj


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The dict entries of a JSON list; anything else is ignored, not fatal."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _primary_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Google marks one entry of each field as primary; it is the one to show."""
    return sorted(entries, key=lambda e: not (e.get("metadata") or {}).get("primary", False))


# --- people --------------------------------------------------------------------


def parse_person(data: str) -> ContactRecord:
    """One People API person (connections.list / people.get) -> ContactRecord."""
    person = _load(data)
    uid = _str(person.get("resourceName"))
    try:
        return _person(person, uid)
    except ParseError:
        raise
    except Exception as e:
        raise ParseError(f"bad person: {short_reason(e)}", uid) from e


def _person(person: dict[str, Any], uid: str) -> ContactRecord:
    if not uid:
        raise ParseError("no resourceName")
    if (person.get("metadata") or {}).get("deleted"):
        raise ParseError("deleted person", uid)
    names = _primary_first(_dicts(person.get("names")))
    name = ""
    for n in names:
        name = _str(n.get("displayName")) or " ".join(
            p
            for p in (_str(n.get(k)) for k in ("honorificPrefix", "givenName", "middleName", "familyName"))
            if p
        )
        if name:
            break
    emails = tuple(
        dict.fromkeys(
            e
            for entry in _primary_first(_dicts(person.get("emailAddresses")))
            if (e := normalise_email(_str(entry.get("value"))))
        )
    )
    phones = tuple(
        dict.fromkeys(
            p
            for entry in _primary_first(_dicts(person.get("phoneNumbers")))
            if (p := _str(entry.get("canonicalForm")) or _str(entry.get("value")))
        )
    )
    if not name:
        name = emails[0] if emails else ""
    if not name:
        raise ParseError("no name and no email", uid)
    org, title = _organization(_dicts(person.get("organizations")))
    notes = [_str(b.get("value")) for b in _primary_first(_dicts(person.get("biographies")))]
    extra = person.get("nudge")
    raw_labels = extra.get("labels") if isinstance(extra, dict) else None
    labels = [_str(label) for label in raw_labels or [] if _str(label)]
    return ContactRecord(
        uid=uid,
        name=name,
        emails=emails,
        phones=phones,
        org=org,
        title=title,
        birthday=_birthday(_dicts(person.get("birthdays"))),
        categories=tuple(dict.fromkeys(labels)),
        note=next((n for n in notes if n), None),
    )


def _organization(orgs: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The current job: the primary or `current` organization, else the first."""
    if not orgs:
        return None, None
    current = [o for o in orgs if o.get("current")]
    best = _primary_first(current or orgs)[0]
    return _str(best.get("name")) or None, _str(best.get("title")) or None


def _birthday(birthdays: list[dict[str, Any]]) -> str | None:
    for entry in _primary_first(birthdays):
        d = entry.get("date")
        if isinstance(d, dict) and isinstance(d.get("month"), int) and isinstance(d.get("day"), int):
            year = d.get("year")
            text = f"{year:04d}-" if isinstance(year, int) and year > 0 else "--"
            found = parse_birthday(f"{text}{d['month']:02d}-{d['day']:02d}")
        else:
            found = parse_birthday(_str(entry.get("text")))
        if found:
            return found
    return None


# --- events --------------------------------------------------------------------


def parse_event(data: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> EventRecord:
    """A Google event or series bundle -> its occurrences within the window."""
    obj = _load(data)
    if obj.get("kind") == SERIES_KIND:
        events = _dicts(obj.get("events"))
        zone = _str(obj.get("timeZone"))
    else:
        events, zone = [obj], ""
    if not events:
        raise ParseError("no events in series")
    uid = next((u for e in events if (u := _str(e.get("iCalUID")))), "") or _str(events[0].get("id"))
    if not uid:
        raise ParseError("no iCalUID or id")
    try:
        return _series(events, uid, zone, tz, window_start, window_end)
    except ParseError:
        raise
    except Exception as e:
        raise ParseError(f"bad event: {short_reason(e)}", uid) from e


def _series(
    events: list[dict[str, Any]],
    uid: str,
    zone: str,
    tz: tzinfo,
    window_start: datetime,
    window_end: datetime,
) -> EventRecord:
    masters = [e for e in events if not e.get("recurringEventId")]
    exceptions = [e for e in events if e.get("recurringEventId")]
    master = masters[0] if masters else None
    if master is not None and master.get("status") == "cancelled":
        master = None  # the whole series is gone; at most stray exceptions remain
    found: list[Occurrence] = []
    after: datetime | None = None
    recurring = bool(exceptions)
    if master is not None:
        lines = _recurrence(master)
        if lines:
            recurring = True
            # Instances with an exception of their own are replaced by it.
            replaced = {
                _original_id(e, zone, tz) for e in exceptions if isinstance(e.get("originalStartTime"), dict)
            }
            starts, after = _expand(master, lines, uid, zone, tz, window_start, window_end)
            for start in starts:
                rid = start.strftime("%Y%m%dT%H%M%SZ")
                if rid not in replaced:
                    found.append(_occurrence(master, start, rid))
        else:
            start = _when(master.get("start"), zone, tz, uid)
            if window_start <= start <= window_end:
                found.append(_occurrence(master, start, ""))  # a one-off: its key must not move with it
    for e in exceptions:
        if e.get("status") == "cancelled" and not isinstance(e.get("start"), dict):
            continue  # a deleted instance: Google keeps only its id and original time
        start = _when(e.get("start"), zone, tz, uid)
        if not window_start <= start <= window_end:
            if start > window_end and (after is None or start < after):
                after = start
            continue
        if isinstance(e.get("originalStartTime"), dict):
            rid = _original_id(e, zone, tz)
        else:
            rid = start.strftime("%Y%m%dT%H%M%SZ")
        found.append(_occurrence(e, start, rid))
    occurrences = tuple(sorted(found, key=lambda o: o.start)[:MAX_OCCURRENCES])
    return EventRecord(uid=uid, occurrences=occurrences, next_after_window=after, recurring=recurring)


def _recurrence(master: dict[str, Any]) -> list[str]:
    lines = [line.strip() for line in master.get("recurrence") or [] if isinstance(line, str)]
    return [
        line
        for line in lines
        if "\n" not in line and "\r" not in line and line.upper().startswith(_RECURRENCE_PROPS)
    ]


def _zone(name: str, fallback: tzinfo) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return fallback


def _when(value: Any, zone: str, tz: tzinfo, uid: str) -> datetime:
    """`{"dateTime": ...}` or `{"date": ...}` -> aware UTC; all-day counts at local noon."""
    if not isinstance(value, dict):
        raise ParseError("no start", uid)
    try:
        if value.get("dateTime"):
            moment = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_zone(_str(value.get("timeZone")) or zone, tz))
            return moment.astimezone(UTC)
        if value.get("date"):
            return as_utc(date.fromisoformat(str(value["date"])), tz)
    except ValueError as e:
        raise ParseError(f"bad start: {short_reason(e)}", uid) from e
    raise ParseError("no start", uid)


def _original_id(event: dict[str, Any], zone: str, tz: tzinfo) -> str:
    return _when(event.get("originalStartTime"), zone, tz, "").strftime("%Y%m%dT%H%M%SZ")


def _expand(
    master: dict[str, Any],
    lines: list[str],
    uid: str,
    zone: str,
    tz: tzinfo,
    window_start: datetime,
    window_end: datetime,
) -> tuple[list[datetime], datetime | None]:
    """Original start times of the master's instances in the window, and the first after it.

    The recurrence lines are iCalendar's own (RRULE, EXDATE, RDATE), so the
    expansion is left to the library that expands CalDAV series.
    """
    start = master.get("start")
    if not isinstance(start, dict):
        raise ParseError("no start", uid)
    if start.get("date") and not start.get("dateTime"):
        dtstart = f"DTSTART;VALUE=DATE:{date.fromisoformat(str(start['date'])):%Y%m%d}"
    else:
        local = _when(start, zone, tz, uid).astimezone(_zone(_str(start.get("timeZone")) or zone, tz))
        name = getattr(local.tzinfo, "key", None)
        if name:
            dtstart = f"DTSTART;TZID={name}:{local:%Y%m%dT%H%M%S}"
        else:
            dtstart = f"DTSTART:{local.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            "UID:x",
            dtstart,
            *lines,
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )
    try:
        inside, after = recurrence.expand(
            icalendar.Calendar.from_ical(text + "\r\n"), tz, window_start, window_end
        )
    except (recurrence.TooManyOccurrences, recurrence.BadRule) as e:
        raise ParseError(str(e), uid) from e
    return sorted(as_utc(e["DTSTART"].dt, tz) for e in inside), after


def _occurrence(event: dict[str, Any], start: datetime, rid: str) -> Occurrence:
    attendees = []
    self_declined = False
    for a in _dicts(event.get("attendees")):
        declined = _str(a.get("responseStatus")).lower() == "declined"
        if a.get("self"):
            # The user, under whatever address: never a contact; their "no"
            # makes the meeting no touch, as if it were cancelled.
            self_declined = declined
            continue
        attendees.append(
            Attendee(
                email=normalise_email(_str(a.get("email"))) or None,
                name=_str(a.get("displayName")),
                declined=declined,
                person=not a.get("resource"),
            )
        )
    organizer = event.get("organizer")
    if not isinstance(organizer, dict):
        organizer = {}
    return Occurrence(
        recurrence_id=rid,
        start=start,
        summary=_str(event.get("summary")),
        cancelled=event.get("status") == "cancelled" or self_declined,
        organizer=normalise_email(_str(organizer.get("email"))) or None,
        attendees=tuple(attendees),
    )
