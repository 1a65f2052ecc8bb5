"""Every change the user makes by hand, from the CLI or a reply to the digest: one place.

Log a touch, note, snooze (and skip), tier, cadence, outcome, referral, follow-up; `undo` and
`rm` are in `nudge.undo`.
Each is journaled (`store.journal`) in the caller's transaction, so `undo` can
take it back. Names are matched forgivingly (case, accents, prefixes, email,
`#id`); an ambiguous name lists the candidates and changes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo

from sqlmodel import Session, col, select

from nudge.config import Settings
from nudge.core.cadence import days_words, parse_cadence
from nudge.core.identity import fold
from nudge.core.records import DIRECTIONS, OUTCOMES, TOUCH_KINDS
from nudge.core.when import snooze_end
from nudge.errors import UserError
from nudge.follow import FOLLOW_UP_ID, close_follow_ups
from nudge.store import journal
from nudge.store.derived import refresh_contacts
from nudge.store.models import Contact, FollowUp, Identity, Note, Referral, Touch, User

KINDS = TOUCH_KINDS
WAKE_WORDS = ("off", "none", "wake")
SKIP_DAYS = 7  # `skip N`: not this week


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
    close_follow_ups(session, contact, now, "touch", via, made_before=when)
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


def set_cadence(
    session: Session, settings: Settings, contact: Contact, text: str, now: datetime, via: str = "cli"
) -> int | None:
    """`14d`, `2w`, `3m` (or `default`): how often to be in touch with this person, whatever their
    tier's cadence; journaled for `undo`. The days now in force for them (None: their tier's)."""
    try:
        days = parse_cadence(text)
    except ValueError as e:
        raise UserError(str(e)) from None
    old = contact.cadence_days
    before = {"cadence_days": old, "cadence_source": contact.cadence_source}
    # "cli" for `default` too: then no address book's X-NUDGE-CADENCE overrides the user's choice
    contact.cadence_days, contact.cadence_source = days, "cli"
    session.add(contact)
    was = days_words(old) if old else "the tier's default"
    now_ = days_words(days) if days else "the tier's default"
    summary = f"{contact.name}: cadence {now_} (was {was})"
    journal.record(session, "cadence", contact, now, summary, before=before, via=via)
    return days


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


def snooze_for(
    session: Session, contact: Contact, text: str, now: datetime, tz: tzinfo, via: str = "cli"
) -> date | None:
    """`2w`, `10d`, `until next friday`, a date (or `off`): snooze, or wake; the day it ends (None: awake)."""
    if text.strip().lower() in WAKE_WORDS:
        snooze(session, contact, None, now, via)
        return None
    until = parse_duration(text, now.astimezone(tz).date())
    snooze(session, contact, until, now, via)
    return until


def skip(session: Session, contact: Contact, day: date, now: datetime, tz: tzinfo, via: str = "cli") -> date:
    """Not this week: snoozed for SKIP_DAYS after `day` (never shortening a longer snooze)."""
    until = max(now.astimezone(tz).date(), day) + timedelta(days=SKIP_DAYS)
    if contact.snoozed_until is None or contact.snoozed_until < until:
        snooze(session, contact, until, now, via)
    return until


# --- follow-ups (the rows and their journal: follow.py) ------------------------------------


def finish_follow_up(
    session: Session, query: str, now: datetime, via: str = "cli"
) -> tuple[Contact, list[FollowUp]]:
    """`follow-up --done`: `f3` closes that follow-up, a name every open one with that person."""
    by_id = FOLLOW_UP_ID.fullmatch(query.strip().lower())
    only = None
    if by_id:
        only = session.get(FollowUp, int(by_id.group(1)))
        if only is None:
            raise UserError(f"there is no follow-up {query.strip()}; `nudge follow-ups` lists them")
        if only.done_at is not None:
            raise UserError(f"follow-up {query.strip()} is already done")
        contact = session.get(Contact, only.contact_id)
        assert contact is not None
    else:
        contact = find(session, query)
    closed = close_follow_ups(session, contact, now, via, via, only=only)
    if not closed:
        raise UserError(f"{contact.name} has no open follow-up; `nudge follow-ups` lists them")
    return contact, closed


# --- the team's stats --------------------------------------------------------------------


def share_stats(session: Session, user_id: int, on: bool) -> None:
    """A rep's choice to show their figures (counts and ratios, never a contact) in `team stats`."""
    user = session.get(User, user_id)
    if user is None:
        raise UserError("no such user in this store; `nudge team list` names them")
    user.stats_opt_in = on
    session.add(user)
