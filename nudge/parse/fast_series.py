"""The fast path for a plain recurring series: one RRULE, its EXDATEs and its moved instances (pure).

The library path reads a series with icalendar and expands it with
recurring-ical-events (5.5 ms a series on real calendars, most of it building
components). Here the rule goes to dateutil directly, over only the instances
nudge reads: from just before the window to the first one after it. Which
instances count, how EXDATEs and RECURRENCE-IDs match them (in UTC and in wall
time, as dates for all-day series), how spans are compared: all as
recurring-ical-events' `Series.between` does, with its own comparison
functions, so the record is the same. Whatever is unusual declines (returns
to `parse.fast`, which hands the object to the library): BYSETPOS and the
other rare BY-parts, several RRULEs, RDATE, EXRULE, RANGE, DURATION, mixed
value types, rules whose DTSTART is not their first instance. A hypothesis test
(tests/unit/test_parse_fast_series.py) checks it against the library path.
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday
from recurring_ical_events.util import time_span_contains_event, to_recurrence_ids

from nudge.core.records import EventRecord, Occurrence
from nudge.parse.ical import _occurrence, as_utc
from nudge.parse.recurrence import HORIZON, MAX_OCCURRENCES


class Decline(Exception):
    """Not plain enough: the library path decides."""


_KEYS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"})
_FREQ = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
_DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_RULE = re.compile(r"[A-Z]+=[A-Z0-9+,-]+(?:;[A-Z]+=[A-Z0-9+,-]+)*")
_BYDAY = re.compile(r"([+-]?[1-5]?)(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_MARGIN = timedelta(days=3)  # more than any UTC offset, for wall times compared as UTC
_MOST = 3000  # instances enumerated for one series before declining


SERIES = frozenset({"RRULE", "EXDATE", "RECURRENCE-ID", "SEQUENCE"})  # what `parse.fast` keeps for a series


def kind(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return "date"
    return "floating" if value.tzinfo is None else "aware"


def _span(event: dict[str, Any]) -> tuple[date | datetime, date | datetime]:
    """(start, end) as recurring-ical-events' EventAdapter has them; mixed kinds decline."""
    start = event["DTSTART"].dt
    if "DURATION" in event:
        raise Decline
    if "DTEND" in event:
        end = event["DTEND"].dt
        if kind(end) != kind(start) or end < start:
            raise Decline
    else:
        end = start + timedelta(days=1) if kind(start) == "date" else start
    return start, end


def _rule(raw: str, start: date | datetime) -> dict[str, Any]:
    """dateutil's arguments for `raw`, or Decline for anything outside the common shapes."""
    if not _RULE.fullmatch(raw):
        raise Decline
    parts = dict(p.split("=", 1) for p in raw.split(";"))
    if len(parts) != raw.count(";") + 1 or not set(parts) <= _KEYS:
        raise Decline
    freq = parts.get("FREQ")
    if freq not in _FREQ or ("COUNT" in parts and "UNTIL" in parts):
        raise Decline
    args: dict[str, Any] = {"freq": _FREQ[freq], "interval": _number(parts.get("INTERVAL", "1"), 1, 1000)}
    if freq == "YEARLY" and args["interval"] != 1:
        raise Decline
    if "COUNT" in parts:
        args["count"] = _number(parts["COUNT"], 1, _MOST)
    if "UNTIL" in parts:
        args["until"] = _until(parts["UNTIL"], start)
    if "WKST" in parts:
        if parts["WKST"] not in _DAYS:
            raise Decline
        args["wkst"] = _DAYS[parts["WKST"]]
    allowed = {
        "DAILY": {"BYDAY"},
        "WEEKLY": {"BYDAY"},
        "MONTHLY": {"BYDAY", "BYMONTHDAY"},
        "YEARLY": {"BYMONTH", "BYMONTHDAY", "BYDAY"},
    }[freq]
    by = {k for k in parts if k.startswith("BY")}
    if (
        not by <= allowed
        or {"BYDAY", "BYMONTHDAY"} <= by
        or (freq == "YEARLY" and by & {"BYDAY", "BYMONTH"} == {"BYDAY"})
    ):
        raise Decline
    if "BYDAY" in parts:
        days = [_BYDAY.fullmatch(d) for d in parts["BYDAY"].split(",")]
        if any(m is None for m in days):
            raise Decline
        ordinals = [
            (int(m.group(1)) if m.group(1) not in ("", "+", "-") else 0, m.group(2)) for m in days if m
        ]
        if any(m.group(1) in ("+", "-") for m in days if m) or (
            freq in ("DAILY", "WEEKLY") and any(n for n, _ in ordinals)
        ):
            raise Decline
        args["byweekday"] = tuple(weekday(_DAYS[d], n or None) for n, d in ordinals)
    if "BYMONTHDAY" in parts:
        args["bymonthday"] = tuple(_number(d, -31, 31) for d in parts["BYMONTHDAY"].split(","))
        if 0 in args["bymonthday"]:
            raise Decline
    if "BYMONTH" in parts:
        args["bymonth"] = tuple(_number(m, 1, 12) for m in parts["BYMONTH"].split(","))
    return args


def _number(raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"-?[0-9]{1,4}", raw) or not low <= int(raw) <= high:
        raise Decline
    return int(raw)


def _until(raw: str, start: date | datetime) -> datetime:
    """UNTIL as dateutil compares it: a date for all-day series, UTC for zoned ones, floating for floating."""
    m = _UNTIL.fullmatch(raw)
    if m is None:
        raise Decline
    form = "date" if m.group(2) is None else "aware" if m.group(3) else "floating"
    if form != kind(start):
        raise Decline
    try:
        until = datetime.strptime(m.group(1) + (m.group(2) or "000000"), "%Y%m%d%H%M%S")
    except ValueError as e:
        raise Decline from e
    return until.replace(tzinfo=UTC) if form == "aware" else until


def _matches(args: dict[str, Any], first: datetime) -> bool:
    """Whether `first` (DTSTART) fits the rule's BY-parts: then dateutil's walk stops at it."""
    if "bymonth" in args and first.month not in args["bymonth"]:
        return False
    last = calendar.monthrange(first.year, first.month)[1]
    if "bymonthday" in args and not any(
        first.day == (d if d > 0 else last + d + 1) for d in args["bymonthday"]
    ):
        return False
    for day in args.get("byweekday", ()):
        n = day.n
        if day.weekday == first.weekday() and (
            not n
            or (n > 0 and (first.day - 1) // 7 + 1 == n)
            or (n < 0 and (last - first.day) // 7 + 1 == -n)
        ):
            return True
    return "byweekday" not in args


def _defaults(args: dict[str, Any], first: datetime) -> dict[str, Any]:
    """The BY-parts dateutil derives from DTSTART, made explicit so that the start can move."""
    out = dict(args)
    if not any(k in args for k in ("bymonthday", "byweekday")):
        if args["freq"] == YEARLY:
            out.setdefault("bymonth", (first.month,))
            out["bymonthday"] = (first.day,)
        elif args["freq"] == MONTHLY:
            out["bymonthday"] = (first.day,)
        elif args["freq"] == WEEKLY:
            out["byweekday"] = (first.weekday(),)
    return out


def _moved(args: dict[str, Any], first: datetime, target: datetime) -> datetime:
    """A start for the walk: whole periods after `first`, before `target` (wall time), keeping the phase."""
    if first >= target:
        return first
    interval = args["interval"]
    if args["freq"] in (DAILY, WEEKLY):
        period = interval * (7 if args["freq"] == WEEKLY else 1)
        return first + timedelta(days=(target - first).days // period * period)
    if args["freq"] == MONTHLY:
        months = ((target.year - first.year) * 12 + target.month - first.month) // interval * interval
        year, month = divmod(first.month - 1 + months, 12)
        return first.replace(year=first.year + year, month=month + 1, day=1)
    return first.replace(year=target.year, month=1, day=1)


def _steps(args: dict[str, Any], first: datetime, walk_from: datetime) -> Iterator[datetime] | None:
    """What dateutil yields for a rule of fixed steps (daily; weekly on DTSTART's weekday), by adding them.

    Most series are such rules (1:1s, team meetings, fortnightly), and dateutil's
    general walk costs about 4 us an instance; None for any other rule.
    """
    if args["freq"] == DAILY and "byweekday" not in args:
        step = timedelta(days=args["interval"])
    elif args["freq"] == WEEKLY and args.get("byweekday", (weekday(first.weekday()),)) == (
        weekday(first.weekday()),
    ):
        step = timedelta(days=7 * args["interval"])
    else:
        return None
    return _stepping(walk_from, step, args.get("count"), args.get("until"))


def _stepping(
    moment: datetime, step: timedelta, count: int | None, until: datetime | None
) -> Iterator[datetime]:
    zone, naive = moment.tzinfo, moment.replace(tzinfo=None)
    while count is None or count > 0:
        moment = naive.replace(tzinfo=zone) if zone else naive
        if until is not None and moment > until:
            return
        yield moment
        naive += step
        count = None if count is None else count - 1


class _Series:
    """One master VEVENT with its rule, EXDATEs and overrides, as recurring-ical-events sees them."""

    def __init__(
        self, master: dict[str, Any], overrides: list[dict[str, Any]], exdates: list[date | datetime]
    ):
        self.start, self.end = _span(master)
        self.kind = kind(self.start)
        self.all_day = self.kind == "date" and kind(self.end) == "date"
        self.duration: timedelta = self.end - self.start  # type: ignore[operator]  # same kinds (`_span`)
        self.check_date = {d for d in exdates if not isinstance(d, datetime)}
        self.check_dt: set[Any] = set()
        for d in exdates:
            self.check_dt.update(to_recurrence_ids(d))
        self.moved: dict[datetime, dict[str, Any]] = {}
        self.overrides: list[tuple[dict[str, Any], date | datetime, date | datetime]] = []
        for event in overrides:
            ids = to_recurrence_ids(event["RECURRENCE-ID"].dt)
            if any(i in self.moved for i in ids) or self.check_dt & set(ids):
                raise Decline  # the same instance moved twice, or moved and excluded
            for i in ids:
                self.moved[i] = event
            start, end = _span(event)
            if kind(start) != self.kind:
                raise Decline
            self.overrides.append((event, start, end))
        self.instances: list[datetime] = []
        self.keys: list[datetime] = []  # each instance as a comparable instant (wall times as UTC)

    def walk(self, args: dict[str, Any], window_start: datetime, window_end: datetime) -> None:
        """The instances from just before the window to the first one well after it (or the rule's end)."""
        first = self.start if isinstance(self.start, datetime) else datetime.combine(self.start, time())
        naive = first.replace(tzinfo=None)
        if not _matches(args, naive):
            raise Decline  # DTSTART outside its rule: the library adds it as an extra instance
        if "count" not in args:
            target = window_start - abs(self.duration) - _MARGIN
            wall = target.astimezone(first.tzinfo) if first.tzinfo else target
            moved = _moved(args, naive, wall.replace(tzinfo=None))
            walk_from = moved.replace(tzinfo=first.tzinfo)
            it: Iterator[datetime] = _steps(args, naive, walk_from) or iter(
                rrule(dtstart=walk_from, **_defaults(args, naive))
            )
        else:
            it = _steps(args, naive, first) or iter(rrule(dtstart=first, **args))
        if next(iter(rrule(dtstart=first, **args)), None) != first:
            raise Decline
        stop = window_end + 2 * _MARGIN
        checks = bool(self.check_date or self.check_dt or self.moved)
        for walked, moment in enumerate(it):
            if walked > _MOST:
                raise Decline
            key = self._key(moment)
            if key > window_end + HORIZON + _MARGIN:
                break
            if checks and self._skipped(moment):
                continue  # an excluded or moved instance: never yielded as the rule's
            self.instances.append(moment)
            self.keys.append(key)
            if key > stop:
                break

    def _key(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def _skipped(self, moment: datetime) -> bool:
        """Excluded (by an EXDATE, as a date or a time) or moved (a RECURRENCE-ID names it)."""
        ids = to_recurrence_ids(moment)
        return (
            moment.date() in self.check_date
            or any(i in self.check_dt for i in ids)
            or any(i in self.moved for i in ids)
        )

    def _original(self, moment: datetime) -> date | datetime:
        return moment.date() if self.all_day else moment

    def between(self, span_start: datetime, span_stop: datetime) -> Iterator[tuple[Any, date | datetime]]:
        """(override or None, start) of what `Series.between(span_start, span_stop)` yields."""
        low = span_start - abs(self.duration) - _MARGIN
        lo = bisect.bisect_left(self.keys, low)
        hi = bisect.bisect_right(self.keys, span_stop + _MARGIN)
        # the rule's query span: the library's `rrule_between`, with the span extended by the duration
        tz = self.start.tzinfo if isinstance(self.start, datetime) else None
        rule_start = span_start - self.duration
        if tz is None:
            rule_start, rule_stop = rule_start.replace(tzinfo=None), span_stop.replace(tzinfo=None)
        else:
            rule_stop = span_stop
        sure_from, sure_to = (
            span_start + abs(self.duration) + _MARGIN,
            span_stop - abs(self.duration) - _MARGIN,
        )
        for key, moment in zip(self.keys[lo:hi], self.instances[lo:hi], strict=True):
            if sure_from < key < sure_to:  # well inside both spans: the checks below would pass
                yield None, self._original(moment)
                continue
            if not rule_start <= moment <= rule_stop:
                continue
            start = self._original(moment)
            if time_span_contains_event(span_start, span_stop, start, self._original(moment + self.duration)):
                yield None, start
        for event, start, end in self.overrides:
            if time_span_contains_event(span_start, span_stop, start, end):
                yield event, start


def series_record(
    events: list[dict[str, Any]], uid: str, tz: tzinfo, window_start: datetime, window_end: datetime
) -> EventRecord:
    """The record `parse.parse_ical` gives for one plain series (see the module docstring), or Decline."""
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    if len(masters) != 1 or "RRULE" not in masters[0] or len({e.get("UID") for e in events}) != 1:
        raise Decline
    master = masters[0]
    overrides = [e for e in events if e is not master]
    if any("RRULE" in e or "EXDATE" in e for e in overrides):
        raise Decline
    exdates = master.get("EXDATE", [])
    start = master["DTSTART"].dt
    if any(kind(d) != kind(start) for d in exdates):
        raise Decline
    if any(kind(e["RECURRENCE-ID"].dt) != kind(start) for e in overrides):
        raise Decline
    series = _Series(master, overrides, exdates)
    series.walk(_rule(master["RRULE"], start), window_start, window_end)
    found: list[Occurrence] = []
    base: Occurrence | None = None
    for event, begin in series.between(window_start, window_end + timedelta(seconds=1)):
        moment = as_utc(begin, tz)
        if not window_start <= moment <= window_end:
            continue
        if event is not None:
            found.append(_occurrence(event, tz))
            continue
        if base is None:
            base = _occurrence({k: v for k, v in master.items() if k != "RECURRENCE-ID"}, tz)
        key = "%04d%02d%02dT%02d%02d%02dZ" % moment.timetuple()[:6]  # noqa: UP031 - the fastest way
        found.append(Occurrence(key, moment, base.summary, base.cancelled, base.organizer, base.attendees))
    if len(found) > MAX_OCCURRENCES or len({o.start for o in found}) < len(found):
        raise Decline  # the library refuses the series, or orders equal starts its own way
    return EventRecord(
        uid=uid,
        occurrences=tuple(sorted(found, key=lambda o: o.start)),
        next_after_window=_first_after(series, tz, window_end),
        recurring=True,
    )


def _first_after(series: _Series, tz: tzinfo, window_end: datetime) -> datetime | None:
    """As `parse.recurrence._first_after`: doubling spans from the window's end up to the horizon."""
    cap = window_end + HORIZON
    low, span = window_end, timedelta(days=1)
    while low < cap:
        high = min(low + span, cap)
        starts = [as_utc(begin, tz) for _, begin in series.between(low, high)]
        if starts:
            return min(starts)
        low, span = high, span * 2
    return None
