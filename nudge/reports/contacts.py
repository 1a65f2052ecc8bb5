"""What the CLI shows of people: the contact list, one person's detail and timeline, what was
entered by hand. Typed read models over the store; `due` always comes from the planner
(`digest.plan.load_people`), so every view agrees with the digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge.config import Settings
from nudge.core.planner import Person, due_of, standing
from nudge.core.warmth import label, roll_forward, score
from nudge.digest.plan import load_people
from nudge.ingest.tiers import named_tiers
from nudge.store import journal
from nudge.store.dialect import bytewise
from nudge.store.models import Contact, Identity, Moment, Note, Planned, Referral, Touch
from nudge.store.query import chunks


@dataclass(frozen=True)
class Row:
    id: int
    name: str
    tier: str
    warmth: float
    label: str
    last_touch_at: datetime | None
    due: float | None  # the planner's (`planner.due_of`); None outside a tier with a cadence
    org: str
    archived: bool
    standing: str | None = None  # the planner's: new | overdue | within


def planned_people(session: Session, settings: Settings, now: datetime) -> dict[int, Person]:
    """The people the planner sees today, by contact id: every view's due comes from here."""
    return {p.id: p for p in load_people(session, settings, now, now.astimezone(settings.tz).date())}


def rows(session: Session, settings: Settings, now: datetime, archived: bool = False) -> list[Row]:
    half = settings.touches.half_life_days
    planned = planned_people(session, settings, now)
    out = []
    stmt = select(Contact)
    if not archived:
        stmt = stmt.where(col(Contact.archived_at).is_(None))
    for c in session.exec(stmt.order_by(bytewise(col(Contact.name)))):
        assert c.id is not None
        warmth = score(roll_forward(c.warmth_sum, c.warmth_at, now, half)) if c.warmth_at else 0.0
        person = planned.get(c.id)
        out.append(
            Row(
                c.id,
                c.name,
                c.tier or "",
                warmth,
                label(warmth),
                c.last_touch_at,
                due_of(person, now) if person else None,
                c.org or "",
                c.archived_at is not None,
                standing(person, now) if person else None,
            )
        )
    return out


def identities(session: Session, contact_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """Each contact's e-mail addresses and phone numbers, by kind, in the order they were found."""
    out: dict[int, dict[str, list[str]]] = {}
    wanted = list(contact_ids)
    for chunk in chunks(wanted):
        for ident in session.exec(
            select(Identity).where(col(Identity.contact_id).in_(chunk)).order_by(col(Identity.id))
        ):
            out.setdefault(ident.contact_id, {}).setdefault(ident.kind, []).append(ident.value)
    return out


def due_text(due: float | None, standing: str | None) -> str:
    """'due 1.23 (overdue)', 'due 0.40', 'new, due 1.10': the planner's due and standing, in words."""
    if due is None:
        return "no cadence"
    if standing == "new":
        return f"new, due {due:.2f}"
    return f"due {due:.2f}" + (" (overdue)" if standing == "overdue" else "")


FACTS = ("connected", "matched")  # moment kinds that are facts for the timeline, never the digest's


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a person's timeline: a touch, a note, a moment or a referral."""

    at: datetime
    id: str  # what `nudge rm` takes (t12, n3, r5); "" for moments, which come from the sources
    what: str

    def as_json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "id": self.id, "what": self.what}


@dataclass(frozen=True)
class Detail:
    """Everything about one contact, newest first (`nudge show`)."""

    id: int
    name: str
    org: str | None
    title: str | None
    birthday: str | None
    tier: str | None
    tier_source: str | None
    tier_since: datetime | None
    tier_also: list[str]  # tiers an address book names too, not followed
    due: float | None  # the planner's, rounded; None outside a tier with a cadence
    standing: str | None
    snoozed_until: date | None
    archived_at: datetime | None
    warmth: float
    warmth_label: str
    last_touch_at: datetime | None
    emails: list[str]
    phones: list[str]
    touches: list[Touch]
    planned: list[Planned]
    moments: list[Moment]
    referrals: list[Referral]
    notes: list[Note]
    timeline: list[TimelineEntry]
    profiles: list[str] = field(default_factory=list)  # LinkedIn profile URLs

    def as_json(self) -> dict[str, Any]:
        """`show --json`: plain JSON values."""

        def iso(value: date | datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "name": self.name,
            "org": self.org,
            "title": self.title,
            "birthday": self.birthday,
            "tier": self.tier,
            "tier_source": self.tier_source,
            "tier_since": iso(self.tier_since),
            "tier_also": self.tier_also,
            "due": self.due,
            "standing": self.standing,
            "snoozed_until": iso(self.snoozed_until),
            "archived_at": iso(self.archived_at),
            "warmth": self.warmth,
            "warmth_label": self.warmth_label,
            "last_touch_at": iso(self.last_touch_at),
            "emails": self.emails,
            "phones": self.phones,
            "profiles": self.profiles,
            "touches": [
                {
                    "id": journal.entry_id(t),
                    "at": t.at.isoformat(),
                    "kind": t.kind,
                    "direction": t.direction,
                    "weight": round(t.weight, 3),
                    "source": t.source,
                    "summary": t.summary,
                    "note": t.note,
                    "outcome": t.outcome,
                    "origin": t.origin,
                }
                for t in self.touches
            ],
            "planned": [{"at": p.at.isoformat(), "summary": p.summary} for p in self.planned],
            "moments": [{"at": m.at.isoformat(), "kind": m.kind, "detail": m.detail} for m in self.moments],
            "referrals": [
                {
                    "id": journal.entry_id(r),
                    "at": r.at.isoformat(),
                    "direction": r.direction,
                    "note": r.note,
                    "counterpart": r.counterpart,
                }
                for r in self.referrals
            ],
            "notes": [
                {"id": journal.entry_id(n), "at": n.at.isoformat(), "text": n.text} for n in self.notes
            ],
            "timeline": [e.as_json() for e in self.timeline],
        }


def detail(session: Session, settings: Settings, contact: Contact, now: datetime) -> Detail:
    """Everything about one contact, newest first."""
    cid = contact.id
    assert cid is not None
    half = settings.touches.half_life_days
    warmth = (
        score(roll_forward(contact.warmth_sum, contact.warmth_at, now, half)) if contact.warmth_at else 0.0
    )
    ids = session.exec(select(Identity).where(Identity.contact_id == cid).order_by(col(Identity.id))).all()
    touches = list(
        session.exec(select(Touch).where(Touch.contact_id == cid).order_by(col(Touch.at).desc()).limit(50))
    )
    planned = list(
        session.exec(
            select(Planned).where(Planned.contact_id == cid, col(Planned.at) > now).order_by(col(Planned.at))
        )
    )
    moments = list(
        session.exec(select(Moment).where(Moment.contact_id == cid).order_by(col(Moment.at).desc()))
    )
    refs = list(
        session.exec(select(Referral).where(Referral.contact_id == cid).order_by(col(Referral.at).desc()))
    )
    notes = list(session.exec(select(Note).where(Note.contact_id == cid).order_by(col(Note.at).desc())))
    named = named_tiers(session, [cid])[cid]
    person = planned_people(session, settings, now).get(cid)
    return Detail(
        id=cid,
        name=contact.name,
        org=contact.org,
        title=contact.title,
        birthday=contact.birthday,
        tier=contact.tier,
        tier_source=contact.tier_source,
        tier_since=contact.tier_since,
        tier_also=sorted(t for t in named if t != contact.tier),
        due=round(due_of(person, now), 2) if person else None,
        standing=standing(person, now) if person else None,
        snoozed_until=contact.snoozed_until,
        archived_at=contact.archived_at,
        warmth=round(warmth, 1),
        warmth_label=label(warmth),
        last_touch_at=contact.last_touch_at,
        emails=[i.value for i in ids if i.kind == "email"],
        phones=[i.value for i in ids if i.kind == "phone"],
        touches=touches,
        planned=planned,
        moments=moments,
        referrals=refs,
        notes=notes,
        timeline=timeline(touches, notes, moments, refs),
        profiles=[i.value for i in ids if i.kind == "linkedin"],
    )


def tier_origin(source: str | None) -> str:
    if source == "cli":
        return "set by you"
    if source and source.startswith("source:"):
        return f"from the address book {source[7:]!r}"
    return "origin unknown"


def tier_line(info: Detail, tz: tzinfo) -> str:
    """'partner (from the address book 'files'; since before nudge's first sync; also in top100 ...)'."""
    parts = [tier_origin(info.tier_source)]
    if info.tier_since:
        parts.append(f"since {info.tier_since.astimezone(tz):%d %b %Y}")
    elif str(info.tier_source or "").startswith("source:"):
        parts.append("since before nudge's first sync")
    also = ", ".join(info.tier_also)
    if also:
        parts.append(f"also in {also} by the address book: followed as {info.tier}, one list a day")
    return f"{info.tier} ({'; '.join(parts)})"


def timeline(
    touches: Sequence[Touch], notes: Sequence[Note], moments: Sequence[Moment], refs: Sequence[Referral]
) -> list[TimelineEntry]:
    """Everything that happened with a person, newest first, one line each, with the ids
    `nudge rm` takes (moments have none: they come from the sources)."""
    events: list[tuple[datetime, str, str]] = []
    for t in touches:
        what = f"{t.kind} ({t.direction})"
        text = t.note or t.summary
        if text and text != t.kind:
            what += f": {text}"
        if t.outcome:
            what += f" → {t.outcome}"
        if t.origin:
            what += f" — calendar event since removed (was in {t.origin})"
        events.append((t.at, journal.entry_id(t), what))
    events += [(n.at, journal.entry_id(n), f"note: {n.text}") for n in notes]
    for m in moments:  # facts from exports read as sentences: "connected on LinkedIn", "matched by name ..."
        what = f"{m.kind} {m.detail}" if m.kind in FACTS else f"{m.kind.replace('_', ' ')}: {m.detail}"
        events.append((m.at, "", what))
    for r in refs:
        who = f" ({r.counterpart})" if r.counterpart else ""
        events.append((r.at, journal.entry_id(r), f"referral {r.direction}: {r.note}{who}"))
    events.sort(key=lambda e: e[0], reverse=True)
    return [TimelineEntry(at, eid, what) for at, eid, what in events]


# --- entered by hand ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: str
    at: datetime
    contact_id: int
    name: str
    what: str


def hand_made(session: Session, contact_id: int | None = None, limit: int = 20) -> list[Entry]:
    """The entries the user made by hand, newest first, with the ids `rm` takes."""
    rows: list[Touch | Note | Referral] = []
    touches = select(Touch).where(Touch.source == "cli").order_by(col(Touch.at).desc()).limit(limit)
    notes = select(Note).order_by(col(Note.at).desc()).limit(limit)
    refs = select(Referral).order_by(col(Referral.at).desc()).limit(limit)
    if contact_id is not None:
        touches = touches.where(Touch.contact_id == contact_id)
        notes = notes.where(Note.contact_id == contact_id)
        refs = refs.where(Referral.contact_id == contact_id)
    rows += session.exec(touches).all()
    rows += session.exec(notes).all()
    rows += session.exec(refs).all()
    rows.sort(key=lambda r: (r.at, r.id or 0), reverse=True)
    rows = rows[:limit]
    names = dict(
        session.execute(
            sa.select(col(Contact.id), col(Contact.name)).where(
                col(Contact.id).in_({r.contact_id for r in rows})
            )
        ).all()
    )
    out = []
    for r in rows:
        contact = Contact(id=r.contact_id, name=names.get(r.contact_id, f"#{r.contact_id}"))
        out.append(Entry(journal.entry_id(r), r.at, r.contact_id, contact.name, journal.describe(r, contact)))
    return out
