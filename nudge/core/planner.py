"""Who to call today (pure: people, day and time are parameters).

A birthday, a job change or an unanswered message comes first: such a moment
does not wait. Then the most overdue, so that when the user cannot keep up
everyone drifts a little late and nobody is dropped. Nobody touched in the last week, nobody
with a meeting in the coming week, nobody snoozed, and a suggestion that was
not acted on rests a few workdays before it can return: the longer the person is
overdue, the shorter the rest, and nobody is shown three workdays running.

The partner block names the partner most due every workday, even one not due yet
(nobody touched in the last week): a dozen partners on a three-week cadence need
about one follow-up a workday, so the one slot cannot afford to stay empty, nor to
rest a skipped partner for days (they may come back the next workday, not a third).

A due follow-up (a promise with a date: "send Ana the deck on Friday") is not a
suggestion but a promise: on its day, and every workday after until it is done, the
person is on the list first, above the daily size if need be, whatever would keep
them off it otherwise (a snooze, a recent touch, a meeting, a rest). A snooze hides
suggestions; it does not cancel what the user promised. The daily list is never
longer than `daily_size` plus the people with a follow-up due.

`due_of` and `standing` are the one definition of "due" and "overdue": the digest,
`plan`, `contacts`, `top100 list` and `stats` all read them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from nudge.core.records import Slot
from nudge.core.warmth import require_aware

QUIET_DAYS = 7  # no suggestion within this many days of a touch
MEETING_DAYS = 7  # ... or of an upcoming meeting
NEWCOMER_DAYS = 14  # newcomers to a tier are reached within this many days
MIN_PRIORITY = 0.5  # below this it is too early to call, even with free slots
REST_STEP = 0.05  # a skipped suggestion rests one workday less per 5 % of a cadence of lateness
BOOST = {"birthday_soon": 1.0, "birthday": 0.5, "job_change": 0.75, "inbound": 0.75}


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    tier: str
    cadence_days: int
    slot: Slot  # call | partner
    joined_at: datetime | None  # when they entered the tier; None: before their history began
    last_touch_at: datetime | None = None
    warmth: float = 0.0
    snoozed_until: date | None = None
    next_meeting_at: datetime | None = None
    last_suggested: date | None = None  # the last delivered digest that named them
    suggested_before: date | None = None  # ... and the one before that
    birthday: str | None = None  # "YYYY-MM-DD" or "--MM-DD"
    moments: tuple[str, ...] = ()  # unseen moment kinds: job_change, inbound
    first_seen: datetime | None = None  # when nudge first saw them (for the never touched)


@dataclass(frozen=True)
class FollowUp:
    """An open follow-up: on `due` (and after, until done) `person` is on the list first.

    `person` need not be in a tier: a promise to anyone counts (their `tier` is then "").
    """

    id: int
    person: Person
    due: date
    text: str = ""


@dataclass(frozen=True)
class Pick:
    person: Person
    due: float
    priority: float
    # follow_up first when one is due, then moments (birthday | birthday_soon | job_change |
    # inbound), then, for someone in a tier, exactly one of
    # new (never touched) | joined (not touched since joining) | overdue (due >= 1) | early (due < 1)
    reasons: tuple[str, ...]
    birthday_in: int | None = None  # days until the birthday, when within a week
    follow_ups: tuple[FollowUp, ...] = ()  # the due ones, most overdue first


@dataclass(frozen=True)
class Rules:
    daily_size: int = 5
    partner_count: int = 1
    workdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    cooldown_workdays: int = 3
    # the share of recent call suggestions the user acted on within a week; None: too few yet
    follow_through: float | None = None


@dataclass(frozen=True)
class Capacity:
    ok: bool
    needed_per_workday: float
    daily_size: int
    overdue: int
    advice: str = ""


@dataclass(frozen=True)
class Plan:
    day: date
    workday: bool
    calls: tuple[Pick, ...]
    partners: tuple[Pick, ...]
    capacity: Capacity
    eligible: int = 0
    excluded: dict[str, int] = field(default_factory=dict)


def _spread(person_id: int) -> float:
    """A stable number in [0, 1) per person, to spread a fresh list over its cadence."""
    digest = hashlib.blake2b(str(person_id).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32


def days_until_birthday(birthday: str | None, today: date) -> int | None:
    if not birthday:
        return None
    month, day = int(birthday[-5:-3]), int(birthday[-2:])
    for year in (today.year, today.year + 1):
        try:
            when = date(year, month, day)
        except ValueError:  # 29 Feb in a common year: celebrate on 1 Mar
            when = date(year, 3, 1)
        if when >= today:
            return (when - today).days
    return None


def workdays_between(earlier: date, later: date, workdays: frozenset[int]) -> int:
    """Workdays after `earlier` up to and including `later`."""
    days = (later - earlier).days
    if days <= 0:
        return 0
    weeks, rest = divmod(days, 7)
    count = weeks * len(workdays)
    count += sum(1 for i in range(1, rest + 1) if (earlier + timedelta(days=i)).weekday() in workdays)
    return count


def is_newcomer(p: Person) -> bool:
    """Never touched, or not since joining the tier (a tier found at the first sync has no join date)."""
    if p.last_touch_at is None:
        return True
    return p.joined_at is not None and p.last_touch_at < p.joined_at


def due_of(p: Person, now: datetime) -> float:
    """Overdueness: days since the last touch over the cadence (>= 1 is overdue).

    Someone who joined a tier later counts as due from the day they join, rising
    twice as fast for their first two weeks, so one person added to a list that is
    running late is still reached soon; among them, whoever was touched longest ago
    comes first. Someone in a tier from the start but never touched is due from the
    day nudge first saw them, rising like everyone else. People never touched get a
    stable per-person offset, so that a fresh list of a hundred is spread over the
    first weeks instead of arriving at once.
    """
    touch_due = 0.0
    if p.last_touch_at is not None:
        touch_due = max((now - p.last_touch_at).total_seconds(), 0) / 86400 / p.cadence_days
    if not is_newcomer(p):
        return touch_due
    offset = min(touch_due, 1.0) if p.last_touch_at is not None else _spread(p.id)
    if p.joined_at is None:  # never touched, in the tier since before nudge knew them
        days = max((now - (p.first_seen or now)).total_seconds() / 86400, 0.0)
        return 1.0 + 0.5 * offset + days / p.cadence_days
    days = max((now - p.joined_at).total_seconds() / 86400, 0.0)
    boost = 2 * min(days, NEWCOMER_DAYS) + max(days - NEWCOMER_DAYS, 0.0)
    return max(touch_due, 1.0 + 0.5 * offset + boost / p.cadence_days)


def standing(p: Person, now: datetime) -> str:
    """`new` (not contacted since joining the tier), `overdue` (due >= 1) or `within` the cadence."""
    if is_newcomer(p):
        return "new"
    return "overdue" if due_of(p, now) >= 1 else "within"


def rest_workdays(due: float, cooldown: int) -> int:
    """How many workdays a suggestion that was not acted on rests before it can return.

    `cooldown` while the person is not yet overdue, one workday less for each
    REST_STEP of a cadence they are late: an overdue person comes back sooner
    than someone barely due, and the very late the next workday.
    """
    late = max(due - 1.0, 0.0)
    return max(0, min(cooldown, cooldown - math.floor(late / REST_STEP + 1e-9)))


def resting(p: Person, today: date, now: datetime, rules: Rules) -> bool:
    """Skipped lately and still resting (a partner only after two workdays running: see the top)."""
    if p.last_suggested is None or p.last_suggested >= today:
        return False
    if p.last_touch_at is not None and p.last_touch_at.date() >= p.last_suggested:
        return False  # acted on
    cooldown = 0 if p.slot == "partner" else rules.cooldown_workdays
    rest = rest_workdays(due_of(p, now), cooldown)
    before = p.suggested_before
    if (
        before is not None
        and workdays_between(before, p.last_suggested, rules.workdays) == 1
        and (p.last_touch_at is None or p.last_touch_at.date() < before)
    ):
        rest = max(rest, 1)  # never three workdays running
    return workdays_between(p.last_suggested, today, rules.workdays) <= rest


def _excluded(p: Person, today: date, now: datetime, rules: Rules) -> str | None:
    if p.snoozed_until is not None and p.snoozed_until > today:
        return "snoozed"
    recent = p.last_touch_at is not None and now - p.last_touch_at < timedelta(days=QUIET_DAYS)
    if recent and "inbound" not in p.moments:  # their unanswered email is the reason to call
        return "recently touched"
    if p.next_meeting_at is not None and now <= p.next_meeting_at <= now + timedelta(days=MEETING_DAYS):
        return "meeting planned"
    if resting(p, today, now, rules):
        return "resting after a suggestion"
    return None


def _pick(p: Person, today: date, now: datetime) -> Pick:
    due = due_of(p, now)
    if is_newcomer(p):
        reasons = ["new" if p.last_touch_at is None else "joined"]
    else:
        reasons = ["overdue" if due >= 1 else "early"]
    priority = due
    bday = days_until_birthday(p.birthday, today)
    if bday is not None and bday < 7:
        reasons.insert(0, "birthday_soon" if bday <= 1 else "birthday")
        priority += BOOST[reasons[0]]
    else:
        bday = None
    for kind in dict.fromkeys(p.moments):
        if kind in BOOST:
            reasons.insert(0, kind)
            priority += BOOST[kind]
    return Pick(person=p, due=due, priority=priority, reasons=tuple(reasons), birthday_in=bday)


def has_moment(pick: Pick) -> bool:
    return any(r in BOOST for r in pick.reasons)


def _choose(picks: Iterable[Pick], size: int, floor: float = MIN_PRIORITY) -> tuple[Pick, ...]:
    """Moments first (they do not wait), then the most overdue."""
    ranked = sorted(
        picks,
        key=lambda k: (not has_moment(k), -k.priority, _spread(k.person.id * 7919), k.person.id),
    )
    return tuple(k for k in ranked if has_moment(k) or k.priority >= floor)[:size]


def _ceil(value: float) -> int:
    """Ceiling that forgives float noise: 3.0000000000000018 calls a day is 3."""
    return math.ceil(value - 1e-9)


def capacity(people: Sequence[Person], rules: Rules, now: datetime) -> Capacity:
    """Can `daily_size` calls a workday keep every call tier within its cadence?

    Only the suggestions the user acts on reach anyone: with a known follow-through below
    one, five a day reach fewer than five people (a simulated year at 70 % shows every
    planner drifting late then, however it ranks: bench/README.md).
    """
    calls = [p for p in people if p.slot == "call"]
    workdays = max(len(rules.workdays), 1)
    needed = sum(7 / p.cadence_days for p in calls) / workdays
    overdue = sum(1 for p in calls if standing(p, now) == "overdue")
    share = rules.follow_through or 1.0  # unknown (or no suggestion acted on yet): all of them
    reached = rules.daily_size * share
    if needed <= reached + 1e-9:
        return Capacity(True, needed, rules.daily_size, overdue)
    stretch = needed / reached
    cadences = sorted({p.cadence_days for p in calls})
    longer = ", ".join(f"{c} to {_ceil(c * stretch)} days" for c in cadences)
    if needed <= rules.daily_size + 1e-9:
        advice = (
            f"you acted on {share:.0%} of the call suggestions of the last weeks, so "
            f"{rules.daily_size} a workday reach about {reached:.1f} people, and {len(calls)} people on "
            f"their cadences need {needed:.1f}: everyone will drift late. Act on more of them, "
            f"raise digest.daily_size to {_ceil(needed / share)}, or lengthen cadence_days ({longer})."
        )
        return Capacity(False, needed, rules.daily_size, overdue, advice)
    advice = (
        f"{len(calls)} people on their cadences need {needed:.1f} calls a workday but the "
        f"digest suggests {rules.daily_size}: everyone will drift late. Raise digest.daily_size "
        f"to {_ceil(needed / share)}, or lengthen cadence_days ({longer})."
    )
    return Capacity(False, needed, rules.daily_size, overdue, advice)


def due_follow_ups(follow_ups: Iterable[FollowUp], today: date) -> dict[int, tuple[FollowUp, ...]]:
    """Per person, their follow-ups due by `today`, most overdue first; people in that order."""
    due = sorted((f for f in follow_ups if f.due <= today), key=lambda f: (f.due, f.id))
    by_person: dict[int, list[FollowUp]] = {}
    for f in due:
        by_person.setdefault(f.person.id, []).append(f)
    return {pid: tuple(fs) for pid, fs in by_person.items()}


def _follow_pick(fs: tuple[FollowUp, ...], today: date, now: datetime) -> Pick:
    """A person with a follow-up due: the promise first, then what the planner knows of a tiered one."""
    p = fs[0].person
    if not p.tier or p.cadence_days <= 0:
        return Pick(person=p, due=0.0, priority=0.0, reasons=("follow_up",), follow_ups=fs)
    base = _pick(p, today, now)
    return replace(base, reasons=("follow_up", *base.reasons), follow_ups=fs)


def plan_day(
    people: Sequence[Person],
    today: date,
    now: datetime,
    rules: Rules,
    follow_ups: Sequence[FollowUp] = (),
) -> Plan:
    """Today's calls and partner follow-ups; empty on a day off.

    People with a follow-up due come first in the calls, all of them, then as
    many suggestions as `daily_size` leaves room for.
    """
    require_aware(now)
    cap = capacity(people, rules, now)
    workday = today.weekday() in rules.workdays
    promised = due_follow_ups(follow_ups, today)
    excluded: dict[str, int] = {}
    candidates: dict[str, list[Pick]] = {"call": [], "partner": []}
    for p in people:
        if p.id in promised:
            continue  # on the list for their follow-up
        why = _excluded(p, today, now, rules)
        if why:
            excluded[why] = excluded.get(why, 0) + 1
            continue
        candidates.setdefault(p.slot, []).append(_pick(p, today, now))
    if not workday:
        return Plan(today, False, (), (), cap, 0, excluded)
    first = tuple(_follow_pick(fs, today, now) for fs in promised.values())
    return Plan(
        day=today,
        workday=True,
        calls=first + _choose(candidates["call"], max(rules.daily_size - len(first), 0)),
        partners=_choose(candidates["partner"], rules.partner_count, floor=0.0),  # see module docstring
        capacity=cap,
        eligible=sum(len(v) for v in candidates.values()),
        excluded=excluded,
    )


def forecast(
    people: Sequence[Person],
    first_day: date,
    days: int,
    rules: Rules,
    at: time,
    tz: tzinfo,
    follow_ups: Sequence[FollowUp] = (),
) -> list[Plan]:
    """The coming days' plans, assuming the user calls everyone suggested on the day
    (and so closes any follow-up with them, as a logged touch does)."""
    current = {p.id: p for p in people}
    promises = list(follow_ups)
    plans = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        now = datetime.combine(day, at, tzinfo=tz)
        open_now = [replace(f, person=current.get(f.person.id, f.person)) for f in promises]
        plan = plan_day(list(current.values()), day, now, rules, open_now)
        plans.append(plan)
        reached = {k.person.id for k in (*plan.calls, *plan.partners)}
        promises = [f for f in promises if f.person.id not in reached]
        for pick in (*plan.calls, *plan.partners):
            if pick.person.id not in current:
                continue  # someone outside the tiers, there for a follow-up
            current[pick.person.id] = replace(
                pick.person,
                last_touch_at=now,
                last_suggested=day,
                suggested_before=pick.person.last_suggested,
                moments=(),
            )
    return plans
