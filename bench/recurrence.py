"""Recurring series: what reading one costs, bounded (nudge.parse.recurrence) and walked from DTSTART.

Prints seconds per read of one series over sync's default window (730 days back,
14 ahead), the way nudge reads it now (`parse.parse_ical`) and the way it read
it before (recurring-ical-events `after()` from the window start, as the old
`parse._expand` did). The old way is run in a child process with a time limit,
since some of these never finish.

    .venv/bin/python bench/recurrence.py [--limit SECONDS]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import icalendar
import recurring_ical_events

from nudge.parse import ParseError
from nudge.parse.ical import parse_ical
from tests.builders import vcalendar, vevent

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=730), NOW + timedelta(days=14)
TZ = ZoneInfo("Europe/Berlin")
CASES = [
    ("daily stand-up from 2024", 2024, "FREQ=DAILY"),
    ("daily stand-up from 2005", 2005, "FREQ=DAILY"),
    ("daily stand-up from 1900", 1900, "FREQ=DAILY"),
    ("weekdays from 2005", 2005, "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"),
    ("weekly 1:1 from 2010", 2010, "FREQ=WEEKLY;BYDAY=TU"),
    ("monthly from 2000", 2000, "FREQ=MONTHLY;BYDAY=1MO"),
    ("hourly from 2024", 2024, "FREQ=HOURLY"),
    ("every minute from 2000", 2000, "FREQ=MINUTELY"),
    ("every second from 2020", 2020, "FREQ=SECONDLY"),
    ("30 February, daily", 2024, "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"),
]


def text(year: int, rule: str) -> str:
    start = datetime(year, 1, 5, 9, tzinfo=UTC)
    return vcalendar(vevent("s", start, attendees=("ana@example.com",), extra=(f"RRULE:{rule}",)))


def now_way(data: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        found = f"{len(parse_ical(data, TZ, START, END).occurrences)} occurrences"
    except ParseError as e:
        found = e.reason[:60]
    return time.perf_counter() - started, found


def old_way(data: str, out: multiprocessing.Queue[tuple[float, int]]) -> None:
    started = time.perf_counter()
    query = recurring_ical_events.of(icalendar.Calendar.from_ical(data), skip_bad_series=True)
    found = 0
    for event in query.after(START):
        if event["DTSTART"].dt > END:
            break
        found += 1
        if found >= 2000:  # the old cut
            break
    for _ in query.after(END):
        break
    out.put((time.perf_counter() - started, found))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=float, default=60, help="seconds before the old way is given up")
    args = parser.parse_args()
    print(f"{'series':28} {'now (s)':>9}  {'result':<45} {'before (s)':>11}")
    for label, year, rule in CASES:
        data = text(year, rule)
        seconds, found = now_way(data)
        queue: multiprocessing.Queue[tuple[float, int]] = multiprocessing.Queue()
        child = multiprocessing.Process(target=old_way, args=(data, queue))
        child.start()
        child.join(args.limit)
        if child.is_alive():
            child.terminate()
            child.join()
            before = f"> {args.limit:.0f}"
        else:
            before = f"{queue.get()[0]:.3f}"
        print(f"{label:28} {seconds:9.3f}  {found:<45} {before:>11}")


if __name__ == "__main__":
    main()
