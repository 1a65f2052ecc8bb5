"""Open follow-ups for `nudge follow-ups`: who, when, what, and how late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from nudge.digest.render import lateness
from nudge.store.models import Contact, FollowUp


@dataclass(frozen=True)
class OpenFollowUp:
    id: str  # f3: what `follow-up --done` takes
    contact_id: int
    name: str
    due: date
    text: str
    created_at: datetime
    late_days: int  # negative: still ahead
    when: str  # "due today", "3 days late", "due Fri 27 Nov"
    archived: bool = False  # gone from the address book: kept, but on no list until they are back


def open_follow_ups(session: Session, today: date, contact_id: int | None = None) -> list[OpenFollowUp]:
    """Every open follow-up (or one person's), the most overdue first."""
    query = (
        select(FollowUp, Contact)
        .join(Contact, col(Contact.id) == col(FollowUp.contact_id))
        .where(col(FollowUp.done_at).is_(None))
    )
    if contact_id is not None:
        query = query.where(col(FollowUp.contact_id) == contact_id)
    rows = session.exec(query.order_by(col(FollowUp.due), col(FollowUp.id))).all()
    return [
        OpenFollowUp(
            id=f"f{f.id}",
            contact_id=c.id or 0,
            name=c.name,
            due=f.due,
            text=f.text,
            created_at=f.created_at,
            late_days=(today - f.due).days,
            when=lateness(f.due, today),
            archived=c.archived_at is not None,
        )
        for f, c in rows
    ]
