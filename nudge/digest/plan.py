"""Who to call today: the people in a tier, as the planner sees them, and the day's plan.

`load_people` is the one source of "due": the digest, `plan`, `contacts`,
`top100 list`, `show` and `stats` all start here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from nudge.config import WEEKDAYS, Settings, parse_hhmm
from nudge.core import planner
from nudge.core.warmth import roll_forward, score
from nudge.store.models import Contact, DigestRun, FollowUp, Moment, Planned, Suggestion


def delivered_days() -> Any:
    """Days whose digest went out (or may have): only their suggestions were seen."""
    return select(col(DigestRun.date)).where(col(DigestRun.state).in_(("sent", "sending")))


def local_now(settings: Settings, now: datetime) -> datetime:
    return now.astimezone(settings.tz)


def digest_time(settings: Settings, day: date) -> datetime:
    return datetime.combine(day, parse_hhmm(settings.digest.time), tzinfo=settings.tz)


FOLLOW_WEEKS = 8  # how far back the follow-through is read
FOLLOW_DAYS = 7  # a suggestion counts as acted on when a touch came within a week
FOLLOW_MIN = 20  # fewer call suggestions than this say nothing yet


def follow_through(session: Session, settings: Settings, day: date) -> float | None:
    """The share of the call suggestions of the last weeks' delivered digests that the user acted
    on within a week; None while there are too few (a new install) or none was acted on."""
    since, until = day - timedelta(weeks=FOLLOW_WEEKS), day - timedelta(days=FOLLOW_DAYS)
    rows = session.exec(
        select(col(Suggestion.digest_date), col(Suggestion.acted_at)).where(
            Suggestion.slot == "call",
            col(Suggestion.digest_date) >= since,
            col(Suggestion.digest_date) <= until,
            col(Suggestion.digest_date).in_(delivered_days()),
        )
    ).all()
    if len(rows) < FOLLOW_MIN:
        return None
    acted = sum(
        1
        for shown, at in rows
        if at is not None and at.astimezone(settings.tz).date() <= shown + timedelta(days=FOLLOW_DAYS)
    )
    return acted / len(rows) if acted else None


def plan_rules(
    settings: Settings, force_day: date | None = None, follow: float | None = None
) -> planner.Rules:
    days = {WEEKDAYS.index(d) for d in settings.digest.workdays}
    if force_day is not None:
        days.add(force_day.weekday())
    return planner.Rules(
        daily_size=settings.digest.daily_size,
        partner_count=settings.digest.partner_count,
        workdays=frozenset(days),
        cooldown_workdays=settings.digest.cooldown_workdays,
        follow_through=follow,
    )


def warmth_now(contact_sum: float, at: datetime | None, now: datetime, half_life: float) -> float:
    if at is None:
        return 0.0
    return score(roll_forward(contact_sum, at, now, half_life))


REST_WINDOW_DAYS = 60  # longer than any rest after a suggestion (cooldown_workdays <= 20)


def load_people(session: Session, settings: Settings, now: datetime, day: date) -> list[planner.Person]:
    """Everyone in a tier with a cadence, as the planner sees them on `day` (the one source of
    "due": the digest, `plan`, `contacts`, `top100 list` and `stats` all start here)."""
    tiers = settings.tiers
    half_life = settings.touches.half_life_days
    meetings = dict(
        session.exec(
            select(Planned.contact_id, func.min(Planned.at))
            .where(col(Planned.at) > now)
            .group_by(col(Planned.contact_id))
        ).all()
    )
    suggested: dict[int, list[date]] = {}
    for cid, when in session.exec(
        select(col(Suggestion.contact_id), col(Suggestion.digest_date))
        .where(
            col(Suggestion.digest_date) < day,
            col(Suggestion.digest_date) >= day - timedelta(days=REST_WINDOW_DAYS),
            col(Suggestion.digest_date).in_(delivered_days()),
        )
        .order_by(col(Suggestion.digest_date).desc())
    ):
        suggested.setdefault(cid, []).append(when)
    moments: dict[int, list[str]] = {}
    for cid, kind in session.exec(
        select(Moment.contact_id, Moment.kind).where(col(Moment.seen_at).is_(None))
    ):
        moments.setdefault(cid, []).append(kind)
    tiered = session.exec(
        select(Contact).where(col(Contact.archived_at).is_(None), col(Contact.tier).in_(list(tiers)))
    )
    people = []
    for c in tiered:
        assert c.id is not None and c.tier is not None
        shown = suggested.get(c.id, [])
        people.append(
            planner.Person(
                id=c.id,
                name=c.name,
                tier=c.tier,
                cadence_days=c.cadence_days or tiers[c.tier].cadence_days,
                slot=tiers[c.tier].slot,
                joined_at=c.tier_since,  # None: found at a source's first sync (ingest_tiers)
                last_touch_at=c.last_touch_at,
                warmth=warmth_now(c.warmth_sum, c.warmth_at, now, half_life),
                snoozed_until=c.snoozed_until,
                next_meeting_at=meetings.get(c.id),
                last_suggested=shown[0] if shown else None,
                suggested_before=shown[1] if len(shown) > 1 else None,
                birthday=c.birthday,
                moments=tuple(moments.get(c.id, ())),
                first_seen=c.created_at or now,
            )
        )
    return people


def load_follow_ups(
    session: Session, settings: Settings, people: list[planner.Person], now: datetime
) -> list[planner.FollowUp]:
    """Every open follow-up with a contact not archived, as the planner sees it; a person outside
    the tiers is there too (a promise to anyone counts), with no tier and no cadence."""
    tiered = {p.id: p for p in people}
    rows = session.exec(
        select(FollowUp, Contact)
        .join(Contact, col(Contact.id) == col(FollowUp.contact_id))
        .where(col(FollowUp.done_at).is_(None), col(Contact.archived_at).is_(None))
        .order_by(col(FollowUp.due), col(FollowUp.id))
    ).all()
    out = []
    for f, c in rows:
        assert f.id is not None and c.id is not None
        person = tiered.get(c.id) or planner.Person(
            id=c.id,
            name=c.name,
            tier="",
            cadence_days=0,
            slot="call",
            joined_at=None,
            last_touch_at=c.last_touch_at,
            warmth=warmth_now(c.warmth_sum, c.warmth_at, now, settings.touches.half_life_days),
            birthday=c.birthday,
        )
        out.append(planner.FollowUp(id=f.id, person=person, due=f.due, text=f.text))
    return out


def make_plan(
    engine: Engine, settings: Settings, now: datetime, day: date, force: bool = False
) -> tuple[planner.Plan, list[planner.Person]]:
    with Session(engine) as s:
        people = load_people(s, settings, now, day)
        follow_ups = load_follow_ups(s, settings, people, now)
        follow = follow_through(s, settings, day)
    rules = plan_rules(settings, day if force else None, follow)
    return planner.plan_day(people, day, now, rules, follow_ups), people
