"""What the user changed by hand, so that it can be taken back: `nudge undo` and `nudge rm ID`.

people.py's edit functions call `record` in the transaction of the change
itself, so the journal never disagrees with the store. One command (or one
reply to the digest) is one batch, and `undo` takes back a whole batch: the
hundred tiers of `top100 accept` go as they came. Entries made by hand
(touches logged, notes, referrals) are named by a letter and their row id
(`t12`, `n3`, `r5`); only those can be removed, never what a source brought.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from nudge.errors import UserError
from nudge.store.derived import mark_acted, refresh_contacts
from nudge.store.models import Contact, Note, Referral, Suggestion, Touch, UserAction

ENTRY_TABLES: dict[str, type[SQLModel]] = {"t": Touch, "n": Note, "r": Referral}
_PREFIX = {model.__name__: letter for letter, model in ENTRY_TABLES.items()}
_ENTRY_ID = re.compile(r"#?([tnr])(\d+)")


def entry_id(row: Touch | Note | Referral) -> str:
    """'t12' for touch 12: the id `nudge rm` takes."""
    return f"{_PREFIX[type(row).__name__]}{row.id}"


def record(
    session: Session,
    kind: str,
    contact: Contact,
    now: datetime,
    summary: str,
    *,
    target: str = "",
    before: dict[str, Any] | None = None,
    via: str = "cli",
) -> UserAction:
    """Journal one change, in the caller's transaction; the session's changes form one batch."""
    assert contact.id is not None
    batch = session.info.setdefault("nudge_batch", secrets.token_hex(8))
    action = UserAction(
        at=now,
        batch=batch,
        via=via,
        kind=kind,
        contact_id=contact.id,
        target=target,
        before=json.dumps(before) if before is not None else None,
        summary=summary,
    )
    session.add(action)
    return action


# --- undo ---------------------------------------------------------------------------------


def undo_last(session: Session, half_life_days: float, now: datetime) -> list[UserAction]:
    """Take back the latest batch not yet undone; the actions it reversed, newest first."""
    latest = session.exec(
        select(UserAction).where(col(UserAction.undone_at).is_(None)).order_by(col(UserAction.id).desc())
    ).first()
    if latest is None:
        raise UserError("nothing to undo: no change made by hand is left in the journal")
    actions = session.exec(
        select(UserAction)
        .where(UserAction.batch == latest.batch, col(UserAction.undone_at).is_(None))
        .order_by(col(UserAction.id).desc())
    ).all()
    touched: set[int] = set()
    for action in actions:
        _reverse(session, action)
        action.undone_at = now
        session.add(action)
        touched.add(action.contact_id)
    session.flush()
    _recompute(session, sorted(touched), half_life_days, now)
    return list(actions)


def _reverse(session: Session, action: UserAction) -> None:
    before: dict[str, Any] = json.loads(action.before) if action.before else {}
    if action.kind in ("touch", "note", "referral"):
        row = _entry(session, action.target)
        if row is not None:
            session.delete(row)
    elif action.kind == "outcome":
        touch = _entry(session, action.target)
        if isinstance(touch, Touch):
            touch.outcome = before.get("outcome")
            session.add(touch)
    elif action.kind == "rm":
        model = ENTRY_TABLES[action.target[0]]
        if session.get(model, int(action.target[1:])) is None:
            session.add(model.model_validate(before["row"]))
    else:
        contact = session.get(Contact, action.contact_id)
        assert contact is not None
        if action.kind == "snooze":
            until = before.get("snoozed_until")
            contact.snoozed_until = date.fromisoformat(until) if until else None
        elif action.kind == "tier":
            since = before.get("tier_since")
            contact.tier, contact.tier_source = before.get("tier"), before.get("tier_source")
            contact.tier_since = datetime.fromisoformat(since) if since else None
        else:
            raise ValueError(f"unknown action kind {action.kind!r}")
        session.add(contact)


def _entry(session: Session, target: str) -> Touch | Note | Referral | None:
    m = _ENTRY_ID.fullmatch(target.strip().lower())
    if m is None:
        return None
    row = session.get(ENTRY_TABLES[m.group(1)], int(m.group(2)))
    assert row is None or isinstance(row, Touch | Note | Referral)
    return row


def _recompute(session: Session, contact_ids: list[int], half_life_days: float, now: datetime) -> None:
    """Last touch, warmth and which suggestions were acted on, from the touches that are left."""
    if not contact_ids:
        return
    refresh_contacts(session, contact_ids, now, half_life_days)
    session.execute(
        sa.update(Suggestion).where(col(Suggestion.contact_id).in_(contact_ids)).values(acted_at=None)
    )
    mark_acted(session)


# --- rm ------------------------------------------------------------------------------------


def remove(session: Session, target: str, half_life_days: float, now: datetime, via: str = "cli") -> str:
    """Delete the one entry `target` names (t12, n3, r5), journaled so `undo` brings it back."""
    m = _ENTRY_ID.fullmatch(target.strip().lower())
    if m is None:
        raise UserError(
            f"{target!r} is not an entry id: use the id `nudge log --list` or `nudge show NAME` gives "
            "(t12 for a touch, n3 for a note, r5 for a referral)"
        )
    name = m.group(1) + m.group(2)
    row = _entry(session, name)
    if row is None:
        raise UserError(f"there is no entry {name}; `nudge log --list` shows the ids")
    contact = session.get(Contact, row.contact_id)
    assert contact is not None
    what = describe(row, contact)
    if isinstance(row, Touch) and row.source != "cli":
        raise UserError(
            f"{name} ({what}) came from the source {row.source!r}: nudge only removes what you "
            "entered by hand; change or delete it at the source and the next sync follows"
        )
    data = row.model_dump(mode="json")
    record(
        session,
        "rm",
        contact,
        now,
        f"removed {name}: {what}",
        target=name,
        before={"row": data},
        via=via,
    )
    session.delete(row)
    session.flush()
    _recompute(session, [contact.id] if contact.id is not None else [], half_life_days, now)
    return f"{name}: {what}"


# --- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: str
    at: datetime
    contact_id: int
    name: str
    what: str


def describe(row: Touch | Note | Referral, contact: Contact) -> str:
    if isinstance(row, Touch):
        text = f"{row.kind} ({row.direction}) with {contact.name}"
        if row.note:
            text += f": {row.note}"
        return text + (f" → {row.outcome}" if row.outcome else "")
    if isinstance(row, Note):
        return f"note about {contact.name}: {row.text}"
    to = "to" if row.direction == "given" else "from"
    who = f" ({row.counterpart})" if row.counterpart else ""
    return f"referral {row.direction} {to} {contact.name}: {row.note}{who}"


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
        out.append(Entry(entry_id(r), r.at, r.contact_id, contact.name, describe(r, contact)))
    return out
