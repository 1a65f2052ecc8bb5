"""The recurring-series fast path against the library path (icalendar + recurring-ical-events).

Wherever `parse.fast_series` answers, its record equals the library's: the same
instances, starts, keys, and per instance the same summary, status, organizer and
attendees. The series are generated in the shapes real calendars hold (RFC 5545
3.3.10 and 3.8.5; weekly 1:1s, fortnightly, monthly by weekday or day, yearly all-day,
weekday stand-ups; COUNT, UNTIL in UTC, floating or as a date; EXDATEs; moved and
cancelled instances), in zones with DST, across DST changes and window edges, plus
shapes the fast path must decline; then the realistic benchmark mix and the exports
in tests/data/exports.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from hypothesis import event, example, given
from hypothesis import strategies as st

from nudge.core.records import EventRecord
from nudge.parse import ParseError
from nudge.parse.fast import fast_event
from nudge.parse.formats import split_events
from nudge.parse.ical import parse_ical
from tests.profiles import scaled

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=730), NOW + timedelta(days=14))
EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
ROOT = Path(__file__).resolve().parents[2]

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "W. Europe Standard Time",
    "Pacific Standard Time",
    "Asia/Tokyo",
]
FORMS = ["zoned", "zoned", "utc", "floating", "date"]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def library(text: str) -> EventRecord | ParseError:
    try:
        return parse_ical(text, TZ, *WINDOW)
    except ParseError as e:
        return e


def stamp(value: datetime, form: str, zone: str) -> tuple[str, str]:
    """(parameters, value) of a DTSTART-like line for a wall time `value` in this form."""
    if form == "date":
        return ";VALUE=DATE", f"{value:%Y%m%d}"
    if form == "utc":
        return "", f"{value:%Y%m%dT%H%M%S}Z"
    if form == "floating":
        return "", f"{value:%Y%m%dT%H%M%S}"
    return f";TZID={zone}", f"{value:%Y%m%dT%H%M%S}"


@st.composite
def rules(draw: st.DrawFn, first: datetime, form: str) -> str:
    """An RRULE value in the common shapes (and some the fast path must decline)."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.integers(0, 3)) == 0:
        parts.append(f"INTERVAL={draw(st.integers(1, 3))}")
    day = WEEKDAYS[first.weekday()]
    nth = (first.day - 1) // 7 + 1
    by = draw(
        st.sampled_from(
            {
                "DAILY": ["", "BYDAY=MO,TU,WE,TH,FR", f"BYDAY={day}"],
                "WEEKLY": ["", f"BYDAY={day}", "BYDAY=MO,WE,FR", "BYDAY=MO,TU,WE,TH,FR", f"BYDAY={day},SU"],
                "MONTHLY": [
                    "",
                    f"BYDAY={nth}{day}",
                    "BYDAY=-1FR",
                    f"BYMONTHDAY={first.day}",
                    "BYMONTHDAY=-1",
                ],
                "YEARLY": ["", f"BYMONTH={first.month}", f"BYMONTH={first.month};BYDAY={nth}{day}"],
            }[freq]
            + ["BYSETPOS=1;BYDAY=MO", "BYHOUR=9", "BYYEARDAY=1", "BYDAY=MO;BYMONTHDAY=13"]
        )
    )
    if by:
        parts.append(by)
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(['MO', 'SU']))}")
    end = draw(st.sampled_from(["none", "none", "count", "until", "until-wrong"]))
    if end == "count":
        parts.append(f"COUNT={draw(st.sampled_from([1, 2, 5, 12, 26, 52, 250]))}")
    elif end.startswith("until"):
        until = first + timedelta(days=draw(st.integers(-3, 1500)), hours=draw(st.integers(-12, 12)))
        shape = form if end == "until" else draw(st.sampled_from(["date", "floating", "utc"]))
        if shape == "date":
            parts.append(f"UNTIL={until:%Y%m%d}")
        elif shape == "floating":
            parts.append(f"UNTIL={until:%Y%m%dT%H%M%S}")
        else:
            parts.append(f"UNTIL={until:%Y%m%dT%H%M%S}Z")
    return ";".join(draw(st.permutations(parts)))


def instances(rule: str, first: datetime, form: str) -> list[datetime]:
    """Some of the rule's instances near the window (wall times), to take EXDATEs and overrides from."""
    endless = ";".join(p for p in rule.split(";") if not p.startswith(("UNTIL=", "COUNT=")))
    try:
        return list(rrulestr(endless, dtstart=first).xafter(datetime(2024, 10, 1), count=60, inc=True))
    except (ValueError, TypeError, OverflowError):
        return []


@st.composite
def series(draw: st.DrawFn) -> str:
    form = draw(st.sampled_from(FORMS))
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.dates(date(2017, 1, 1), date(2027, 2, 1)))
    if draw(st.integers(0, 4)) == 0:  # on a DST change (Europe: last Sunday of March/October)
        day = draw(
            st.sampled_from([date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 8), date(2024, 11, 3)])
        )
    if draw(st.integers(0, 4)) == 0:  # weeks before the window's edges (06:00 UTC, 07:00 in Berlin)
        edge = draw(st.sampled_from([WINDOW[0].date(), WINDOW[1].date()]))
        day = edge - timedelta(days=7 * draw(st.integers(0, 30)) + draw(st.sampled_from([0, 0, 1, -1])))
    clock = draw(
        st.sampled_from(
            [
                time(9, 30),
                time(2, 30),
                time(0, 0),
                time(23, 30),
                time(6, 0),
                time(7, 0),
                time(5, 30),
                time(6, 30),
            ]
        )
    )
    first = datetime.combine(day, time() if form == "date" else clock)
    rule = draw(rules(first, form))
    uid = "s1@example.org"
    head = [f"UID:{uid}", "DTSTAMP:20261101T000000Z", "SEQUENCE:0"]
    p, v = stamp(first, form, zone)
    lines = [*head, f"DTSTART{p}:{v}"]
    length = draw(
        st.sampled_from([None, timedelta(0), timedelta(minutes=30), timedelta(hours=1), timedelta(days=1)])
    )
    if form == "date":
        length = draw(st.sampled_from([None, timedelta(days=1), timedelta(days=2)]))
    if length is not None:
        p, v = stamp(first + length, form, zone)
        lines.append(f"DTEND{p}:{v}")
    lines += [f"RRULE:{rule}", "SUMMARY:Weekly 1:1", "STATUS:CONFIRMED"]
    lines += ["ORGANIZER;CN=Ana:mailto:ana@example.org", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@example.net"]
    lines += ["DESCRIPTION:Join: https://meet.example/abc\\, PIN 1234"]
    lines += ["BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM"]
    near = instances(rule, first, form) or [first]
    ex = draw(st.lists(st.sampled_from(near), max_size=4, unique=True))
    ex += draw(
        st.lists(
            st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)).map(
                lambda d: d.replace(second=0, microsecond=0)
            ),
            max_size=1,
        )
    )
    ex_form = form if draw(st.integers(0, 5)) else draw(st.sampled_from(FORMS))
    if ex:
        if draw(st.booleans()):
            p, _ = stamp(ex[0], ex_form, zone)
            lines.append(f"EXDATE{p}:" + ",".join(stamp(e, ex_form, zone)[1] for e in ex))
        else:
            lines += [f"EXDATE{stamp(e, ex_form, zone)[0]}:{stamp(e, ex_form, zone)[1]}" for e in ex]
    events = ["BEGIN:VEVENT\r\n" + "\r\n".join(draw(st.permutations(lines))) + "\r\nEND:VEVENT"]
    for moved in draw(st.lists(st.sampled_from(near), max_size=3, unique=True)):
        shift = draw(
            st.sampled_from([timedelta(0), timedelta(hours=1), timedelta(hours=-2), timedelta(days=1)])
        )
        rid_form = form if draw(st.integers(0, 5)) else draw(st.sampled_from(FORMS))
        p, v = stamp(moved, rid_form, zone)
        o = [f"UID:{uid}", f"RECURRENCE-ID{p}:{v}", "SEQUENCE:1"]
        p, v = stamp(moved + shift, form, zone)
        o.append(f"DTSTART{p}:{v}")
        if length is not None:
            p, v = stamp(moved + shift + length, form, zone)
            o.append(f"DTEND{p}:{v}")
        o.append(draw(st.sampled_from(["STATUS:CANCELLED", "SUMMARY:Moved 1:1", "STATUS:CONFIRMED"])))
        o += draw(
            st.lists(
                st.sampled_from(
                    ["ATTENDEE;PARTSTAT=DECLINED:mailto:ben@example.net", "ATTENDEE:mailto:cem@example.com"]
                ),
                max_size=2,
                unique=True,
            )
        )
        events.append("BEGIN:VEVENT\r\n" + "\r\n".join(o) + "\r\nEND:VEVENT")
    body = "\r\n".join(draw(st.permutations(events)))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}\r\nEND:VCALENDAR\r\n"


WEEKLY_NY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ny\r\nDTSTART;TZID=America/New_York:20260423T083000\r\n"
    "DTEND;TZID=America/New_York:20260423T090000\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;COUNT=12\r\n"
    "SUMMARY:All hands\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@scaled(5)  # 750 examples in CI: 12 ms each, beside the mix and the exporters' series below
@given(text=series())
@example(WEEKLY_NY)
def test_fast_series_never_differ_from_the_library(text: str) -> None:
    fast = fast_event(text, TZ, *WINDOW)
    event("fast path answered" if fast is not None else "declined")
    if fast is not None:
        assert fast == library(text)


def test_a_counted_series_west_of_greenwich_keeps_its_last_instance() -> None:
    """COUNT=12 fortnightly from 23 Apr 2026, 08:30 in New York: the 12th is 24 Sep (both paths).

    The library path turned COUNT into an UNTIL in New York wall time, which
    recurring-ical-events reads as UTC: 08:30 UTC, before 08:30 in New York, so the
    last instance was lost.
    """
    last = datetime(2026, 9, 24, 8, 30, tzinfo=ZoneInfo("America/New_York"))
    for record in (parse_ical(WEEKLY_NY, TZ, *WINDOW), fast_event(WEEKLY_NY, TZ, *WINDOW)):
        assert record is not None
        assert len(record.occurrences) == 12
        assert record.occurrences[-1].start == last


def test_typical_series_take_the_fast_path() -> None:
    """A weekly 1:1 in Berlin across DST with an EXDATE and a moved, cancelled instance; a yearly birthday."""
    weekly = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Europe/Berlin:20250106T093000\r\n"
        "DTEND;TZID=Europe/Berlin:20250106T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n"
        "EXDATE;TZID=Europe/Berlin:20251027T093000\r\nSUMMARY:1:1\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID;TZID=Europe/Berlin:20251103T093000\r\n"
        "DTSTART;TZID=Europe/Berlin:20251104T110000\r\nDTEND;TZID=Europe/Berlin:20251104T113000\r\n"
        "SUMMARY:1:1 (moved)\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    yearly = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:y\r\nDTSTART;VALUE=DATE:20100618\r\n"
        "DTEND;VALUE=DATE:20100619\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Birthday Kofi\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    for text in (weekly, yearly):
        fast = fast_event(text, TZ, *WINDOW)
        assert fast is not None, text
        assert fast == parse_ical(text, TZ, *WINDOW)
    record = fast_event(weekly, TZ, *WINDOW)
    assert record is not None
    summer = [o for o in record.occurrences if o.start.date() == date(2025, 7, 7)]
    assert summer and summer[0].start.hour == 7  # 09:30 in Berlin in summer is 07:30 UTC
    moved = [o for o in record.occurrences if o.start.date() == date(2025, 11, 4)]
    assert moved and moved[0].cancelled and moved[0].recurrence_id == "20251103T083000Z"
    assert not [o for o in record.occurrences if o.start.date() == date(2025, 10, 27)]


def test_unusual_series_are_declined() -> None:
    """BYSETPOS, RDATE, two RRULEs, RANGE=THISANDFUTURE, an unknown zone: the library decides."""
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260105T090000Z\r\n"
    tail = "END:VEVENT\r\nEND:VCALENDAR\r\n"
    for extra in (
        "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1\r\n",
        "RRULE:FREQ=WEEKLY\r\nRDATE:20260107T090000Z\r\n",
        "RRULE:FREQ=WEEKLY\r\nRRULE:FREQ=MONTHLY\r\n",
        "RRULE:FREQ=HOURLY\r\n",
        "RRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:u\r\n"
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20260112T090000Z\r\nDTSTART:20260112T100000Z\r\n",
    ):
        assert fast_event(head + extra + tail, TZ, *WINDOW) is None, extra


def test_the_realistic_mix_series_equal_the_library() -> None:
    """Every series of bench/realistic.py's mix (1,000 objects: about 100 series) the fast path takes equals
    the library, and it takes nearly all of them."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import realistic
    finally:
        sys.path.remove(str(ROOT / "bench"))
    data = realistic.generate(0, 1000, seed=17, now=NOW)
    taken = total = 0
    for obj in data.events:
        text = obj.text()
        if not recurring(text):
            continue
        total += 1
        fast = fast_event(text, TZ, *WINDOW)
        if fast is not None:
            taken += 1
            assert fast == library(text), text
    assert total >= 60 and taken >= 0.95 * total


def recurring(text: str) -> bool:
    """Whether a VEVENT holds an RRULE (a VTIMEZONE's rules do not count)."""
    return "RRULE" in text.partition("BEGIN:VEVENT")[2]


def test_exported_series_equal_the_library() -> None:
    """Google's, Outlook's and a vdir's (Thunderbird, DAVx5) series as exported: the fast path takes them
    and equals the library, zones and moved instances included."""
    taken = total = 0
    paths = [
        *EXPORTS.glob("google/*.ics"),
        *EXPORTS.glob("outlook/*.ics"),
        *EXPORTS.glob("vdir/personal/*.ics"),
    ]
    for path in sorted(paths):
        for _, text in split_events(path.read_text(encoding="utf-8")):
            if not recurring(text):
                continue
            total += 1
            fast = fast_event(text, TZ, *WINDOW)
            if fast is not None:
                taken += 1
                assert fast == library(text), text
    assert taken == total >= 6  # every exported series is one the fast path reads
