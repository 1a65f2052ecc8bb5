"""The journal of what the user changed by hand, so that `undo` and `rm` can take it back.

`record` is called in the transaction of the change itself (by `nudge.actions`), so the
journal never disagrees with the store. One command (or one reply to the digest) is one
batch. Entries made by hand (touches logged, notes, referrals) are named by a letter and
their row id (`t12`, `n3`, `r5`); only those can be removed, never what a source brought.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel

from nudge.store.models import Contact, Note, Referral, Touch, UserAction

ENTRY_TABLES: dict[str, type[SQLModel]] = {"t": Touch, "n": Note, "r": Referral}
_PREFIX = {model.__name__: letter for letter, model in ENTRY_TABLES.items()}
ENTRY_ID = re.compile(r"#?([tnr])(\d+)")


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


def entry(session: Session, target: str) -> Touch | Note | Referral | None:
    """The hand-made entry `t12` / `n3` / `r5` names, if it exists."""
    m = ENTRY_ID.fullmatch(target.strip().lower())
    if m is None:
        return None
    row = session.get(ENTRY_TABLES[m.group(1)], int(m.group(2)))
    assert row is None or isinstance(row, Touch | Note | Referral)
    return row


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
