"""The manager's view of one rep, in numbers only (pure): behaviour, top-100 health, streaks.

The funnel itself is `metrics.funnel` (the same for a rep as for `nudge stats`); this module
adds what a team wants to reward besides results: curious calls (a call the rep prepared for
or learned from: it carries a note, or it answered a suggestion that came with a prompt) and
referrals given, counted per week like the funnel, a cadence summary of the top 100 and the
rep's streak of workdays with outreach. Nothing here holds a contact's name: a team report is
built from these values only, so it cannot show one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from nudge.core import planner

PROMPT_WINDOW = timedelta(days=7)  # a call within a week of a prompted suggestion answers it
OUTREACH = frozenset({"call", "meeting", "message"})  # what keeps a streak going (not bulk mail)
BEHAVIOUR = ("curious_calls", "referrals_given")


@dataclass(frozen=True)
class Call:
    contact_id: int
    at: datetime
    noted: bool  # the rep wrote down what they heard


@dataclass(frozen=True)
class Prompted:
    contact_id: int
    day: date  # the digest that suggested them with a curiosity prompt


def is_curious(call: Call, prompted: Iterable[Prompted], tz: tzinfo) -> bool:
    """A call with a note, or one made within a week of a digest that prompted a question."""
    if call.noted:
        return True
    local = call.at.astimezone(tz).date()
    return any(p.contact_id == call.contact_id and p.day <= local < p.day + PROMPT_WINDOW for p in prompted)


@dataclass
class Behaviour:
    start: date  # a Monday
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BEHAVIOUR, 0))


def behaviour(
    calls: Iterable[Call],
    prompted: Iterable[Prompted],
    given: Iterable[datetime],
    tz: tzinfo,
    weeks: list[date],
) -> list[Behaviour]:
    """Curious calls and referrals given per week (weeks start on the Mondays in `weeks`)."""
    table = {start: Behaviour(start) for start in weeks}
    by_contact: dict[int, list[Prompted]] = {}
    for p in prompted:
        by_contact.setdefault(p.contact_id, []).append(p)

    def week_of(at: datetime) -> Behaviour | None:
        day = at.astimezone(tz).date()
        return table.get(day - timedelta(days=day.weekday()))

    for call in calls:
        row = week_of(call.at)
        if row is not None and is_curious(call, by_contact.get(call.contact_id, ()), tz):
            row.counts["curious_calls"] += 1
    for at in given:
        row = week_of(at)
        if row is not None:
            row.counts["referrals_given"] += 1
    return [table[w] for w in weeks]


@dataclass(frozen=True)
class Streak:
    current: int  # workdays running up to today (today counts once it has outreach)
    longest: int  # the longest run within the days looked at


def streak(active: Iterable[date], today: date, since: date, workdays: frozenset[int]) -> Streak:
    """Workdays in a row with outreach; days off neither break nor extend a run.

    Today without outreach yet does not break the current run: the day is not over.
    """
    days = set(active)
    run = longest = 0
    day = since
    while day <= today:
        if day.weekday() in workdays:
            if day in days:
                run += 1
            elif day != today:
                run = 0
            longest = max(longest, run)
        elif day in days:  # a call on a Saturday counts, without being owed
            run += 1
            longest = max(longest, run)
        day += timedelta(days=1)
    return Streak(run, longest)


def days_late(p: planner.Person, now: datetime) -> float | None:
    """Days past the cadence for someone overdue (None for the within and the new)."""
    if planner.standing(p, now) != "overdue" or p.last_touch_at is None:
        return None
    return max((now - p.last_touch_at).total_seconds() / 86400 - p.cadence_days, 0.0)


@dataclass(frozen=True)
class TopHealth:
    people: int
    within: int
    overdue: int
    new: int
    median_days_late: float | None  # over the overdue

    @property
    def overdue_share(self) -> float | None:
        return self.overdue / self.people if self.people else None


def top_health(people: Iterable[planner.Person], now: datetime, tier: str = "top100") -> TopHealth:
    """How the top 100 stands against its cadence: within, overdue (and how late), new."""
    counts = {"within": 0, "overdue": 0, "new": 0}
    late: list[float] = []
    for p in people:
        if p.tier != tier:
            continue
        counts[planner.standing(p, now)] += 1
        gone = days_late(p, now)
        if gone is not None:
            late.append(gone)
    return TopHealth(
        people=sum(counts.values()),
        within=counts["within"],
        overdue=counts["overdue"],
        new=counts["new"],
        median_days_late=statistics.median(late) if late else None,
    )
