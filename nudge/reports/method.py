"""The method, measured: building the top 100, the funnel, cadence health, the ledger.

Gathers plain values from the store and hands them to the pure modules
(ranking, metrics, planner); the CLI prints what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nudge.config import Settings, parse_hhmm
from nudge.core import metrics, planner, ranking
from nudge.digest.facts import funnel
from nudge.digest.plan import follow_through, load_follow_ups, load_people, plan_rules
from nudge.store.models import Contact, Identity, Referral, Sighting, Touch


def evidence(session: Session, now: datetime) -> list[ranking.Evidence]:
    """Two years of touches and referrals per live contact, aggregated in the database."""
    since = now - timedelta(days=ranking.WINDOW_DAYS)
    live = select(Contact.id).where(col(Contact.archived_at).is_(None))
    month = func.substr(sa.cast(Touch.at, sa.String), 1, 7)

    def tally(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return func.sum(sa.case((condition, 1), else_=0))

    kinds = list(ranking.KIND_POINTS)
    rows = session.execute(
        sa.select(
            col(Touch.contact_id),
            func.max(col(Touch.at)),
            func.count(sa.distinct(month)),
            tally(col(Touch.direction).in_(("in", "both"))),
            tally(col(Touch.direction).in_(("out", "both"))),
            *(tally(col(Touch.kind) == kind) for kind in kinds),
        )
        .where(col(Touch.at) >= since, col(Touch.at) <= now, col(Touch.contact_id).in_(live))
        .group_by(col(Touch.contact_id))
    )
    # One row per contact, so the work stays in the database even for a million touches.
    found: dict[int, tuple[datetime, int, int, int, dict[str, int]]] = {}
    for cid, newest, months, inbound, outbound, *per_kind in rows:
        counts = {kind: int(n) for kind, n in zip(kinds, per_kind, strict=True) if n}
        found[cid] = (_aware(newest), int(months), int(inbound), int(outbound), counts)
    referrals: dict[int, int] = dict(
        session.execute(
            sa.select(col(Referral.contact_id), func.count()).group_by(col(Referral.contact_id))
        ).all()
    )
    people = session.execute(
        sa.select(col(Contact.id), col(Contact.name), col(Contact.tier)).where(
            col(Contact.archived_at).is_(None)
        )
    )
    out = []
    for cid, name, tier in people:
        if cid not in found and cid not in referrals:
            continue
        last, months, inbound, outbound, counts = found.get(cid, (None, 0, 0, 0, {}))
        out.append(
            ranking.Evidence(
                id=cid,
                name=name,
                tier=tier,
                counts=counts,
                last_at=last,
                months=months,
                inbound=inbound,
                outbound=outbound,
                referrals=referrals.get(cid, 0),
            )
        )
    return out


SIGHTED_AT_LEAST = 2  # meetings and emails: someone seen once is a passer-by, not a candidate


def sighting_evidence(
    session: Session, now: datetime, me: frozenset[str] = frozenset()
) -> list[ranking.Evidence]:
    """People met or mailed (two years, twice or more) whose address is in no address book.

    Aggregated in the database like `evidence`; `id` is 0 and `email` the address (`nudge add`).
    """
    since = now - timedelta(days=ranking.WINDOW_DAYS)
    month = func.substr(sa.cast(Sighting.at, sa.String), 1, 7)
    kinds = list(ranking.KIND_POINTS)

    def tally(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return func.sum(sa.case((condition, 1), else_=0))

    known = select(Identity.value).where(Identity.kind == "email")
    rows = session.execute(
        sa.select(
            col(Sighting.email),
            func.min(col(Sighting.at)),
            func.max(col(Sighting.at)),
            func.count(sa.distinct(month)),
            tally(col(Sighting.direction).in_(("in", "both"))),
            tally(col(Sighting.direction).in_(("out", "both"))),
            *(tally(col(Sighting.kind) == kind) for kind in kinds),
        )
        .where(col(Sighting.at) >= since, col(Sighting.at) <= now, col(Sighting.email).not_in(known))
        .group_by(col(Sighting.email))
        .having(func.count(sa.distinct(col(Sighting.external_id))) >= SIGHTED_AT_LEAST)
    )
    out = []
    for email, first, last, months, inbound, outbound, *per_kind in rows:
        if email in me:
            continue
        counts = {kind: int(n) for kind, n in zip(kinds, per_kind, strict=True) if n}
        out.append(
            ranking.Evidence(
                id=0,
                name=email,
                tier=None,
                counts=counts,
                last_at=_aware(last),
                months=int(months),
                inbound=int(inbound),
                outbound=int(outbound),
                referrals=0,
                email=email,
                first_at=_aware(first),
            )
        )
    return out


def _aware(value: object) -> datetime:
    """max() over a UTC column comes back aware from the type, or as text on some drivers."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Health:
    tier: str
    within: int
    overdue: int
    new: int  # not contacted since joining the tier (or never)


def cadence_health(people: list[planner.Person], now: datetime) -> list[Health]:
    """Per tier, how many stand within their cadence, overdue, or new (`planner.standing`)."""
    out: dict[str, dict[str, int]] = {}
    for p in people:
        row = out.setdefault(p.tier, {"within": 0, "overdue": 0, "new": 0})
        row[planner.standing(p, now)] += 1
    return [Health(tier, **row) for tier, row in sorted(out.items())]


@dataclass(frozen=True)
class Stats:
    weeks: list[metrics.Week]
    trend: float | None
    health: list[Health]


def stats(session: Session, settings: Settings, now: datetime, weeks: int) -> Stats:
    today = now.astimezone(settings.tz).date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(days=7 * i) for i in range(weeks - 1, -1, -1)]
    table = funnel(session, settings, mondays)
    people = load_people(session, settings, now, today)
    return Stats(table, metrics.trend(table), cadence_health(people, now))


def forecast(session: Session, settings: Settings, now: datetime, days: int) -> list[planner.Plan]:
    today = now.astimezone(settings.tz).date()
    people = load_people(session, settings, now, today)
    at = parse_hhmm(settings.digest.time)
    first = today if now.astimezone(settings.tz).time() < at else today + timedelta(days=1)
    follow_ups = load_follow_ups(session, settings, people, now)
    rules = plan_rules(settings, follow=follow_through(session, settings, today))
    return planner.forecast(people, first, days, rules, at, settings.tz, follow_ups)


@dataclass(frozen=True)
class Ledger:
    partner: str
    given: int
    received: int
    last_at: datetime | None
    entries: list[Referral]

    @property
    def balance(self) -> int:
        return self.given - self.received


def ledgers(session: Session, contact_id: int | None = None) -> list[Ledger]:
    """Per partner (or one contact): what was given and received, newest first."""
    query = select(Referral).order_by(col(Referral.at).desc())
    if contact_id is not None:
        query = query.where(Referral.contact_id == contact_id)
    by_contact: dict[int, list[Referral]] = {}
    for ref in session.exec(query):
        by_contact.setdefault(ref.contact_id, []).append(ref)
    partners = select(Contact.id).where(Contact.tier == "partner")
    if contact_id is None:
        for cid in session.exec(partners):
            if cid is not None:
                by_contact.setdefault(cid, [])
    names: dict[int, str] = dict(
        session.execute(
            sa.select(col(Contact.id), col(Contact.name)).where(col(Contact.id).in_(list(by_contact)))
        ).all()
    )
    out = [
        Ledger(
            partner=names.get(cid, f"#{cid}"),
            given=sum(1 for r in refs if r.direction == "given"),
            received=sum(1 for r in refs if r.direction == "received"),
            last_at=refs[0].at if refs else None,
            entries=refs,
        )
        for cid, refs in by_contact.items()
    ]
    return sorted(
        out, key=lambda led: (led.last_at is None, -(led.last_at.timestamp() if led.last_at else 0))
    )


def days_since(when: datetime | None, today: date, settings: Settings) -> int | None:
    return None if when is None else (today - when.astimezone(settings.tz).date()).days
