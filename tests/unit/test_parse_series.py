"""Series records, made once per series and moved to each instance, equal one copy per instance.

Also: what `parse.ical.trim` cuts (alarms, descriptions, vendor lines) changes no record.

`parse.ical` asks recurring-ical-events for a series' instances and builds the record
of the first; the others are that record with the start (and key) moved, instead of a
copy of the VEVENT per instance. The reference here is the per-instance copy
(`recurrence.expand`) over series shaped like real ones: zones, all-day, weekly,
monthly, yearly, COUNT/UNTIL/open, EXDATEs, moved and cancelled instances.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from hypothesis import given
from hypothesis import strategies as st

from nudge.core.records import EventRecord
from nudge.parse import recurrence
from nudge.parse.ical import _occurrence, parse_ical
from nudge.parse.zones import drop_known_timezones
from tests.profiles import scaled

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=730), NOW + timedelta(days=14))
RULES = [
    "FREQ=WEEKLY",
    "FREQ=WEEKLY;INTERVAL=2",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=MONTHLY;BYDAY=2TU",
    "FREQ=MONTHLY;BYMONTHDAY=15",
    "FREQ=YEARLY",
]
ZONES = ["", "Europe/Berlin", "W. Europe Standard Time", "America/New_York", "UTC"]
# What real events carry beside and `parse.ical.trim` cuts before icalendar reads them (a broken alarm too)
NOISE = [
    "DESCRIPTION:Join Microsoft Teams Meeting\\nhttps://teams.example.com/l/meetup-join/19%3ameeting_x\\, or",
    " call in (audio only)\\n+49 30 5550100\\,\\,123#",
    "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
    "LOCATION:Room 4.01\\, Berlin",
    "DTSTAMP:garbage",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "TRIGGER:garbage",
    "DESCRIPTION:Reminder",
    "END:VALARM",
]


def stamp(moment: datetime, zone: str, all_day: bool) -> str:
    if all_day:
        return f";VALUE=DATE:{moment:%Y%m%d}"
    if zone == "UTC":
        return f":{moment:%Y%m%dT%H%M%S}Z"
    return f";TZID={zone}:{moment:%Y%m%dT%H%M%S}" if zone else f":{moment:%Y%m%dT%H%M%S}"


@st.composite
def series(draw: st.DrawFn) -> str:
    zone, all_day = draw(st.sampled_from(ZONES)), draw(st.booleans())
    start = datetime(2018, 1, 1, 9) + timedelta(
        days=draw(st.integers(0, 3300)), minutes=30 * draw(st.integers(0, 20))
    )
    rule = draw(st.sampled_from(RULES))
    end = draw(st.sampled_from(["", "COUNT", "UNTIL"]))
    if end == "COUNT":
        rule += f";COUNT={draw(st.integers(1, 300))}"
    elif end == "UNTIL":
        until = start + timedelta(days=draw(st.integers(0, 2000)))
        rule += f";UNTIL={until:%Y%m%d}" if all_day else f";UNTIL={until.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    weeks = draw(st.lists(st.integers(0, 400), max_size=4, unique=True))
    lines = [
        "BEGIN:VEVENT",
        "UID:s1@example.com",
        f"DTSTART{stamp(start, zone, all_day)}",
        f"DTEND{stamp(start + timedelta(days=1) if all_day else start + timedelta(hours=1), zone, all_day)}",
        f"RRULE:{rule}",
        "SUMMARY:Weekly 1:1",
        "ORGANIZER;CN=Me:mailto:me@example.com",
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=Ana:mailto:ana@example.org",
        *draw(st.sampled_from([[], ["ATTENDEE;PARTSTAT=DECLINED:mailto:ben@example.net"]])),
        *(f"EXDATE{stamp(start + timedelta(weeks=w), zone, all_day)}" for w in weeks[:2]),
        *draw(st.sampled_from([[], NOISE])),
        "END:VEVENT",
    ]
    for w in weeks[2:]:
        rid = start + timedelta(weeks=w)
        moved = rid + timedelta(hours=draw(st.integers(-30, 30)))
        lines += [
            "BEGIN:VEVENT",
            "UID:s1@example.com",
            f"RECURRENCE-ID{stamp(rid, zone, all_day)}",
            f"DTSTART{stamp(moved, zone, all_day)}",
            "SUMMARY:Weekly 1:1 (moved)",
            *draw(st.sampled_from([[], ["STATUS:CANCELLED"]])),
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org",
            "END:VEVENT",
        ]
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "\r\n".join(lines) + "\r\nEND:VCALENDAR\r\n"


def per_instance(text: str) -> tuple[list[object], datetime | None]:
    """The records of one VEVENT copy per instance (recurring-ical-events' own components), the alarm and
    the properties nobody reads cut out here by hand (a broken alarm is what icalendar refuses)."""
    kept = "\r\n".join(line for line in text.split("\r\n") if line not in NOISE[1:])
    cal = icalendar.Calendar.from_ical(drop_known_timezones(kept))
    inside, after = recurrence.expand(cal, TZ, *WINDOW)
    return sorted((_occurrence(e, TZ) for e in inside), key=lambda o: o.start), after


@scaled(1)
@given(text=series())
def test_series_records_equal_one_copy_per_instance(text: str) -> None:
    record = parse_ical(text, TZ, *WINDOW)
    assert isinstance(record, EventRecord)
    occurrences, after = per_instance(text)
    assert list(record.occurrences) == occurrences
    assert record.next_after_window == after
