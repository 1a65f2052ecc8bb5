"""Benchmark: a simulated year of the morning digest against the plain rule (not a test).

bench/README.md's planner target, on the world of issue 11: a top 100 on a 30-day cadence and 15
referral partners on 21 days, found by the FIRST SYNC of an old address book (two years of
past meetings and emails at various ages; some people have none), 20 people joining the top
100 during the year (each replacing one who leaves it), meetings on the calendar booked days or
weeks ahead, touches nobody can foresee (their email, their call), three vacations (one, two
and two weeks; no digest then: the laptop is closed), birthdays for 30 %. Every workday
morning a policy picks 5 calls and 1 partner; the user acts on each pick the same day with
probability `--follow`; the draw is fixed per (world, person, day), so every policy meets the
same user.

Policies, over the same worlds (one per seed):
  nudge  nudge.core.planner.plan_day, fed what `service.load_people` reads from the store;
  plain  "the 5 most overdue (and the most overdue partner), not touched in 7 days".

    .venv/bin/python bench/planner_year.py                 # 70 % and 90 % follow-through, 20 worlds
    .venv/bin/python bench/planner_year.py --follow 0.7 --seeds 5
    .venv/bin/python bench/planner_year.py --stamp-first-sync   # tiers found at the first sync start that day
    .venv/bin/python bench/planner_year.py --no-vacations       # the same year without the three vacations

The world's free parameters (`WORLD`: how often each person meets you or writes, how far ahead
meetings are booked) were set before nudge's planner was tuned, so that the plain rule gives the
figures issue 11 reports for it (worst gap p95 54 days, partners 5.4 % of days overdue) and the
planner before issue 11 wastes 0.3 % of its suggestions, as the issue says; that planner then
also shows the issue's other figures (p95 62 against 65, partners 5.7 % against 6.6 %).

Figures (mean over worlds, [min-max]):
  overdue>7d   top-100 contact-days more than a week past the cadence (a newcomer is due two
               weeks after joining; a member never touched, one cadence after the first sync;
               a member silent for longer than a cadence counts as due at the first sync)
  gap p95      95th percentile over top-100 members of each one's worst gap in days between
               touches in the year (open gaps run to the end of the year)
  partners     share of partner-days past the 21-day cadence
  waste        share of suggestions for someone touched in the 7 days before, or met at a
               meeting in the 7 days after
  windows      share of 30-day windows of top-100 members with a touch (windows that start
               once a member has been in the tier one cadence, or two weeks for a newcomer)
  max/day      most calls in one digest; 3-running: people shown three workdays running
The exit status is 1 when a target (bench/README.md) is missed at 70 % or, for windows, at 90 %.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import multiprocessing
import random
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from nudge.core import planner

try:  # run as a script (bench/ on sys.path) or as bench.planner_year
    import planner_variants as variants
except ImportError:  # pragma: no cover
    from bench import planner_variants as variants

# `suggested_before` is not in the planner before issue 11: the bench also runs on that code
TWO_DAYS = "suggested_before" in planner.Person.__dataclass_fields__
FIRST_SEEN = "first_seen" in planner.Person.__dataclass_fields__

START = date(2026, 1, 5)  # a Monday: the first sync, the first digest
DAYS = 364
TOP, PARTNERS, JOINERS = 100, 15, 20
TOP_CADENCE, PARTNER_CADENCE = 30, 21
DAILY, PARTNER_COUNT = 5, 1
VACATIONS = [
    (date(2026, 3, 30), date(2026, 4, 3)),
    (date(2026, 8, 3), date(2026, 8, 14)),
    (date(2026, 12, 21), date(2027, 1, 1)),
]
NEWCOMER_DAYS = 14  # PRODUCT.md: newcomers to the top 100 are reached within their first two weeks
PLANNED_DAYS = 14  # touches.planned_days: how far ahead the store knows meetings
DIGEST = time(7, 30)
MEETING_HOUR = 14
SUGGESTED_HOUR = 12  # a call the user made after a suggestion (meetings at 14, their messages at 16)
# The world's free parameters: (low, high, share with none) of each person's mean days between
# organic touches, log-uniform; and the days ahead a meeting is booked (drawn uniformly).
WORLD: dict[str, tuple[float, ...]] = {
    "top_meet": (60, 365, 0.45),
    "top_other": (100, 365, 0.5),
    "partner_meet": (14, 45, 0.05),
    "partner_other": (16.5, 71, 0.05),
    "lead": (0, 1, 2, *range(7, 36)),
}


def at(day: date, when: time = DIGEST) -> datetime:
    return datetime.combine(day, when, tzinfo=UTC)


def on_vacation(day: date) -> bool:
    return any(a <= day <= b for a, b in VACATIONS)


WORKDAYS = frozenset(range(5))


def workday(day: date) -> bool:
    return day.weekday() in WORKDAYS


@dataclass
class Meeting:
    at: datetime
    booked: date  # it is in the calendar (and in the store) from this day on


@dataclass
class Member:
    pid: int
    tier: str
    cadence: int
    slot: str
    joined: date | None  # None: in the tier at the first sync
    left: date | None = None
    birthday: str | None = None
    history: list[datetime] = field(default_factory=list)  # touches before the first sync (or joining)
    meetings: list[Meeting] = field(default_factory=list)  # over the year, on the calendar
    others: list[datetime] = field(default_factory=list)  # their emails and calls: not foreseeable


def _interval(rng: random.Random, low: float, high: float, none_share: float) -> float | None:
    """A person's mean days between organic touches of one kind: log-uniform, or none at all."""
    if rng.random() < none_share:
        return None
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _process(rng: random.Random, mean: float | None, begin: date, end: date, hour: int) -> list[datetime]:
    """Poisson touches on workdays (outside vacations, for meetings)."""
    out: list[datetime] = []
    if mean is None:
        return out
    day = begin + timedelta(days=rng.expovariate(1 / mean))
    while day < end:
        if workday(day) and not (hour == MEETING_HOUR and on_vacation(day)):
            out.append(at(day, time(hour)))
        day += timedelta(days=max(1, round(rng.expovariate(1 / mean))))
    return out


def make_world(seed: int) -> list[Member]:
    """One year's people and their organic touches; the same for every policy."""
    rng = random.Random(seed)
    end = START + timedelta(days=DAYS + 30)
    people: list[Member] = []

    def member(pid: int, tier: str, joined: date | None) -> Member:
        rng = random.Random(f"{seed}:{pid}")  # one stream per person: a change to one kind leaves the rest
        partner = tier == "partner"
        m = Member(
            pid,
            tier,
            PARTNER_CADENCE if partner else TOP_CADENCE,
            "partner" if partner else "call",
            joined,
            birthday=f"--{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if rng.random() < 0.3 else None,
        )
        # meetings: partners work alongside you more often than the rest of a top 100
        meet = _interval(rng, *WORLD["partner_meet"]) if partner else _interval(rng, *WORLD["top_meet"])
        other = _interval(rng, *WORLD["partner_other"]) if partner else _interval(rng, *WORLD["top_other"])
        since = (joined or START) - timedelta(days=730)
        first = joined or START
        past = _process(rng, meet, since, first, MEETING_HOUR) + _process(rng, other, since, first, 16)
        m.history = sorted(t for t in past if t < at(first, time(6)))
        for t in _process(rng, meet, first, end, MEETING_HOUR):
            lead = rng.choice(WORLD["lead"])
            m.meetings.append(Meeting(t, t.date() - timedelta(days=lead)))
        m.others = _process(rng, other, first, end, 16)
        return m

    for pid in range(1, TOP + 1):
        people.append(member(pid, "top100", None))
    for pid in range(TOP + 1, TOP + PARTNERS + 1):
        people.append(member(pid, "partner", None))
    workdays = [START + timedelta(days=d) for d in range(21, 300) if workday(START + timedelta(days=d))]
    leaving = rng.sample(range(1, TOP + 1), JOINERS)
    for j, day in enumerate(sorted(rng.sample(workdays, JOINERS))):
        people[leaving[j] - 1].left = day
        people.append(member(1000 + j, "top100", day))
    return people


@dataclass
class Run:
    touches: dict[int, list[datetime]]
    shown: list[tuple[date, list[int], list[int]]]  # workday, calls, partners
    until: datetime  # the end of the simulation (the year, and the tail)


Policy = Callable[
    [list[Member], dict[int, list[datetime]], dict[int, list[date]], date, datetime],
    tuple[list[int], list[int]],
]


def in_tier(m: Member, day: date) -> bool:
    return (m.joined is None or m.joined <= day) and (m.left is None or day < m.left)


def last_before(touches: list[datetime], now: datetime) -> datetime | None:
    past = [t for t in touches if t <= now]
    return max(past) if past else None


def nudge_policy(stamp_first_sync: bool) -> Policy:
    rules = planner.Rules(daily_size=DAILY, partner_count=PARTNER_COUNT)
    first = at(START, time(6))

    def pick(
        people: list[Member],
        touches: dict[int, list[datetime]],
        suggested: dict[int, list[date]],
        day: date,
        now: datetime,
    ) -> tuple[list[int], list[int]]:
        persons = []
        for m in people:
            if not in_tier(m, day):
                continue
            last = last_before(touches[m.pid], now)
            shown = suggested.get(m.pid, [])
            if m.joined is not None:
                joined: datetime | None = at(m.joined, time(6))
            elif stamp_first_sync or (last is None and not FIRST_SEEN):
                joined = first  # what `load_people` read before issue 11: tier_since, or the creation
            else:
                joined = None
            upcoming = [
                x.at
                for x in m.meetings
                if x.booked < day and now < x.at <= now + timedelta(days=PLANNED_DAYS)
            ]
            persons.append(
                planner.Person(
                    id=m.pid,
                    name=str(m.pid),
                    tier=m.tier,
                    cadence_days=m.cadence,
                    slot=m.slot,
                    joined_at=joined,  # type: ignore[arg-type]
                    last_touch_at=last,
                    next_meeting_at=min(upcoming, default=None),
                    last_suggested=shown[-1] if shown else None,
                    **({"first_seen": first} if FIRST_SEEN else {}),
                    **({"suggested_before": shown[-2] if len(shown) > 1 else None} if TWO_DAYS else {}),
                    birthday=m.birthday,
                )
            )
        plan = planner.plan_day(persons, day, now, rules)
        return [k.person.id for k in plan.calls], [k.person.id for k in plan.partners]

    return pick


def _skips(shown: list[date], touches: list[datetime]) -> int:
    """Digests in a row that named them, with no touch since the first of them."""
    last = touches[-1].date() if touches else None
    count = 0
    for day in reversed(shown):
        if last is not None and last >= day:
            break
        count += 1
    return count


def _organic_per_day(touches: list[datetime], now: datetime) -> float:
    """Meetings and their messages a day over the last year (a call logged after a pick is not)."""
    since = now - timedelta(days=365)
    return sum(1 for t in touches if since <= t <= now and t.hour != SUGGESTED_HOUR) / 365


# Not planners: they foresee every organic touch of the year (meetings not yet booked, their
# emails), and leave out whoever one reaches before they are a week overdue (a partner: before
# due). A bound on what knowing more about the world could buy a planner with the same slots.
ORACLES: dict[str, variants.Variant] = {
    "oracle": replace(
        variants.VARIANTS["nudge"], name="oracle", meeting_aware=True, partner_meeting_aware=True
    ),
    "oracle-lend0.8": replace(
        variants.VARIANTS["nudge"],
        name="oracle-lend0.8",
        meeting_aware=True,
        partner_meeting_aware=True,
        lend=0.8,
    ),
}


def variant_policy(name: str) -> Policy:
    """A planner variant of bench/planner_variants.py, fed what the store knows."""
    foresight = name in ORACLES
    variant = ORACLES[name] if foresight else variants.VARIANTS[name]
    first = at(START, time(6))

    def pick(
        people: list[Member],
        touches: dict[int, list[datetime]],
        suggested: dict[int, list[date]],
        day: date,
        now: datetime,
    ) -> tuple[list[int], list[int]]:
        persons = []
        shown_total = acted = 0
        for m in people:
            if not in_tier(m, day):
                continue
            past = touches[m.pid][: bisect.bisect_right(touches[m.pid], now)]
            last = past[-1] if past else None
            shown = suggested.get(m.pid, [])
            if variant.rank == "slack":  # the user's follow-through so far
                shown_total += len(shown)
                days = {t.date() for t in past if t.hour == SUGGESTED_HOUR}
                acted += sum(1 for d in shown if d in days)
            if foresight:
                upcoming = [t for t in (*(x.at for x in m.meetings), *m.others) if t > now]
            else:
                upcoming = [
                    x.at
                    for x in m.meetings
                    if x.booked < day and now < x.at <= now + timedelta(days=PLANNED_DAYS)
                ]
            persons.append(
                variants.Person(
                    id=m.pid,
                    name=str(m.pid),
                    tier=m.tier,
                    cadence_days=m.cadence,
                    slot=m.slot,
                    joined_at=at(m.joined, time(6)) if m.joined is not None else None,
                    last_touch_at=last,
                    next_meeting_at=min(upcoming, default=None),
                    last_suggested=shown[-1] if shown else None,
                    suggested_before=shown[-2] if len(shown) > 1 else None,
                    birthday=m.birthday,
                    first_seen=first,
                    skips=_skips(shown, past),
                    organic_per_day=_organic_per_day(past, now) if variant.rank in ORGANIC else 0.0,
                )
            )
        ctx = variants.Context(absences=tuple(VACATIONS), follow=acted / shown_total if shown_total else 0.7)
        calls, partners = variants.plan_day(persons, day, now, variant, ctx, DAILY, PARTNER_COUNT)
        return [p.id for p in calls], [p.id for p in partners]

    return pick


ORGANIC = ("projected", "hazard")


def plain_policy(
    people: list[Member],
    touches: dict[int, list[datetime]],
    suggested: dict[int, list[date]],
    day: date,
    now: datetime,
) -> tuple[list[int], list[int]]:
    """The 5 most overdue and the most overdue partner, not touched in the last 7 days."""
    ranked: dict[str, list[tuple[float, int]]] = {"call": [], "partner": []}
    for m in people:
        if not in_tier(m, day):
            continue
        last = last_before(touches[m.pid], now)
        if last is not None and now - last < timedelta(days=7):
            continue
        due = math.inf if last is None else (now - last).total_seconds() / 86400 / m.cadence
        ranked[m.slot].append((-due, m.pid))
    calls = [pid for _, pid in sorted(ranked["call"])[:DAILY]]
    partners = [pid for _, pid in sorted(ranked["partner"])[:PARTNER_COUNT]]
    return calls, partners


def _chance(seed: int, pid: int, day: date) -> float:
    """The user's mood for one person on one day: the same under every policy (common random numbers)."""
    return random.Random(f"{seed}:{pid}:{day.isoformat()}").random()


def _follow_of(seed: int, pid: int, follow: float, mixed: float) -> float:
    """The user's follow-through for one person: `follow` for all, or (`mixed` > 0) each their
    own, drawn from a beta distribution of mean `follow` and concentration `mixed` (a user who
    avoids some people and always calls others)."""
    if mixed <= 0:
        return follow
    return random.Random(f"{seed}:{pid}:user").betavariate(follow * mixed, (1 - follow) * mixed)


def simulate(
    people: list[Member], policy: Policy, follow: float, seed: int, tail: int = 0, mixed: float = 0.0
) -> Run:
    """The year, and `tail` days more (so that gaps open at the year's end can be closed)."""
    odds = {m.pid: _follow_of(seed, m.pid, follow, mixed) for m in people}
    touches: dict[int, list[datetime]] = {}
    for m in people:
        touches[m.pid] = sorted([*m.history, *(x.at for x in m.meetings), *m.others])
    suggested: dict[int, list[date]] = {}
    shown = []
    for offset in range(DAYS + tail):
        day = START + timedelta(days=offset)
        if not workday(day) or on_vacation(day):
            continue  # away: the laptop nudge runs on is closed, no digest
        now = at(day)
        calls, partners = policy(people, touches, suggested, day, now)
        shown.append((day, calls, partners))
        for pid in (*calls, *partners):
            suggested.setdefault(pid, []).append(day)
            if _chance(seed, pid, day) < odds[pid]:
                touches[pid].append(at(day, time(SUGGESTED_HOUR)))
                touches[pid].sort()
    return Run(touches, shown, at(START + timedelta(days=DAYS + tail), time(6)))


@dataclass(frozen=True)
class Figures:
    overdue_week: int
    gap_p95: float
    partners_overdue: float
    waste: float
    windows: float
    max_calls: int  # most top-100 people in one digest (a lent partner slot counts)
    three_running: int  # names (calls or partner) shown three workdays running
    lent: int = 0  # digests whose partner slot named a top-100 person
    newcomers: float = 1.0  # share of people joining the top 100 touched within two weeks
    # the same figures under other readings of issue 11 (`--alt`); see bench/README.md
    gap_p95_closed: float = math.nan  # gaps open at the year's end left out
    gap_p95_tail: float = math.nan  # gaps open at the year's end closed by the next touch after it
    gap_p95_first: float = math.nan  # the gap from the first sync (or joining) to the first touch too
    gap_p95_pooled: float = math.nan  # p95 of all gaps, not of each member's worst
    partners_at_work: float = math.nan  # partner-days overdue, days off not counted


def _due_from(m: Member, touches: list[datetime]) -> datetime:
    """When the member counts as last in cadence: the base every lateness is measured from."""
    if m.joined is not None:
        return at(m.joined, time(6)) + timedelta(days=14 - m.cadence)
    past = [t for t in touches if t < at(START, time(6))]
    if not past:
        return at(START, time(6))
    return max(*past, at(START, time(6)) - timedelta(days=m.cadence))


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def figures(people: list[Member], run: Run, alt: bool = False) -> Figures:
    end = at(START + timedelta(days=DAYS), time(6))
    overdue_week = partner_days = partner_late = 0
    work_days = work_late = 0
    worst: list[float] = []
    closed: list[float] = []
    tail: list[float] = []
    first_too: list[float] = []
    pooled: list[float] = []
    windows = met = 0
    joined = reached = 0
    for m in people:
        touched = run.touches[m.pid]
        if m.joined is not None:
            joined += 1
            start = at(m.joined, time(6))
            reached += any(start <= t < start + timedelta(days=NEWCOMER_DAYS) for t in touched)
        base = _due_from(m, touched)
        begin = at(m.joined or START, time(6))
        stop = at(m.left, time(6)) if m.left else end
        inside = [t for t in touched if begin <= t < stop]
        for offset in range(DAYS):
            day = START + timedelta(days=offset)
            if not in_tier(m, day):
                continue
            now = at(day)
            ref = max([base, *(t for t in inside if t <= now)])
            age = (now - ref).total_seconds() / 86400
            if m.slot == "partner":
                partner_days += 1
                partner_late += age > m.cadence
                if not on_vacation(day):
                    work_days += 1
                    work_late += age > m.cadence
            else:
                overdue_week += age > m.cadence + 7
        if m.slot != "call":
            continue
        points = [*inside, stop] if inside else [base, stop]
        gaps = [_days(a, b) for a, b in itertools.pairwise(points)]
        worst.append(max(gaps))
        if alt:
            inner = [_days(a, b) for a, b in itertools.pairwise(inside)]
            closed.append(max(inner, default=0.0))
            after = [t for t in touched if t >= stop]
            close = stop if m.left else (after[0] if after else run.until)  # still open: a lower bound
            tail_points = [*inside, close] if inside else [base, close]
            tail.append(max(_days(a, b) for a, b in itertools.pairwise(tail_points)))
            first_too.append(max(gaps[0] if not inside else _days(max(base, begin), inside[0]), *gaps))
            pooled.extend(gaps)
        first = begin + timedelta(days=m.cadence if m.joined is None else 14)
        day = first
        while day + timedelta(days=m.cadence) <= stop:
            windows += 1
            met += any(day <= t < day + timedelta(days=m.cadence) for t in inside)
            day += timedelta(days=1)
    wasted = total = lent = 0
    by_id = {m.pid: m for m in people}
    year = [(day, calls, partners) for day, calls, partners in run.shown if at(day) < end]
    most = 0
    for day, calls, partners in year:
        now = at(day)
        lent += any(by_id[pid].slot == "call" for pid in partners)
        most = max(most, sum(1 for pid in (*calls, *partners) if by_id[pid].slot == "call"))
        for pid in (*calls, *partners):
            total += 1
            touched = run.touches[pid]
            before = any(now - timedelta(days=7) < t <= now for t in touched)
            meeting = any(now < x.at <= now + timedelta(days=7) for x in by_id[pid].meetings)
            wasted += before or meeting
    running = 0
    for (d1, a1, a2), (_d2, b1, b2), (d3, c1, c2) in zip(year, year[1:], year[2:], strict=False):
        if planner.workdays_between(d1, d3, WORKDAYS) == 2:  # three workdays running, no day off between
            running += len({*a1, *a2} & {*b1, *b2} & {*c1, *c2})
    nan = math.nan
    return Figures(
        overdue_week=overdue_week,
        gap_p95=statistics.quantiles(worst, n=20)[-1],
        partners_overdue=partner_late / partner_days,
        waste=wasted / total if total else 0.0,
        windows=met / windows if windows else 1.0,
        max_calls=most,
        three_running=running,
        lent=lent,
        newcomers=reached / joined if joined else 1.0,
        gap_p95_closed=statistics.quantiles(closed, n=20)[-1] if alt else nan,
        gap_p95_tail=statistics.quantiles(tail, n=20)[-1] if alt else nan,
        gap_p95_first=statistics.quantiles(first_too, n=20)[-1] if alt else nan,
        gap_p95_pooled=statistics.quantiles(pooled, n=20)[-1] if alt else nan,
        partners_at_work=work_late / work_days if alt else nan,
    )


def spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.mean(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def make_policies(names: list[str], stamp_first_sync: bool) -> dict[str, Policy]:
    builtin: dict[str, Policy] = {"nudge": nudge_policy(stamp_first_sync), "plain": plain_policy}
    return {name: builtin[name] if name in builtin else variant_policy(name) for name in names}


@dataclass(frozen=True)
class Task:
    seed: int
    follow: float
    names: tuple[str, ...]
    stamp_first_sync: bool
    alt: bool
    mixed: float = 0.0


def run_task(task: Task) -> dict[str, Figures]:
    """One world under every policy (a unit of work for --jobs)."""
    world = make_world(task.seed)
    policies = make_policies(list(task.names), task.stamp_first_sync)
    tail = 30 if task.alt else 0
    return {
        name: figures(world, simulate(world, policy, task.follow, task.seed, tail, task.mixed), task.alt)
        for name, policy in policies.items()
    }


def check_copy(seeds: int) -> bool:
    """The variant "nudge" (bench/planner_variants.py) picks what nudge.core.planner picks, day by day."""
    same = True
    for seed in range(1, seeds + 1):
        world = make_world(seed)
        for follow in (0.7, 0.9):
            a = simulate(world, nudge_policy(False), follow, seed)
            b = simulate(world, variant_policy("nudge"), follow, seed)
            differ = sum(x != y for x, y in zip(a.shown, b.shown, strict=True))
            print(f"world {seed} at {follow:.0%}: {differ} of {len(a.shown)} digests differ")
            same &= differ == 0
    return same


def print_table(results: dict[str, list[Figures]], seeds: int, follow: float, alt: bool) -> None:
    print(f"\nfollow-through {follow:.0%}, {seeds} worlds (mean [min-max])")
    plain = statistics.mean(f.overdue_week for f in results["plain"]) if "plain" in results else None
    columns = ("overdue>7d", "x plain", "gap p95", "partners", "waste", "windows")
    print(
        f"{'':14} {columns[0]:>18} {columns[1]:>7} "
        + " ".join(f"{c:>17}" for c in columns[2:])
        + " max/day 3-run  lent  new"
    )
    for name, figs in results.items():
        ratio = statistics.mean(f.overdue_week for f in figs) / plain if plain else math.nan
        print(
            f"{name:14} {spread([f.overdue_week for f in figs], '.0f'):>18} {ratio:>7.2f} "
            f"{spread([f.gap_p95 for f in figs], '.1f'):>17} "
            f"{spread([100 * f.partners_overdue for f in figs], '.1f'):>17} "
            f"{spread([100 * f.waste for f in figs], '.2f'):>17} "
            f"{spread([100 * f.windows for f in figs], '.1f'):>17} "
            f"{max(f.max_calls for f in figs):>7} {sum(f.three_running for f in figs):>5} "
            f"{statistics.mean(f.lent for f in figs):>5.0f} "
            f"{100 * statistics.mean(f.newcomers for f in figs):>3.0f}%"
        )
    if "nudge" in results and len(results) > 2 and seeds > 1:
        print("\npaired with nudge, world by world: mean difference ± 95 % interval")
        print(f"{'':14} {'overdue>7d':>16} {'gap p95':>16} {'partners %':>16}")
        base = results["nudge"]
        for name, figs in results.items():
            if name == "nudge":
                continue
            cells = []
            for get, fmt in (
                (lambda f: f.overdue_week, ".0f"),
                (lambda f: f.gap_p95, ".1f"),
                (lambda f: 100 * f.partners_overdue, ".2f"),
            ):
                diff = [get(f) - get(b) for f, b in zip(figs, base, strict=True)]
                half = 1.96 * statistics.stdev(diff) / math.sqrt(len(diff))
                cells.append(f"{format(statistics.mean(diff), '+' + fmt)} ± {format(half, fmt)}")
            print(f"{name:14} " + " ".join(f"{c:>16}" for c in cells))
    if alt:
        print("\nthe gap and the partners under other readings (mean over worlds)")
        print(
            f"{'':14} {'p95 as issue':>12} {'closed only':>12} {'tail +30d':>12} "
            f"{'from sync':>12} {'all gaps':>12} {'partners at work':>17}"
        )
        for name, figs in results.items():
            print(
                f"{name:14} {statistics.mean(f.gap_p95 for f in figs):>12.1f} "
                f"{statistics.mean(f.gap_p95_closed for f in figs):>12.1f} "
                f"{statistics.mean(f.gap_p95_tail for f in figs):>12.1f} "
                f"{statistics.mean(f.gap_p95_first for f in figs):>12.1f} "
                f"{statistics.mean(f.gap_p95_pooled for f in figs):>12.1f} "
                f"{100 * statistics.mean(f.partners_at_work for f in figs):>16.1f}%"
            )


def meets_targets(figs: list[Figures], plain: list[Figures], follow: float) -> bool:
    ok = max(f.max_calls for f in figs) <= DAILY and sum(f.three_running for f in figs) == 0
    if follow == 0.7:
        ratio = statistics.mean(f.overdue_week for f in figs) / max(
            statistics.mean(f.overdue_week for f in plain), 1
        )
        ok &= ratio <= 0.8
        ok &= statistics.mean(f.gap_p95 for f in figs) <= 50
        ok &= statistics.mean(f.partners_overdue for f in figs) <= 0.04
        ok &= statistics.mean(f.waste for f in figs) <= 0.01
    if follow == 0.9:
        ok &= statistics.mean(f.windows for f in figs) >= 0.9
    return ok


def main() -> int:
    global DAILY  # noqa: PLW0603 (a parameter of the simulated world, read by every policy)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1, help="worlds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--follow", type=float, action="append", help="follow-through (default 0.7 and 0.9)")
    ap.add_argument(
        "--stamp-first-sync", action="store_true", help="tiers found at the first sync start today"
    )
    ap.add_argument("--no-vacations", action="store_true", help="a year without vacations")
    ap.add_argument(
        "--policy",
        action="append",
        metavar="NAME",
        help="also run a variant of bench/planner_variants.py (repeat; 'all' for every one)",
    )
    ap.add_argument("--daily", type=int, default=DAILY, help="calls a digest (daily_size, default 5)")
    ap.add_argument("--list", action="store_true", help="list the variants and exit")
    ap.add_argument(
        "--alt", action="store_true", help="also the gap and partner figures under other readings"
    )
    ap.add_argument(
        "--mixed-user",
        type=float,
        default=0.0,
        metavar="K",
        help="each person their own follow-through, beta of mean --follow and concentration K",
    )
    ap.add_argument("--jobs", type=int, default=1, help="worlds simulated in parallel")
    ap.add_argument("--check-copy", action="store_true", help="the variant 'nudge' picks what nudge picks")
    args = ap.parse_args()
    if args.list:
        for v in variants.VARIANTS.values():
            print(f"{v.name:16} {v.doc}")
        for name in ORACLES:
            print(f"{name:16} not a planner: foresees every organic touch (a bound)")
        return 0
    if args.no_vacations:
        VACATIONS.clear()
    DAILY = args.daily
    if args.check_copy:
        return 0 if check_copy(args.seeds) else 1
    extra = args.policy or []
    if "all" in extra:
        extra = [n for n in variants.VARIANTS if n != "nudge"]
    unknown = [n for n in extra if n not in variants.VARIANTS and n not in ORACLES]
    if unknown:
        ap.error(f"unknown variant {', '.join(unknown)} (see --list)")
    names = ("nudge", "plain", *(f"{n}" for n in extra if n != "nudge"))
    follows = args.follow or [0.7, 0.9]
    tasks = [
        Task(seed, follow, names, args.stamp_first_sync, args.alt, args.mixed_user)
        for follow in follows
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs) as pool:
            done = pool.map(run_task, tasks)
    else:
        done = [run_task(t) for t in tasks]
    ok = True
    for follow in follows:
        results: dict[str, list[Figures]] = {name: [] for name in names}
        for task, figs in zip(tasks, done, strict=True):
            if task.follow == follow:
                for name in names:
                    results[name].append(figs[name])
        print_table(results, args.seeds, follow, args.alt)
        ok &= meets_targets(results["nudge"], results["plain"], follow)
        met = [n for n in extra if meets_targets(results[n], results["plain"], follow)]
        if extra:
            print(f"variants meeting every target at {follow:.0%}: {', '.join(met) or 'none'}")
    print("\nnudge: targets met" if ok else "\nnudge: a target is missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
