"""Recurring events expanded with bounded work (pure).

recurring-ical-events hands each RRULE to dateutil, which walks every period
from DTSTART to the end of the query, and, for a rule that never matches, on
to the year 9999: `FREQ=SECONDLY` from 2020 never finishes, a daily stand-up
from 2005 costs seconds, and `INTERVAL=0` loops forever. So before expanding,
each rule is rewritten to an equivalent one that is cheap inside the window:

- COUNT becomes the UNTIL of its last instance (found once, within the bound),
  and every rule ends at `HORIZON` after the window at the latest;
- DTSTART (and DTEND) move forward by whole periods to just before the
  window, so iteration starts near it: whole INTERVALs for fixed periods,
  whole years for monthly and yearly rules (four for a 29 February);
- the periods dateutil would still walk, times what each BY-part expands a
  period into, must stay under `MAX_STEPS`, and the instances inside the
  window under `MAX_OCCURRENCES`; otherwise the series is refused with
  `TooManyOccurrences` (sync skips it with that reason).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, cast

import recurring_ical_events
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from icalendar.prop import vRecur

MAX_OCCURRENCES = 4000  # instances of one series inside the window: daily for ten years fits
MAX_STEPS = 500_000  # periods (times their expansion) dateutil may walk for one rule
HORIZON = timedelta(days=1500)  # how far past the window the next instance is looked for

_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 604800}
_MONTHS = {"MONTHLY": 1, "YEARLY": 12}
_RANK = {"SECONDLY": 0, "MINUTELY": 1, "HOURLY": 2, "DAILY": 3, "WEEKLY": 4, "MONTHLY": 5, "YEARLY": 6}


class TooManyOccurrences(ValueError):
    """A series whose expansion would exceed the bounds; the message says which rule."""


class BadRule(ValueError):
    """A rule dateutil would loop on forever (INTERVAL below 1)."""


def expand(
    cal: Any, tz: tzinfo, window_start: datetime, window_end: datetime
) -> tuple[list[Any], datetime | None]:
    """The occurrences (as components) starting inside the window, and the first start after it.

    `cal` is an icalendar Calendar holding one UID's VEVENTs; its series are
    rewritten in place (see the module docstring).
    """
    inside, after = occurrences(cal, tz, window_start, window_end)
    return [o.as_component(False) for o in inside], after


def occurrences(
    cal: Any, tz: tzinfo, window_start: datetime, window_end: datetime
) -> tuple[list[Any], datetime | None]:
    """As `expand`, but recurring-ical-events' occurrences, not yet copied into components.

    Copying the VEVENT for each occurrence is most of the cost of a long series;
    a caller that reads the same properties of every occurrence of one VEVENT
    copies one (`parse.ical`).
    """
    cap = window_end + HORIZON
    for event in cal.walk("VEVENT"):
        if event.get("RRULE") is not None and event.get("RECURRENCE-ID") is None:
            bound_series(event, tz, window_start, cap)
    query = recurring_ical_events.of(cal, skip_bad_series=True)
    inside = []
    for occ in _between(query, window_start, window_end + timedelta(seconds=1)):
        start = _utc(occ.start, tz)
        if window_start <= start <= window_end:
            inside.append(occ)
            if len(inside) > MAX_OCCURRENCES:
                raise TooManyOccurrences(f"too many occurrences: more than {MAX_OCCURRENCES} in the window")
    return inside, _first_after(query, tz, window_end, cap)


def _between(query: Any, start: datetime, end: datetime) -> Iterator[Any]:
    """Occurrences overlapping [start, end), one at a time (the query's own `between` makes them all)."""
    for series in query.series:
        with suppress(*recurring_ical_events.CalendarQuery.suppressed_errors):
            yield from series.between(start, end)


def _first_after(query: Any, tz: tzinfo, window_end: datetime, cap: datetime) -> datetime | None:
    """Start of the first occurrence not over by `window_end`, looked for in doubling spans up to `cap`."""
    low, span = window_end, timedelta(days=1)
    while low < cap:
        high = min(low + span, cap)
        starts = [_utc(o.start, tz) for o in _between(query, low, high)]
        if starts:
            return min(starts)
        low, span = high, span * 2
    return None


def _utc(value: date | datetime, tz: tzinfo) -> datetime:
    """As `parse.as_utc`: floating times in `tz`, all-day at local noon."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(12, 0))
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


# --- bounding one series ---------------------------------------------------------


def bound_series(event: Any, tz: tzinfo, window_start: datetime, cap: datetime) -> None:
    """Rewrite `event`'s rules and start so that expanding it up to `cap` is cheap, or raise."""
    value = event.get("RRULE")
    rules = [r for r in (value if isinstance(value, list) else [value]) if isinstance(r, vRecur)]
    start = event["DTSTART"].dt
    begin = _utc(start, tz)
    ends: list[tuple[vRecur, str, datetime]] = []
    empty: list[vRecur] = []  # stand-ins for rules that never match, where their UNTIL matters
    for rule in rules:
        freq = _first(rule, "FREQ")
        if not isinstance(freq, str) or freq.upper() not in _RANK:
            return  # not a rule dateutil can read: the library refuses the series
        interval = _first(rule, "INTERVAL")
        if interval is not None and (not isinstance(interval, int) or interval < 1):
            raise BadRule(f"bad RRULE: INTERVAL={interval}")
        if _never(rule, start):
            until = _first(rule, "UNTIL")
            if isinstance(until, date) and _utc(until, tz) < begin:
                # The library leaves DTSTART out of a series that ended before it began.
                empty.append(vRecur({"FREQ": ["YEARLY"], "UNTIL": [until]}))
            continue
        text = f"RRULE:{_text(rule)} from {begin:%Y-%m-%d}"
        ends.append((rule, text, _bound_end(rule, text, start, begin, tz, cap)))
    if len(ends) < len(rules):  # rules without any instance: DTSTART (and RDATEs) remain
        event.pop("RRULE")
        if ends or empty:
            event["RRULE"] = [rule for rule, _, _ in ends] + empty
    if len(ends) == 1 and ends[0][2] > window_start and _shift(event, ends[0][0], begin, window_start):
        begin = _utc(event["DTSTART"].dt, tz)
    for rule, text, end in ends:
        _check_work(rule, text, begin, end)


_PROBE_FROM = datetime(9590, 1, 1)  # the calendar repeats every 400 years; dateutil stops at 9999


def _never(rule: vRecur, start: date | datetime) -> bool:
    """Whether `rule` has no instance at all, which dateutil finds out only by walking to 9999.

    A rule whose BY-parts cannot meet (30 February) makes every query walk on to
    the year 9999 (seconds per query, whatever UNTIL says). Asked from 9590 on
    instead, the same walk covers one 400-year cycle of the calendar and ends soon.
    """
    if not any(str(key).upper().startswith("BY") for key in rule):
        return False
    probe = vRecur({k: v for k, v in rule.items() if str(k).upper() not in ("COUNT", "UNTIL")})
    first = start.replace(tzinfo=None) if isinstance(start, datetime) else datetime.combine(start, time())
    freq = str(_first(rule, "FREQ")).upper()
    interval = _first(rule, "INTERVAL") or 1
    if freq in _SECONDS:
        step = timedelta(seconds=_SECONDS[freq] * interval)
        moved = first + step * math.ceil((_PROBE_FROM - first) / step)
    else:
        years = math.lcm(_MONTHS[freq] * interval, 12) // 12
        if (first.month, first.day) == (2, 29):
            years = math.lcm(years, 4)
        moved = first.replace(year=first.year + years * math.ceil((_PROBE_FROM.year - first.year) / years))
    try:
        return next(iter(rrulestr(_text(probe), dtstart=moved)), None) is None
    except (ValueError, OverflowError):
        return False  # the library decides what to make of it


def _text(rule: vRecur) -> str:
    value: bytes = rule.to_ical()  # type: ignore[no-untyped-call]
    return value.decode()


def _first(rule: vRecur, key: str) -> Any:
    values = rule.get(key)
    return values[0] if values else None


def _bound_end(
    rule: vRecur, text: str, start: date | datetime, begin: datetime, tz: tzinfo, cap: datetime
) -> datetime:
    """Give `rule` an UNTIL no later than `cap` (COUNT turned into its last instance); returns it in UTC."""
    until = _first(rule, "UNTIL")
    end = cap
    if isinstance(until, date):
        end = min(cap, _utc(until, tz) + timedelta(days=1))
    count = _first(rule, "COUNT")
    if isinstance(count, int) and count > 0:
        _check_work(rule, text, begin, end, count)
        if not isinstance(start, datetime) and _RANK[str(_first(rule, "FREQ")).upper()] < _RANK["DAILY"]:
            return end  # hours of an all-day series: an UNTIL would be cut to a date; left as it is
        rule.pop("COUNT")
        if until is None:
            rule["UNTIL"] = [_typed(end, start, tz)]
        last = _nth(rule, start, count)
        if last is not None:
            # in UTC when zoned (RFC 5545 3.3.10): recurring-ical-events reads a zoned UNTIL's
            # wall time as UTC, which west of Greenwich dropped the last instance
            rule["UNTIL"] = [last.astimezone(UTC) if isinstance(last, datetime) and last.tzinfo else last]
            end = _utc(last, tz)
    elif until is None or end < _utc(until, tz):
        rule.pop("COUNT", None)  # a COUNT below 1, which the library drops too
        rule["UNTIL"] = [_typed(end, start, tz)]
    return end


def _typed(moment: datetime, like: date | datetime, tz: tzinfo) -> date | datetime:
    """`moment` as an UNTIL for a rule whose DTSTART is `like`: UTC, floating local time, or a date."""
    if not isinstance(like, datetime):
        return moment.astimezone(tz).date()
    if like.tzinfo is None:
        return moment.astimezone(tz).replace(tzinfo=None)
    return moment.astimezone(UTC)


def _nth(rule: vRecur, start: date | datetime, count: int) -> date | datetime | None:
    """The `count`-th instance of `rule` (which ends at its UNTIL), or None if it has fewer."""
    dtstart = start if isinstance(start, datetime) else datetime.combine(start, time())
    instances = rrulestr(_text(rule), dtstart=dtstart)
    last: datetime | None = next(itertools.islice(iter(instances), count - 1, None), None)
    if last is None or isinstance(start, datetime):
        return last
    return last.date()


def _shift(event: Any, rule: vRecur, begin: datetime, window_start: datetime) -> bool:
    """Move DTSTART/DTEND forward by whole periods to just before the window; whether they moved."""
    freq = str(_first(rule, "FREQ")).upper()
    interval = _first(rule, "INTERVAL") or 1
    start = event["DTSTART"].dt
    if rule.get("COUNT"):  # counted from DTSTART: it stays
        return False
    if freq in _SECONDS:
        step = _SECONDS[freq] * interval
        if not isinstance(start, datetime) and step % 86400:
            return False
        periods = int((window_start - begin).total_seconds() // step) - 2
        months, delta = 0, timedelta(seconds=max(periods, 0) * step)
    else:
        step = math.lcm(_MONTHS[freq] * interval, 12)
        if (start.month, start.day) == (2, 29):
            step = math.lcm(step, 48)
        apart = (window_start.year - begin.year) * 12 + window_start.month - begin.month
        periods = apart // step - 1
        months, delta = max(periods, 0) * step, timedelta(0)
    if periods <= 0:
        return False
    for name in ("DTSTART", "DTEND"):
        if event.get(name) is not None:
            event[name].dt = _moved(event[name].dt, months, delta)
    return True


def _moved(value: date | datetime, months: int, delta: timedelta) -> date | datetime:
    """`value` moved on the wall clock (so a 09:00 stand-up stays at 09:00 across DST)."""
    if not isinstance(value, datetime):
        moved_day: date = value + relativedelta(months=months) + delta
        return moved_day
    naive: datetime = value.replace(tzinfo=None) + relativedelta(months=months) + delta
    zone = value.tzinfo
    if zone is None:
        return naive
    localize = getattr(zone, "localize", None)  # pytz zones
    return cast(datetime, localize(naive)) if localize is not None else naive.replace(tzinfo=zone)


def _check_work(rule: vRecur, text: str, begin: datetime, end: datetime, count: int | None = None) -> None:
    """Raise TooManyOccurrences if dateutil would walk more than MAX_STEPS from `begin` to `end`."""
    freq = str(_first(rule, "FREQ")).upper()
    interval = _first(rule, "INTERVAL") or 1
    if end <= begin:
        return
    if freq in _SECONDS:
        periods = (end - begin).total_seconds() / (_SECONDS[freq] * interval)
    else:
        periods = ((end.year - begin.year) * 12 + end.month - begin.month) / (_MONTHS[freq] * interval)
    rank = _RANK[freq]
    if count is not None and not _limits(rule, rank):
        periods = min(periods, count)
    steps = (periods + 1) * _expansion(rule, rank)
    if steps > MAX_STEPS:
        raise TooManyOccurrences(f"too many occurrences: {text}")


def _size(rule: vRecur, key: str) -> int:
    return len(rule.get(key) or [])


def _expansion(rule: vRecur, rank: int) -> int:
    """An upper bound of the instances one period of this rule expands into (RFC 5545 3.3.10)."""
    factor = 1
    for key, from_rank, per in (
        ("BYSECOND", 1, 1),
        ("BYMINUTE", 2, 1),
        ("BYHOUR", 3, 1),
        ("BYMONTHDAY", 5, 1),
        ("BYYEARDAY", 6, 1),
        ("BYWEEKNO", 6, 7),
        ("BYMONTH", 6, 1),
    ):
        if rank >= from_rank and _size(rule, key):
            factor *= _size(rule, key) * per
    if rank >= 4 and _size(rule, "BYDAY"):
        factor *= _size(rule, "BYDAY") * {4: 1, 5: 5, 6: 53}[rank]
    return factor


def _limits(rule: vRecur, rank: int) -> bool:
    """Whether a BY-part filters this rule's periods (so COUNT instances may take many more periods)."""
    limiting = (
        ("BYSECOND", 0),
        ("BYMINUTE", 1),
        ("BYHOUR", 2),
        ("BYYEARDAY", 2),
        ("BYDAY", 3),
        ("BYMONTHDAY", 3),
        ("BYMONTH", 5),
        ("BYSETPOS", 6),
    )
    return any(rank <= upto and _size(rule, key) for key, upto in limiting)
