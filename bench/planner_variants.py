"""Planner variants for bench/planner_year.py (research for issue 11, not shipped).

A copy of nudge's planner (`plan_day` and what it needs, as of issue 11) whose choices are
knobs of a `Variant`, so that each idea is measured on the same simulated worlds as nudge
itself. `VARIANTS["nudge"]` is the copy with every knob at nudge's value: it picks exactly
what `nudge.core.planner.plan_day` picks (planner_year.py checks this with `--check-copy`).

The knobs only use what the store knows or could know: touches with their kind (a meeting, an
email, a logged call), meetings on the calendar up to 14 days ahead, every suggestion and
whether it was acted on, and days off on the calendar (an all-day "Out of office" event).
Nothing here sees the simulated user's mood or a meeting not yet booked.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

QUIET_DAYS = 7
MEETING_DAYS = 7
NEWCOMER_DAYS = 14
MIN_PRIORITY = 0.5
REST_STEP = 0.05
BOOST = {"birthday_soon": 1.0, "birthday": 0.5, "job_change": 0.75, "inbound": 0.75}
TOLERANCE_DAYS = 7  # "a week overdue": the deadline of EDF and least-slack-first


@dataclass(frozen=True)
class Person:
    """nudge.core.planner.Person, plus what a variant may read from the store."""

    id: int
    name: str
    tier: str
    cadence_days: int
    slot: str
    joined_at: datetime | None
    last_touch_at: datetime | None = None
    warmth: float = 0.0
    snoozed_until: date | None = None
    next_meeting_at: datetime | None = None
    last_suggested: date | None = None
    suggested_before: date | None = None
    birthday: str | None = None
    moments: tuple[str, ...] = ()
    first_seen: datetime | None = None
    skips: int = 0  # digests in a row that named them without a touch since the first
    organic_per_day: float = 0.0  # meetings and their messages a day over the last year


@dataclass(frozen=True)
class Context:
    """What a variant knows beyond the people: days off ahead, the user's follow-through."""

    absences: tuple[tuple[date, date], ...] = ()  # first and last day off, as far as known
    follow: float = 0.7  # share of suggestions acted on so far


@dataclass(frozen=True)
class Variant:
    name: str
    doc: str
    # the rest after a skip: "shrinking" (nudge: 3 workdays, shorter as lateness grows),
    # "fixed" (always `cooldown`), "none" (back the next workday, never three running)
    rest: str = "shrinking"
    cooldown: int = 3
    partner_rest: str = "partner"  # "partner" (nudge: only after two running) | "calls" (as calls)
    # ranking of the call slots: "due" (nudge), "edf" (deadline cadence + a week), "slack"
    # (least slack: the deadline less the expected days to get it done), "projected" (due at
    # the next realistic chance: a known meeting or an organic touch), "hazard" (due less the
    # organic touches expected in a cadence), "bands" (lateness bands of `band`, then the
    # least recently suggested), "capped" (due, capped at `cap`: very late people no longer
    # outrank each other, the least recently suggested first)
    rank: str = "due"
    hazard_weight: float = 0.0
    horizon: float = 10.0  # days: "projected" looks this far for a touch that comes anyway
    band: float = 0.2
    cap: float = 1.5
    meeting_aware: bool = False  # leave out who a known meeting reaches before a week overdue
    skip_weight: float = 0.0  # added to the priority per skip in a row (negative: less)
    birthdays: bool = True  # a birthday raises the priority (nudge)
    # the partner slot: when the most due partner is below `lend`, it names the most overdue
    # call person instead; a partner at `borrow` or more also competes for the call slots
    lend: float | None = None
    borrow: float | None = None
    partner_floor: float = 0.0  # nudge: the partner slot always names someone
    partner_meeting_aware: bool = False  # leave out partners a known meeting reaches in time
    # a meeting this week leaves someone out only if it reaches them in time (before due for a
    # partner, within a week overdue for a call): a call before a late meeting is "waste" that
    # the 1 % budget may pay for
    meeting_late: bool = False
    partner_meeting_late: bool = False
    # days off on the calendar, known `away_horizon` days ahead
    away_horizon: int = 0  # 0: the variant does not look at days off
    away_rank: bool = False  # before days off, rank calls by their due on the first day back
    away_partner: bool = False  # before days off, the partner slot ranks by the due on return
    away_borrow: int = 0  # partners who would be overdue on return take up to N call slots
    away_lend_days: int = 0  # the first N digests after days off lend the partner slot
    # one pool for both tiers (`pool_calls` > 0): the `daily_size + partner_count` names most
    # days past their deadline, at most `pool_calls` call people and `pool_partners` partners
    pool_calls: int = 0
    pool_partners: int = 1
    pool_partner_tol: float = 0.0
    # a newcomer to a tier ranks with the due it will have `newcomer_shift` days from now
    newcomer_shift: float = 0.0
    # p95 gaming, to bound it: a fixed share of call people (by a stable hash) ranks last
    sacrifice: float = 0.0


def _spread(person_id: int) -> float:
    digest = hashlib.blake2b(str(person_id).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32


def days_until_birthday(birthday: str | None, today: date) -> int | None:
    if not birthday:
        return None
    month, day = int(birthday[-5:-3]), int(birthday[-2:])
    for year in (today.year, today.year + 1):
        try:
            when = date(year, month, day)
        except ValueError:
            when = date(year, 3, 1)
        if when >= today:
            return (when - today).days
    return None


def workdays_between(earlier: date, later: date, workdays: frozenset[int]) -> int:
    days = (later - earlier).days
    if days <= 0:
        return 0
    weeks, rest = divmod(days, 7)
    count = weeks * len(workdays)
    count += sum(1 for i in range(1, rest + 1) if (earlier + timedelta(days=i)).weekday() in workdays)
    return count


def is_newcomer(p: Person) -> bool:
    if p.last_touch_at is None:
        return True
    return p.joined_at is not None and p.last_touch_at < p.joined_at


def due_of(p: Person, now: datetime) -> float:
    touch_due = 0.0
    if p.last_touch_at is not None:
        touch_due = max((now - p.last_touch_at).total_seconds(), 0) / 86400 / p.cadence_days
    if not is_newcomer(p):
        return touch_due
    offset = min(touch_due, 1.0) if p.last_touch_at is not None else _spread(p.id)
    if p.joined_at is None:
        days = max((now - (p.first_seen or now)).total_seconds() / 86400, 0.0)
        return 1.0 + 0.5 * offset + days / p.cadence_days
    days = max((now - p.joined_at).total_seconds() / 86400, 0.0)
    boost = 2 * min(days, NEWCOMER_DAYS) + max(days - NEWCOMER_DAYS, 0.0)
    return max(touch_due, 1.0 + 0.5 * offset + boost / p.cadence_days)


def rest_workdays(due: float, cooldown: int) -> int:
    late = max(due - 1.0, 0.0)
    return max(0, min(cooldown, cooldown - math.floor(late / REST_STEP + 1e-9)))


def _late_at(p: Person, when: datetime, v: Variant) -> bool:
    """The variant calls people whose meeting this week comes only after they are late."""
    if not (v.partner_meeting_late if p.slot == "partner" else v.meeting_late):
        return False
    if p.last_touch_at is None or is_newcomer(p):
        return False
    slack = p.cadence_days + (0 if p.slot == "partner" else TOLERANCE_DAYS)
    return (when - p.last_touch_at).total_seconds() / 86400 > slack


def _resting(p: Person, today: date, now: datetime, v: Variant, workdays: frozenset[int]) -> bool:
    if p.last_suggested is None or p.last_suggested >= today:
        return False
    if p.last_touch_at is not None and p.last_touch_at.date() >= p.last_suggested:
        return False
    if p.slot == "partner" and v.partner_rest == "partner":
        rest = 0
    elif v.rest == "shrinking":
        rest = rest_workdays(due_of(p, now), v.cooldown)
    elif v.rest == "fixed":
        rest = v.cooldown
    else:
        rest = 0
    before = p.suggested_before
    if (
        before is not None
        and workdays_between(before, p.last_suggested, workdays) == 1
        and (p.last_touch_at is None or p.last_touch_at.date() < before)
    ):
        rest = max(rest, 1)
    return workdays_between(p.last_suggested, today, workdays) <= rest


def _excluded(p: Person, today: date, now: datetime, v: Variant, workdays: frozenset[int]) -> str | None:
    if p.snoozed_until is not None and p.snoozed_until > today:
        return "snoozed"
    recent = p.last_touch_at is not None and now - p.last_touch_at < timedelta(days=QUIET_DAYS)
    if recent and "inbound" not in p.moments:
        return "recently touched"
    if (
        p.next_meeting_at is not None
        and now <= p.next_meeting_at <= now + timedelta(days=MEETING_DAYS)
        and not _late_at(p, p.next_meeting_at, v)
    ):
        return "meeting planned"
    aware = v.partner_meeting_aware if p.slot == "partner" else v.meeting_aware
    if aware and p.next_meeting_at is not None and p.last_touch_at is not None and not is_newcomer(p):
        # the meeting comes before they are a week overdue (partners: before they are due)
        slack = p.cadence_days + (0 if p.slot == "partner" else TOLERANCE_DAYS)
        if (p.next_meeting_at - p.last_touch_at).total_seconds() / 86400 <= slack:
            return "meeting in time"
    if _resting(p, today, now, v, workdays):
        return "resting after a suggestion"
    return None


@dataclass(frozen=True)
class Pick:
    person: Person
    due: float
    priority: float
    moment: bool
    recency: int  # workdays since last suggested (large: never)


def _days_off_ahead(today: date, ctx: Context, v: Variant) -> tuple[date, date] | None:
    """The next days off within the horizon: (first day off, first workday back)."""
    if v.away_horizon <= 0:
        return None
    for first, last in ctx.absences:
        if today < first <= today + timedelta(days=v.away_horizon):
            back = last + timedelta(days=1)
            while back.weekday() >= 5:
                back += timedelta(days=1)
            return first, back
    return None


def _priority(p: Person, due: float, now: datetime, v: Variant, ctx: Context) -> float:
    cadence = p.cadence_days
    if v.rank in {"edf", "slack"}:
        age = due * cadence
        slack = cadence + TOLERANCE_DAYS - age
        if v.rank == "slack":
            slack -= (7 / 5) / max(ctx.follow, 0.05)  # calendar days until a pick is acted on
        return -slack / cadence
    if v.rank == "projected":
        lam = p.organic_per_day
        until = v.horizon
        if p.next_meeting_at is not None:
            until = min(until, max((p.next_meeting_at - now).total_seconds() / 86400, 0.0))
        wait = until if lam <= 0 else (1 - math.exp(-lam * until)) / lam
        return due - (v.horizon - wait) / cadence
    if v.rank == "hazard":
        return due - v.hazard_weight * p.organic_per_day * cadence
    if v.rank == "bands":
        return math.floor(due / v.band) * v.band
    if v.rank == "capped":
        return min(due, v.cap)
    return due


def _pick(p: Person, today: date, now: datetime, v: Variant, ctx: Context, when: datetime) -> Pick:
    """`when`: the time lateness is measured at (now, or the first day back after days off)."""
    due = due_of(p, now)
    base = due_of(p, when) if when != now else due
    if v.newcomer_shift and is_newcomer(p) and p.joined_at is not None:
        base = max(base, due_of(p, now + timedelta(days=v.newcomer_shift)))
    priority = _priority(p, base, now, v, ctx)
    moment = False
    if v.birthdays:
        bday = days_until_birthday(p.birthday, today)
        if bday is not None and bday < 7:
            priority += BOOST["birthday_soon" if bday <= 1 else "birthday"]
            moment = True
    for kind in dict.fromkeys(p.moments):
        if kind in BOOST:
            priority += BOOST[kind]
            moment = True
    priority += v.skip_weight * p.skips
    if v.sacrifice and p.slot == "call" and _spread(p.id * 104729) < v.sacrifice:
        priority -= 100.0
    recency = 10**6
    if p.last_suggested is not None and v.rank in ("bands", "capped"):
        recency = workdays_between(p.last_suggested, today, frozenset(range(5)))
    return Pick(p, due, priority, moment, recency)


def _choose(picks: Iterable[Pick], size: int, v: Variant, floor: float = MIN_PRIORITY) -> list[Pick]:
    if v.rank in ("bands", "capped"):
        ranked = sorted(
            picks,
            key=lambda k: (not k.moment, -k.priority, -k.recency, -k.due, k.person.id),
        )
    else:
        ranked = sorted(
            picks,
            key=lambda k: (not k.moment, -k.priority, _spread(k.person.id * 7919), k.person.id),
        )
    # nudge's floor is on the priority; a variant that ranks on something else keeps it on the due
    return [k for k in ranked if k.moment or (k.priority if v.rank == "due" else k.due) >= floor][:size]


def _partner_choose(picks: list[Pick], size: int, v: Variant) -> list[Pick]:
    """The partner slot: the most due partner, even one not due yet (nudge's floor is 0)."""
    if v.rank in ("bands", "capped"):
        ranked = sorted(picks, key=lambda k: (not k.moment, -k.due, k.person.id))
    else:
        ranked = sorted(
            picks, key=lambda k: (not k.moment, -k.priority, _spread(k.person.id * 7919), k.person.id)
        )
    return [k for k in ranked if k.moment or (k.priority if v.rank == "due" else k.due) >= v.partner_floor][
        :size
    ]


def _late_days(k: Pick, v: Variant) -> float:
    """Days past the deadline (a call: a week overdue; a partner: `pool_partner_tol` days)."""
    tol = v.pool_partner_tol if k.person.slot == "partner" else TOLERANCE_DAYS
    return k.priority * k.person.cadence_days - k.person.cadence_days - tol


def _pool(
    calls: list[Pick], partners: list[Pick], size: int, count: int, v: Variant
) -> tuple[list[Pick], list[Pick]]:
    """One pool of `size + count` names for both tiers, ranked on days past each one's deadline."""
    ranked = sorted(
        [*calls, *partners],
        key=lambda k: (not k.moment, -_late_days(k, v), _spread(k.person.id * 7919), k.person.id),
    )
    chosen_calls: list[Pick] = []
    chosen_partners: list[Pick] = []
    for k in ranked:
        if len(chosen_calls) + len(chosen_partners) >= size + count:
            break
        if k.person.slot == "partner":
            if len(chosen_partners) < v.pool_partners:
                chosen_partners.append(k)
        elif len(chosen_calls) < v.pool_calls and (k.moment or k.due >= MIN_PRIORITY):
            chosen_calls.append(k)
    return chosen_calls, chosen_partners


def plan_day(
    people: Sequence[Person],
    today: date,
    now: datetime,
    v: Variant,
    ctx: Context,
    daily_size: int = 5,
    partner_count: int = 1,
) -> tuple[list[Person], list[Person]]:
    """Today's calls and partner slot (which may name a call person when the variant lends it)."""
    workdays = frozenset(range(5))
    if today.weekday() not in workdays:
        return [], []
    away = _days_off_ahead(today, ctx, v)
    back_at = now if away is None else datetime.combine(away[1], now.timetz())
    calls: list[Pick] = []
    partners: list[Pick] = []
    for p in people:
        if _excluded(p, today, now, v, workdays):
            continue
        if p.slot == "partner":
            partners.append(_pick(p, today, now, v, ctx, back_at if v.away_partner else now))
        else:
            calls.append(_pick(p, today, now, v, ctx, back_at if v.away_rank else now))
    if v.pool_calls:
        chosen, lent = _pool(calls, partners, daily_size, partner_count, v)
        return [k.person for k in chosen], [k.person for k in lent]
    # partners late enough (or late on return from days off) may take a call slot
    borrowed: list[Pick] = []
    if v.borrow is not None:
        borrowed = [k for k in partners if k.due >= v.borrow]
    if away is not None and v.away_borrow:
        late_on_return = sorted(
            (k for k in partners if due_of(k.person, back_at) >= 1.0 and k not in borrowed),
            key=lambda k: -due_of(k.person, back_at),
        )
        borrowed = [*borrowed, *late_on_return[: v.away_borrow]]
    chosen_calls = _choose_calls(calls, borrowed, daily_size, v, partner_count, partners)
    taken = {k.person.id for k in chosen_calls}
    chosen_partners = _partner_choose([k for k in partners if k.person.id not in taken], partner_count, v)
    lend = v.lend
    if away is None and v.away_lend_days and _recently_back(today, ctx, v.away_lend_days):
        lend = math.inf
    if lend is not None and (not chosen_partners or chosen_partners[0].due < lend):
        extra = _choose([k for k in calls if k.person.id not in taken], partner_count, v)
        if extra:
            chosen_partners = extra
    return [k.person for k in chosen_calls], [k.person for k in chosen_partners]


def _recently_back(today: date, ctx: Context, digests: int) -> bool:
    """Within the first `digests` workdays after days off that have already happened."""
    for _first, last in ctx.absences:
        if last < today and workdays_between(last, today, frozenset(range(5))) <= digests:
            return True
    return False


def _choose_calls(
    calls: list[Pick],
    borrowed: list[Pick],
    size: int,
    v: Variant,
    partner_count: int,
    partners: list[Pick],
) -> list[Pick]:
    """The call slots; a borrowing partner competes on the same priority, but the partner slot
    always keeps someone to name."""
    if not borrowed:
        return _choose(calls, size, v)
    pool = list({k.person.id: k for k in [*calls, *borrowed]}.values())
    chosen = _choose(pool, size, v)
    partner_ids = {k.person.id for k in partners}
    if len(partner_ids - {k.person.id for k in chosen}) < partner_count:
        chosen = _choose([k for k in pool if k.person.id not in partner_ids], size, v)
    return chosen


def _v(name: str, doc: str, **knobs: object) -> Variant:
    return Variant(name, doc, **knobs)  # type: ignore[arg-type]


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _v("nudge", "nudge's planner as shipped (issue 11), copied"),
        # within nudge's rules: at most daily_size calls, the partner slot for partners
        # 3. the rest after a skip, and the skips themselves
        _v("rest-none", "a skip does not rest (back the next workday; never three running)", rest="none"),
        _v("rest-fixed", "a skip rests 3 workdays however late (before issue 11)", rest="fixed"),
        _v("rest-fixed1", "a skip rests 1 workday however late", rest="fixed", cooldown=1),
        _v("skip-penalty", "each skip in a row lowers the priority by 0.1", skip_weight=-0.1),
        _v("skip-boost", "each skip in a row raises the priority by 0.1", skip_weight=0.1),
        # 4. the ranking
        _v("edf", "earliest deadline first: last touch + cadence + a week", rank="edf"),
        _v("slack", "least slack first: the deadline less the expected days to get it done", rank="slack"),
        _v(
            "projected",
            "due at the next realistic chance (a known meeting, organic touches)",
            rank="projected",
        ),
        _v(
            "hazard",
            "due less 0.5 x the organic touches expected in a cadence",
            rank="hazard",
            hazard_weight=0.5,
        ),
        _v("bands", "lateness bands of 0.2, then the least recently suggested", rank="bands"),
        _v("capped", "due capped at 1.5, then the least recently suggested", rank="capped"),
        _v(
            "meeting14",
            "leave out who a known meeting (<= 14 days) reaches within a week overdue",
            meeting_aware=True,
        ),
        _v("no-birthdays", "birthdays raise no priority (they still show)", birthdays=False),
        _v("newcomer-fast", "a newcomer ranks with the due it will have in 14 days", newcomer_shift=14),
        # 2. the partner slot, for partners
        _v(
            "partner-aware",
            "partners a known meeting reaches before due leave the slot",
            partner_meeting_aware=True,
        ),
        _v(
            "partner-late",
            "a partner whose meeting this week comes after due is not left out",
            partner_meeting_late=True,
        ),
        _v("borrow1.2", "a partner at due 1.2 also competes for the call slots", borrow=1.2),
        _v(
            "pool5",
            "5 calls + 1 partner as one pool on days past the deadline (a partner may take a call slot)",
            pool_calls=5,
            pool_partners=2,
        ),
        # 1. days off on the calendar
        _v(
            "away-rank",
            "before days off (known 60 days ahead), calls ranked by the due on return",
            away_horizon=60,
            away_rank=True,
        ),
        _v(
            "away-partner",
            "before days off, the partner slot ranked by the due on return",
            away_horizon=60,
            away_partner=True,
        ),
        _v(
            "away-borrow",
            "in the week before days off, a partner overdue on return takes a call slot",
            away_horizon=7,
            away_partner=True,
            away_borrow=1,
        ),
        _v(
            "combo",
            "newcomer-fast + meeting14 + skip-boost",
            newcomer_shift=14,
            meeting_aware=True,
            skip_weight=0.1,
        ),
        # beyond nudge's rules: the partner slot names a top-100 person (6 calls in a digest)
        _v("lend0.7", "no partner at due 0.7: the partner slot names the most overdue call person", lend=0.7),
        _v("lend0.8", "no partner at due 0.8: the partner slot names the most overdue call person", lend=0.8),
        _v("lend1.0", "no partner due: the partner slot names the most overdue call person", lend=1.0),
        _v(
            "lend-all",
            "the partner slot always names a call person (partners: organic touches only)",
            lend=math.inf,
        ),
        _v(
            "pool6",
            "6 names as one pool on days past the deadline (a call: a week overdue; a partner: due)",
            pool_calls=6,
        ),
        _v(
            "away-all",
            "away-rank + away-partner + the partner slot lent the first 10 digests back",
            away_horizon=60,
            away_rank=True,
            away_partner=True,
            away_lend_days=10,
        ),
        # a bound, not a planner: gaming the percentile
        _v("sacrifice3", "p95 gaming: 3 % of the call people (a stable hash) rank last", sacrifice=0.03),
    )
}
