"""What the digest says about a plan: the facts the store holds for each pick (I/O).

service.py plans; this gathers, for the people picked, what digest.py (pure)
needs to write about them: addresses, the last touch and note, open moments,
the referral ledger, the week's funnel, replies to tell, failing sources.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge.config import Settings, config_dir, phone_region
from nudge.core import metrics, planner, prompts
from nudge.digest import brief
from nudge.digest import render as digest
from nudge.digest.plan import delivered_days, load_follow_ups, plan_rules
from nudge.store.models import (
    Contact,
    DigestRun,
    FollowUp,
    Identity,
    Moment,
    Note,
    Planned,
    Referral,
    Reply,
    Suggestion,
    SyncState,
    Touch,
    UserAction,
)


def _facts(session: Session, pick: planner.Pick, now: datetime, day: date, tz: tzinfo) -> digest.Facts:
    cid = pick.person.id
    ident = {
        kind: value
        for kind, value in reversed(
            session.exec(
                select(Identity.kind, Identity.value)
                .where(Identity.contact_id == cid)
                .order_by(col(Identity.id))
            ).all()
        )
    }
    last = session.exec(
        select(Touch).where(Touch.contact_id == cid, col(Touch.at) <= now).order_by(col(Touch.at).desc())
    ).first()
    note = last_note(session, cid)
    asked = session.exec(
        select(Suggestion.prompt)
        .where(
            Suggestion.contact_id == cid,
            col(Suggestion.digest_date) >= day - timedelta(days=prompts.REPEAT_DAYS),
            col(Suggestion.digest_date) < day,
            col(Suggestion.digest_date).in_(delivered_days()),
            Suggestion.prompt != "",
        )
        .order_by(col(Suggestion.digest_date))
    ).all()
    open_moments = session.exec(
        select(Moment.kind, Moment.detail)
        .where(Moment.contact_id == cid, col(Moment.seen_at).is_(None))
        .order_by(col(Moment.at))
    ).all()
    details = dict(open_moments)  # ordered oldest first, so the newest of each kind wins
    job = details.get("job_change")
    given = received = 0
    ledger: list[str] = []
    if pick.person.slot == "partner":
        refs = session.exec(
            select(Referral).where(Referral.contact_id == cid).order_by(col(Referral.at).desc())
        ).all()
        given = sum(1 for r in refs if r.direction == "given")
        received = len(refs) - given
        for r in refs[:3]:
            verb = "you gave" if r.direction == "given" else "you received"
            who = f" ({r.counterpart})" if r.counterpart else ""
            at = digest.short_date(r.at.astimezone(tz).date(), day)
            ledger.append(f"{at}: {verb} {r.note or 'a referral'}{who}")
    return digest.Facts(
        email=ident.get("email"),
        phone=ident.get("phone"),
        last_touch_at=last.at if last else None,
        last_touch_kind=last.kind if last else None,
        last_touch_summary=(last.summary or None) if last else None,
        last_note=note[1] if note else None,
        last_note_at=note[0] if note else None,
        job_change=job,
        inbound=details.get("inbound"),
        recent_prompts=tuple(asked),
        given=given,
        received=received,
        ledger=tuple(ledger),
    )


def last_note(session: Session, contact_id: int) -> tuple[datetime, str] | None:
    """The newest note, whether written with a touch or on its own."""
    touch = session.exec(
        select(Touch)
        .where(Touch.contact_id == contact_id, col(Touch.note).is_not(None), Touch.note != "")
        .order_by(col(Touch.at).desc())
    ).first()
    note = session.exec(
        select(Note).where(Note.contact_id == contact_id).order_by(col(Note.at).desc())
    ).first()
    found = [(t.at, t.note or "") for t in (touch,) if t] + [(n.at, n.text) for n in (note,) if n]
    return max(found, default=None)


def failing_sources(session: Session, settings: Settings, today: date | None = None) -> tuple[str, ...]:
    names = {s.name for s in settings.sources if s.enabled}
    lines = []
    for state in session.exec(
        select(SyncState).where(SyncState.collection == "", col(SyncState.last_error).is_not(None))
    ):
        if state.source in names:
            good = state.last_success_at
            ok = (
                f"; last good sync {digest.short_date(good.astimezone(settings.tz).date(), today)}"
                if good
                else ""
            )
            lines.append(f"Source {state.source} is failing: {state.last_error}{ok}")
    return tuple(sorted(lines))


def funnel(session: Session, settings: Settings, weeks: list[date]) -> list[metrics.Week]:
    """The outreach funnel for the weeks starting on these Mondays."""
    if not weeks:
        return []
    start, end = min(weeks), max(weeks) + timedelta(days=7)
    suggested = [
        metrics.Suggested(day, cid)
        for day, cid in session.exec(
            select(col(Suggestion.digest_date), col(Suggestion.contact_id)).where(
                col(Suggestion.digest_date) >= start,
                col(Suggestion.digest_date) < end,
                col(Suggestion.digest_date).in_(delivered_days()),
            )
        )
    ]
    ids = sorted({s.contact_id for s in suggested})
    acts: list[metrics.Act] = []
    since = datetime.combine(start, datetime.min.time(), tzinfo=settings.tz)
    for chunk in range(0, len(ids), 500):
        acts += [
            metrics.Act(cid, at, kind, outcome)
            for cid, at, kind, outcome in session.exec(
                select(col(Touch.contact_id), col(Touch.at), col(Touch.kind), col(Touch.outcome)).where(
                    col(Touch.contact_id).in_(ids[chunk : chunk + 500]), col(Touch.at) >= since
                )
            )
        ]
    return metrics.funnel(suggested, acts, settings.tz, weeks)


def last_week(session: Session, settings: Settings, day: date) -> digest.Metrics:
    monday = day - timedelta(days=day.weekday())
    [week] = funnel(session, settings, [monday - timedelta(days=7)])
    return digest.Metrics(dict(week.counts))


def build_view(
    engine: Engine,
    settings: Settings,
    plan: planner.Plan,
    people: list[planner.Person],
    now: datetime,
) -> digest.View:
    with Session(engine) as s:
        picked = (*plan.calls, *plan.partners)
        facts = {k.person.id: _facts(s, k, now, plan.day, settings.tz) for k in picked}
        strip = sorted(((p.name, p.warmth) for p in people if p.slot == "call"), key=lambda c: -c[1])
        view = digest.build_view(
            plan,
            facts,
            strip,
            settings.tz,
            failing_sources=failing_sources(s, settings, plan.day),
            metrics=(last_week(s, settings, plan.day) or None) if plan.day.weekday() == 0 else None,
            sign=settings.me.name,
            library=digest.load_prompts(config_dir() / "prompts.toml"),
            replies=_reply_notes(s, settings),
            reply_help=_reply_help(settings),
            region=phone_region(settings.me.region, settings.tz.key),
        )
        if not plan.workday:
            return view
        return brief.add_briefs(
            view,
            today_meetings(s, settings, people, plan.day, now),
            outcome_asks(s, settings, plan.day, now),
            follow_offers(s, settings, plan.day, now),
            settings.tz,
            digest.load_prompts(config_dir() / "prompts.toml"),
        )


MAX_OFFERS = 3  # follow-ups offered in one digest, the newest touches first (a backfill logs many)


def _day_start(settings: Settings, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=settings.tz)


def today_meetings(
    session: Session, settings: Settings, people: list[planner.Person], day: date, now: datetime
) -> tuple[brief.TodayMeeting, ...]:
    """The day's meetings with people nudge knows: ahead (`Planned`) or already begun (a touch)."""
    start = _day_start(settings, day)
    end = start + timedelta(days=1)
    found: dict[tuple[str, datetime], tuple[str, dict[int, Contact]]] = {}
    ahead = session.exec(
        select(Planned.event_uid, Planned.at, Planned.summary, Contact)
        .join(Contact, col(Contact.id) == col(Planned.contact_id))
        .where(col(Planned.at) >= start, col(Planned.at) < end, col(Contact.archived_at).is_(None))
    ).all()
    begun = session.exec(
        select(Touch.external_id, Touch.at, Touch.summary, Contact)
        .join(Contact, col(Contact.id) == col(Touch.contact_id))
        .where(
            Touch.kind == "meeting",
            col(Touch.external_id).is_not(None),
            col(Touch.at) >= start,
            col(Touch.at) < end,
            col(Contact.archived_at).is_(None),
        )
    ).all()
    for key, at, title, contact in (*ahead, *begun):
        uid = (key or "").split("|", 1)[0]
        entry = found.setdefault((uid, at), (title or "", {}))
        assert contact.id is not None
        entry[1][contact.id] = contact
    if not found:
        return ()
    known = {p.id: p for p in people}
    promises: dict[int, list[planner.FollowUp]] = {}
    for f in load_follow_ups(session, settings, people, now):
        promises.setdefault(f.person.id, []).append(f)
    out = []
    for (_, at), (title, contacts) in found.items():
        attendees = []
        for cid, c in sorted(contacts.items(), key=lambda kv: kv[1].name):
            person = known.get(cid) or planner.Person(
                id=cid, name=c.name, tier="", cadence_days=0, slot="call", joined_at=None
            )
            bday = planner.days_until_birthday(c.birthday, day)
            attendees.append(
                brief.Attendee(
                    person=person,
                    facts=_facts(session, planner.Pick(person, 0.0, 0.0, ()), start, day, settings.tz),
                    follow_ups=tuple(promises.get(cid, ())),
                    birthday_in=bday if bday is not None and bday < 7 else None,
                )
            )
        out.append(brief.TodayMeeting(at=at, title=title, attendees=tuple(attendees)))
    return tuple(out)


def outcome_asks(
    session: Session, settings: Settings, day: date, now: datetime
) -> tuple[brief.OutcomeAsk, ...]:
    """Meetings with someone in a tier since the last workday began, with no outcome logged."""
    workdays = plan_rules(settings).workdays
    before = next(
        (day - timedelta(days=n) for n in range(1, 8) if (day - timedelta(days=n)).weekday() in workdays),
        day - timedelta(days=1),
    )
    start, end = _day_start(settings, before), min(_day_start(settings, day), now)
    rows = session.exec(
        select(Touch, Contact)
        .join(Contact, col(Contact.id) == col(Touch.contact_id))
        .where(
            Touch.kind == "meeting",
            col(Touch.external_id).is_not(None),
            col(Touch.outcome).is_(None),
            col(Touch.at) >= start,
            col(Touch.at) < end,
            col(Contact.archived_at).is_(None),
            col(Contact.tier).in_(list(settings.tiers)),
        )
        .order_by(col(Touch.at).desc())
    ).all()
    latest: dict[int, brief.OutcomeAsk] = {}
    for t, c in rows:
        latest.setdefault(
            t.contact_id, brief.OutcomeAsk(c.name, t.summary or "", t.at.astimezone(settings.tz).date())
        )
    return tuple(sorted(latest.values(), key=lambda a: (a.day, a.name)))


def follow_offers(
    session: Session, settings: Settings, day: date, now: datetime
) -> tuple[brief.FollowOffer, ...]:
    """Touches that led to a meeting or a referral since the last digest went out (logged so, or
    given that outcome since), with nobody promised a follow-up since: offer to set one."""
    last = session.exec(
        select(DigestRun.sent_at, DigestRun.updated_at)
        .where(col(DigestRun.date) < day, col(DigestRun.state).in_(("sent", "sending")))
        .order_by(col(DigestRun.date).desc())
    ).first()
    since = (last[0] or last[1]) if last else None
    since = since or now - timedelta(days=7)
    marked = {
        int(target[1:])
        for target in session.exec(
            select(UserAction.target).where(
                UserAction.kind == "outcome",
                col(UserAction.at) > since,
                col(UserAction.undone_at).is_(None),
            )
        )
        if target[1:].isdigit()
    }
    fresh = col(Touch.created_at) > since
    if marked:
        fresh = fresh | col(Touch.id).in_(sorted(marked))
    rows = session.exec(
        select(Touch, Contact)
        .join(Contact, col(Contact.id) == col(Touch.contact_id))
        .where(
            col(Touch.outcome).in_(("meeting", "referral")),
            col(Touch.at) <= now,
            fresh,
            col(Contact.archived_at).is_(None),
        )
        .order_by(col(Touch.at).desc())
    ).all()
    offers: dict[int, brief.FollowOffer] = {}
    for t, c in rows:
        if t.contact_id in offers:
            continue
        promised = session.exec(
            select(FollowUp.id).where(FollowUp.contact_id == t.contact_id, col(FollowUp.created_at) >= t.at)
        ).first()
        if promised is None:
            offers[t.contact_id] = brief.FollowOffer(
                c.name, t.kind, t.outcome or "", t.at.astimezone(settings.tz).date()
            )
    newest = sorted(offers.values(), key=lambda o: (o.day, o.name), reverse=True)[:MAX_OFFERS]
    return tuple(sorted(newest, key=lambda o: (o.day, o.name)))


def _reply_notes(session: Session, settings: Settings) -> tuple[digest.ReplyNote, ...]:
    if session.exec(select(Reply.id).where(col(Reply.reported_on).is_(None))).first() is None:
        return ()  # the usual morning: nothing to tell, nothing more to import
    from nudge.digest import replies

    return tuple(
        digest.ReplyNote(t.id, t.received, t.applied, t.problems) for t in replies.untold(session, settings)
    )


def _reply_help(settings: Settings) -> str:
    if settings.reply_source is None:
        return ""
    from nudge.core.commands import HELP

    return HELP


def templates_dir(settings: Settings) -> Path:
    if settings.digest.templates_dir:
        return Path(settings.digest.templates_dir).expanduser()
    return config_dir() / "templates"
