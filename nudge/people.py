"""Finding people by name and changing them on the user's word (log, snooze, tier, referral,
note, outcome), and what the CLI shows of one person.

Names are matched forgivingly (case, accents, prefixes, email, `#id`); an
ambiguous name lists the candidates and changes nothing. Every change made
here is journaled (journal.py) in its own transaction, for `nudge undo`: these
functions are the one place hand-made changes are written, so one module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import Session, col, select

from nudge import journal
from nudge.config import Settings
from nudge.core.identity import fold
from nudge.core.planner import Person, due_of, standing
from nudge.core.warmth import label, roll_forward, score
from nudge.core.when import snooze_end
from nudge.errors import UserError
from nudge.ingest.tiers import named_tiers
from nudge.service import load_people
from nudge.store.derived import refresh_contacts
from nudge.store.models import Contact, Identity, Moment, Note, Planned, Referral, Touch
from nudge.store.query import chunks

KINDS = ("call", "message", "meeting", "email")
DIRECTIONS = ("out", "in", "both")
OUTCOMES = ("conversation", "meeting", "referral", "opportunity")


_CONTACT_ID = re.compile(r"#?(\d{1,18})")


def find(session: Session, query: str, include_archived: bool = False) -> Contact:
    """The one contact `query` names (a name, an email address, or its id: `#13` or `13`),
    or a UserError listing the candidates."""
    q = fold(query)
    if not q:
        raise UserError("give a name")
    by_id = _CONTACT_ID.fullmatch(q)
    if by_id:
        found = session.get(Contact, int(by_id.group(1)))
        if found is None or (found.archived_at is not None and not include_archived):
            state = "archived" if found is not None else "no"
            raise UserError(f"{query!r}: there is {state} contact #{by_id.group(1)}")
        return found
    stmt = select(Contact)
    if not include_archived:
        stmt = stmt.where(col(Contact.archived_at).is_(None))
    contacts = list(session.exec(stmt))
    if "@" in q:
        owner = session.exec(
            select(Identity.contact_id).where(Identity.kind == "email", Identity.value == q)
        ).first()
        matches = [c for c in contacts if c.id == owner]
    else:
        exact = [c for c in contacts if fold(c.name) == q]
        words = q.split()
        matches = exact or [c for c in contacts if _prefix_match(fold(c.name).split(), words)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no contact matches {query!r}; try part of the name or an email address")
    names = ", ".join(sorted(f"{c.name} (#{c.id})" for c in matches)[:12])
    more = f" and {len(matches) - 12} more" if len(matches) > 12 else ""
    raise UserError(f"{query!r} matches {len(matches)} contacts: {names}{more}. Be more specific.")


def _prefix_match(name_words: list[str], query_words: list[str]) -> bool:
    """Every query word starts some name word, in order ('ana r' matches 'Ana Ruiz')."""
    i = 0
    for word in name_words:
        if i < len(query_words) and word.startswith(query_words[i]):
            i += 1
    return i == len(query_words)


_KIND_PREFIX = re.compile(r"^\s*(call|message|meeting|email|msg|text)\s*:\s*", re.IGNORECASE)


def split_note(text: str, default_kind: str = "call") -> tuple[str, str]:
    """'call: new job at Acme' -> ('call', 'new job at Acme')."""
    m = _KIND_PREFIX.match(text)
    if not m:
        return default_kind, text.strip()
    kind = m.group(1).lower()
    kind = {"msg": "message", "text": "message"}.get(kind, kind)
    return kind, text[m.end() :].strip()


def log_touch(
    session: Session,
    settings: Settings,
    contact: Contact,
    now: datetime,
    kind: str,
    note: str = "",
    at: datetime | None = None,
    direction: str = "out",
    outcome: str | None = None,
    via: str = "cli",
) -> Touch:
    """A touch the user reports (the CLI, or a reply to the digest: `via`), journaled for `undo`."""
    if kind not in KINDS:
        raise UserError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if outcome is not None and outcome not in OUTCOMES:
        raise UserError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if direction not in DIRECTIONS:
        raise UserError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    when = at or now
    if when > now + timedelta(minutes=5):
        raise UserError("--at is in the future; log a touch once it has happened")
    assert contact.id is not None
    weight = getattr(settings.touches.weights, kind)
    touch = Touch(
        contact_id=contact.id,
        at=when,
        kind=kind,
        direction=direction,
        weight=weight,
        source="cli",
        note=note or None,
        outcome=outcome,
        created_at=now,
        summary=kind,
    )
    session.add(touch)
    session.flush()
    refresh_contacts(session, [contact.id], now, settings.touches.half_life_days)
    local = when.astimezone(settings.tz)
    journal.record(
        session,
        "touch",
        contact,
        now,
        f"logged a {kind} with {contact.name} on {local:%a %d %b %Y}" + (f": {note}" if note else ""),
        target=journal.entry_id(touch),
        via=via,
    )
    return touch


def parse_duration(text: str, today: date) -> date:
    """'2w', '10d', '3m', '1y', a date, 'until next friday', '3 weeks' -> the day the snooze ends."""
    return snooze_end(text, today)


def snooze(session: Session, contact: Contact, until: date | None, now: datetime, via: str = "cli") -> None:
    """Keep someone out of the digest until `until` (None: wake them), journaled for `undo`."""
    before = contact.snoozed_until
    contact.snoozed_until = until
    session.add(contact)
    was = f"until {before:%d %b %Y}" if before else "not snoozed"
    now_ = f"snoozed {contact.name} until {until:%a %d %b %Y}" if until else f"woke {contact.name}"
    journal.record(
        session,
        "snooze",
        contact,
        now,
        f"{now_} (was {was})",
        before={"snoozed_until": before.isoformat() if before else None},
        via=via,
    )


def set_tier(
    session: Session, settings: Settings, contact: Contact, tier: str, now: datetime, via: str = "cli"
) -> None:
    before = {
        "tier": contact.tier,
        "tier_source": contact.tier_source,
        "tier_since": contact.tier_since.isoformat() if contact.tier_since else None,
    }
    if tier.lower() in ("none", "-", ""):
        contact.tier, contact.tier_since = None, None
    elif tier not in settings.tiers:
        raise UserError(f"unknown tier {tier!r}; configured: {', '.join(settings.tiers)} (or none)")
    elif contact.tier != tier:
        contact.tier, contact.tier_since = tier, now
    contact.tier_source = "cli"
    session.add(contact)
    summary = f"{contact.name}: tier {contact.tier or 'none'} (was {before['tier'] or 'none'})"
    journal.record(session, "tier", contact, now, summary, before=before, via=via)


def add_referral(
    session: Session,
    contact: Contact,
    direction: str,
    note: str,
    counterpart: str,
    at: datetime,
    now: datetime | None = None,
    via: str = "cli",
) -> Referral:
    assert contact.id is not None
    ref = Referral(contact_id=contact.id, direction=direction, at=at, note=note, counterpart=counterpart)
    session.add(ref)
    session.flush()
    to = "to" if direction == "given" else "from"
    journal.record(
        session,
        "referral",
        contact,
        now or at,
        f"a referral {direction} {to} {contact.name}" + (f": {note}" if note else ""),
        target=journal.entry_id(ref),
        via=via,
    )
    return ref


def add_note(session: Session, contact: Contact, text: str, now: datetime, via: str = "cli") -> Note:
    """A note without a touch, journaled for `undo`."""
    assert contact.id is not None
    if not text.strip():
        raise UserError("the note is empty")
    note = Note(contact_id=contact.id, at=now, text=text.strip())
    session.add(note)
    session.flush()
    summary = f"a note about {contact.name}: {note.text}"
    journal.record(session, "note", contact, now, summary, target=journal.entry_id(note), via=via)
    return note


def set_outcome(
    session: Session, settings: Settings, contact: Contact, outcome: str, now: datetime, via: str = "cli"
) -> Touch:
    """What came of the latest touch with someone (a calendar meeting too), journaled for `undo`."""
    if outcome not in OUTCOMES:
        raise UserError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    touch = session.exec(
        select(Touch)
        .where(Touch.contact_id == contact.id, col(Touch.at) <= now)
        .order_by(col(Touch.at).desc())
    ).first()
    if touch is None:
        raise UserError(f"no touch with {contact.name} yet: log one with `nudge log` and --outcome {outcome}")
    before = touch.outcome
    touch.outcome = outcome
    session.add(touch)
    journal.record(
        session,
        "outcome",
        contact,
        now,
        f"the {touch.kind} with {contact.name} on {touch.at.astimezone(settings.tz):%d %b %Y} "
        f"led to {outcome} (was {before or 'no outcome'})",
        target=journal.entry_id(touch),
        before={"outcome": before},
        via=via,
    )
    return touch


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
    for c in session.exec(stmt.order_by(col(Contact.name))):
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


def detail(session: Session, settings: Settings, contact: Contact, now: datetime) -> dict[str, object]:
    """Everything about one contact, newest first, as plain JSON-able values."""
    cid = contact.id
    half = settings.touches.half_life_days
    warmth = (
        score(roll_forward(contact.warmth_sum, contact.warmth_at, now, half)) if contact.warmth_at else 0.0
    )
    ids = session.exec(select(Identity).where(Identity.contact_id == cid).order_by(col(Identity.id))).all()
    touches = session.exec(
        select(Touch).where(Touch.contact_id == cid).order_by(col(Touch.at).desc()).limit(50)
    ).all()
    planned = session.exec(
        select(Planned).where(Planned.contact_id == cid, col(Planned.at) > now).order_by(col(Planned.at))
    ).all()
    moments = session.exec(
        select(Moment).where(Moment.contact_id == cid).order_by(col(Moment.at).desc())
    ).all()
    refs = session.exec(
        select(Referral).where(Referral.contact_id == cid).order_by(col(Referral.at).desc())
    ).all()
    notes = session.exec(select(Note).where(Note.contact_id == cid).order_by(col(Note.at).desc())).all()
    assert cid is not None
    named = named_tiers(session, [cid])[cid]
    person = planned_people(session, settings, now).get(cid)
    return {
        "id": cid,
        "name": contact.name,
        "org": contact.org,
        "title": contact.title,
        "birthday": contact.birthday,
        "tier": contact.tier,
        "tier_source": contact.tier_source,
        "tier_since": contact.tier_since.isoformat() if contact.tier_since else None,
        "tier_also": sorted(t for t in named if t != contact.tier),  # named by an address book too
        "due": round(due_of(person, now), 2) if person else None,
        "standing": standing(person, now) if person else None,
        "snoozed_until": contact.snoozed_until.isoformat() if contact.snoozed_until else None,
        "archived_at": contact.archived_at.isoformat() if contact.archived_at else None,
        "warmth": round(warmth, 1),
        "warmth_label": label(warmth),
        "last_touch_at": contact.last_touch_at.isoformat() if contact.last_touch_at else None,
        "emails": [i.value for i in ids if i.kind == "email"],
        "phones": [i.value for i in ids if i.kind == "phone"],
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
            for t in touches
        ],
        "planned": [{"at": p.at.isoformat(), "summary": p.summary} for p in planned],
        "moments": [{"at": m.at.isoformat(), "kind": m.kind, "detail": m.detail} for m in moments],
        "referrals": [
            {
                "id": journal.entry_id(r),
                "at": r.at.isoformat(),
                "direction": r.direction,
                "note": r.note,
                "counterpart": r.counterpart,
            }
            for r in refs
        ],
        "notes": [{"id": journal.entry_id(n), "at": n.at.isoformat(), "text": n.text} for n in notes],
        "timeline": timeline(touches, notes, moments, refs),
    }


def tier_origin(source: str | None) -> str:
    if source == "cli":
        return "set by you"
    if source and source.startswith("source:"):
        return f"from the address book {source[7:]!r}"
    return "origin unknown"


def tier_line(info: Mapping[str, Any], tz: tzinfo) -> str:
    """'partner (from the address book 'files'; since before nudge's first sync; also in top100 ...)'."""
    parts = [tier_origin(info["tier_source"])]
    since = info["tier_since"]
    if since:
        parts.append(f"since {datetime.fromisoformat(since).astimezone(tz):%d %b %Y}")
    elif str(info["tier_source"] or "").startswith("source:"):
        parts.append("since before nudge's first sync")
    also = ", ".join(info["tier_also"])
    if also:
        parts.append(f"also in {also} by the address book: followed as {info['tier']}, one list a day")
    return f"{info['tier']} ({'; '.join(parts)})"


def timeline(
    touches: Sequence[Touch], notes: Sequence[Note], moments: Sequence[Moment], refs: Sequence[Referral]
) -> list[dict[str, str]]:
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
    events += [(m.at, "", f"{m.kind.replace('_', ' ')}: {m.detail}") for m in moments]
    for r in refs:
        who = f" ({r.counterpart})" if r.counterpart else ""
        events.append((r.at, journal.entry_id(r), f"referral {r.direction}: {r.note}{who}"))
    events.sort(key=lambda e: e[0], reverse=True)
    return [{"at": at.isoformat(), "id": eid, "what": what} for at, eid, what in events]
