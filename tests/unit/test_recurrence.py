"""Recurring events expand with bounded work, and exactly as the library would where it finishes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from hypothesis import given
from hypothesis import strategies as st

from nudge.parse import ParseError, recurrence
from nudge.parse.ical import as_utc, parse_ical
from tests.builders import vcalendar, vevent

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
W_START, W_END = NOW - timedelta(days=730), NOW + timedelta(days=14)  # sync's default window


def series(start: datetime, rule: str, *extra: str) -> str:
    return vcalendar(vevent("s", start, attendees=("ana@example.com",), extra=(f"RRULE:{rule}", *extra)))


def parse(text: str) -> list[datetime]:
    return [o.start for o in parse_ical(text, BERLIN, W_START, W_END).occurrences]


def finishes(code: str, timeout: float = 120) -> str:
    """Run `code` in a fresh interpreter; its output, or a failure if it does not end in `timeout` s.

    A hang on the code before the bound would stop the test run, not fail the test.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish in {timeout} s")
    return done.stdout.strip()


PARSE_ONE = """
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo
    from nudge.parse import ParseError
    from nudge.parse.ical import parse_ical
    from tests.builders import vcalendar, vevent
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    text = vcalendar(vevent("s", datetime({year}, 1, 6, 9, tzinfo=UTC), extra=("RRULE:{rule}",)))
    try:
        rec = parse_ical(text, ZoneInfo("Europe/Berlin"), now - timedelta(days=730), now + timedelta(days=14))
        print(len(rec.occurrences))
    except ParseError as e:
        print(e.reason)
"""


@pytest.mark.parametrize(
    ("year", "rule"),
    [
        (2020, "FREQ=SECONDLY"),
        (2000, "FREQ=MINUTELY"),
        (2024, "FREQ=SECONDLY;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ],
)
def test_an_open_ended_series_of_seconds_or_minutes_is_skipped(year: int, rule: str) -> None:
    out = finishes(PARSE_ONE.format(year=year, rule=rule))
    assert out.startswith("too many occurrences: RRULE:") and f"from {year}-01-06" in out


def test_an_hourly_series_inside_the_window_is_skipped_not_cut() -> None:
    """Cutting it at the first few thousand would keep its oldest instances and lose the recent ones."""
    with pytest.raises(ParseError, match="too many occurrences") as caught:
        parse(series(NOW - timedelta(days=200), "FREQ=HOURLY"))
    assert caught.value.uid == "s"


def test_interval_zero_is_a_bad_rule_not_an_endless_loop() -> None:
    out = finishes(PARSE_ONE.format(year=2026, rule="FREQ=DAILY;INTERVAL=0"))
    assert out == "bad RRULE: INTERVAL=0"


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=31",
    ],
)
def test_a_rule_that_never_matches_leaves_only_dtstart(rule: str) -> None:
    """dateutil looks for its next instance up to the year 9999 (seconds on every query)."""
    out = finishes(PARSE_ONE.format(year=2026, rule=rule).replace("len(rec.occurrences)", "rec.occurrences"))
    assert "2026, 1, 6, 9, 0" in out and out.count("Occurrence(") == 1


def test_a_daily_standup_from_1900_expands_only_the_window() -> None:
    rec = parse_ical(series(datetime(1900, 1, 1, 8, tzinfo=UTC), "FREQ=DAILY"), BERLIN, W_START, W_END)
    starts = [o.start for o in rec.occurrences]
    assert len(starts) == 744  # 23 Nov 2024 to 6 Dec 2026: the window is 06:00 to 06:00 UTC
    assert (starts[0], starts[-1]) == (
        datetime(2024, 11, 23, 8, tzinfo=UTC),
        datetime(2026, 12, 6, 8, tzinfo=UTC),
    )
    assert rec.next_after_window == datetime(2026, 12, 7, 8, tzinfo=UTC)
    assert [o.recurrence_id for o in rec.occurrences[:1]] == ["20241123T080000Z"]


def test_count_is_kept_when_the_series_starts_long_before_the_window() -> None:
    start = datetime(1990, 1, 1, 8, tzinfo=UTC)
    ends = start + timedelta(days=12_999)  # the 13,000th day
    rec = parse_ical(series(start, "FREQ=DAILY;COUNT=13000"), BERLIN, W_START, W_END)
    assert rec.occurrences[-1].start == ends == datetime(2025, 8, 4, 8, tzinfo=UTC)
    assert len(rec.occurrences) == (ends - datetime(2024, 11, 23, 8, tzinfo=UTC)).days + 1
    assert rec.next_after_window is None


def test_a_local_time_series_keeps_its_wall_clock_across_dst_after_the_shift() -> None:
    text = vcalendar(
        "BEGIN:VEVENT\r\nUID:s\r\nDTSTART;TZID=Europe/Berlin:20050103T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20050103T091500\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VEVENT\r\n"
    )
    rec = parse_ical(text, UTC, W_START, W_END)
    hours = {o.start.astimezone(BERLIN).hour for o in rec.occurrences}
    assert hours == {9}
    assert {o.start.astimezone(UTC).hour for o in rec.occurrences} == {7, 8}  # summer and winter


GOOGLE_SERIES = """
    import json
    from datetime import UTC, datetime, timedelta
    from nudge.parse import ParseError
    from nudge.parse.google import parse_event
    start, end = {"dateTime": "2020-01-01T00:00:00Z"}, {"dateTime": "2020-01-01T00:00:01Z"}
    tick = dict(id="w", iCalUID="w@google.com", start=start, end=end, recurrence=["RRULE:FREQ=SECONDLY"])
    series = json.dumps({"kind": "nudge#series", "timeZone": "UTC", "events": [tick]})
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    try:
        parse_event(series, UTC, now - timedelta(days=730), now + timedelta(days=14))
    except ParseError as e:
        print(e.reason)
"""


def test_a_google_series_is_bounded_too() -> None:
    assert finishes(GOOGLE_SERIES).startswith("too many occurrences: RRULE:FREQ=SECONDLY")


# --- the rewrite changes nothing the library would have found --------------------------------------

# BY-parts that always meet somewhere (a rule that never does is tested above: the library,
# used here as the reference, walks to the year 9999 for it).
BY_PARTS = st.one_of(
    st.tuples(
        st.sampled_from(["", "BYDAY=MO,WE,FR", "BYDAY=TU", "BYDAY=SA,SU", "BYMONTH=1,6"]),
        st.sampled_from(["", "BYMONTHDAY=29", "BYMONTHDAY=1,15", "BYMONTHDAY=-1"]),
    ),
    st.tuples(
        st.sampled_from(["BYDAY=-1FR", "BYDAY=1MO,3MO", "BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR"]), st.just("")
    ),
)
RULES = st.builds(
    lambda freq, interval, by, end: ";".join(
        p for p in (f"FREQ={freq}", f"INTERVAL={interval * (7 if freq == 'HOURLY' else 1)}", *by, end) if p
    ),
    st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"]),
    st.integers(min_value=1, max_value=4),
    BY_PARTS,
    st.one_of(
        st.just(""),
        st.integers(min_value=1, max_value=400).map(lambda n: f"COUNT={n}"),
        st.dates(date(2023, 1, 1), date(2028, 1, 1)).map(lambda d: f"UNTIL={d:%Y%m%d}T235959Z"),
    ),
)
WINDOW_START = datetime(2025, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 2, 1, tzinfo=UTC)


def reference(text: str) -> tuple[list[tuple[datetime, str]], datetime | None]:
    """What the library finds, walking from DTSTART (affordable for these starts)."""
    query = recurring_ical_events.of(icalendar.Calendar.from_ical(text), skip_bad_series=True)
    found = []
    for e in query.between(WINDOW_START, WINDOW_END + timedelta(seconds=1)):
        start = as_utc(e["DTSTART"].dt, BERLIN)
        if WINDOW_START <= start <= WINDOW_END:
            found.append((start, as_utc(e["RECURRENCE-ID"].dt, BERLIN).strftime("%Y%m%dT%H%M%SZ")))
    after = next((as_utc(e["DTSTART"].dt, BERLIN) for e in query.after(WINDOW_END)), None)
    return sorted(found), after


@given(
    RULES,
    st.datetimes(datetime(2021, 1, 1), datetime(2026, 1, 1)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    st.sampled_from(["tzid", "utc", "floating", "date"]),
)
def test_bounded_expansion_finds_what_the_library_finds(rule: str, start: datetime, kind: str) -> None:
    dtstart = {
        "tzid": f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
        "utc": f"DTSTART:{start:%Y%m%dT%H%M%S}Z",
        "floating": f"DTSTART:{start:%Y%m%dT%H%M%S}",
        "date": f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
    }[kind]
    if kind == "date":
        rule = rule.replace("T235959Z", "")
    elif kind == "floating":
        rule = rule.replace("T235959Z", "T235959")
    exdate = dtstart.replace("DTSTART", "EXDATE").replace(
        f"{start:%Y%m%d}", f"{start + timedelta(days=28):%Y%m%d}"
    )
    text = vcalendar(f"BEGIN:VEVENT\r\nUID:s\r\n{dtstart}\r\nRRULE:{rule}\r\n{exdate}\r\nEND:VEVENT\r\n")
    expected, after = reference(text)
    try:
        rec = parse_ical(text, BERLIN, WINDOW_START, WINDOW_END)
    except ParseError as e:  # only for more instances than one series may have in the window
        assert "too many" in e.reason and len(expected) > recurrence.MAX_OCCURRENCES
        return
    assert [(o.start, o.recurrence_id) for o in rec.occurrences] == expected
    if after is not None and after - WINDOW_END < recurrence.HORIZON:
        assert rec.next_after_window == after
    else:
        assert rec.next_after_window is None
