"""Follow-ups: promises with a date, made, closed and journaled for `undo` in the caller's transaction.

`actions.py` uses these for the CLI and replies (and a logged touch closes what
was promised before it); they are apart only to keep that module short.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, select

from nudge.config import Settings
from nudge.core.when import due_date
from nudge.store import journal
from nudge.store.models import Contact, FollowUp

FOLLOW_UP_ID = re.compile(r"#?f(\d{1,18})")


def follow_up_id(row: FollowUp) -> str:
    """'f3': how `follow-ups` names a follow-up, and what `follow-up --done` takes."""
    return f"f{row.id}"


def add_follow_up(
    session: Session,
    settings: Settings,
    contact: Contact,
    when: str,
    text: str,
    now: datetime,
    via: str = "cli",
) -> FollowUp:
    """A promise with a date (`fri`, `2w`, `12 dec`), journaled for `undo`."""
    assert contact.id is not None
    due = due_date(when, now.astimezone(settings.tz).date())
    row = FollowUp(contact_id=contact.id, due=due, text=text.strip(), created_at=now)
    session.add(row)
    session.flush()
    what = f": {row.text}" if row.text else ""
    journal.record(
        session,
        "follow_up",
        contact,
        now,
        f"a follow-up with {contact.name} on {due:%a %d %b %Y}{what}",
        target=follow_up_id(row),
        via=via,
    )
    return row


def close_follow_ups(
    session: Session,
    contact: Contact,
    now: datetime,
    how: str,
    via: str = "cli",
    made_before: datetime | None = None,
    only: FollowUp | None = None,
) -> list[FollowUp]:
    """Mark open follow-ups with `contact` done (`how`: cli | reply | touch), journaled for `undo`.

    `made_before`: only those made before that moment (a touch closes what was promised before it).
    `only`: just that one.
    """
    query = select(FollowUp).where(FollowUp.contact_id == contact.id, col(FollowUp.done_at).is_(None))
    if made_before is not None:
        query = query.where(col(FollowUp.created_at) < made_before)
    if only is not None:
        query = query.where(FollowUp.id == only.id)
    closed = list(session.exec(query.order_by(col(FollowUp.due), col(FollowUp.id))))
    for row in closed:
        row.done_at, row.how = now, how
        session.add(row)
        what = f": {row.text}" if row.text else ""
        journal.record(
            session,
            "follow_up_done",
            contact,
            now,
            f"follow-up {follow_up_id(row)} with {contact.name} done ({how}){what}",
            target=follow_up_id(row),
            before={"done_at": None, "how": ""},
            via=via,
        )
    return closed
