"""`nudge undo` and `nudge rm`: take back what the journal (`store.journal`) says was done by hand.

Every change in `actions`, `follow` and `merge` is journaled with what it replaced; this
module reverses it and settles last touch, warmth and acted-on suggestions again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge import merge as merging
from nudge.config import Settings
from nudge.errors import UserError
from nudge.store import journal
from nudge.store.derived import mark_acted, refresh_contacts
from nudge.store.models import Contact, FollowUp, Suggestion, Touch, UserAction


def undo_last(
    session: Session, half_life_days: float, now: datetime, settings: Settings | None = None
) -> list[UserAction]:
    """Take back the latest batch not yet undone; the actions it reversed, newest first.

    A merge, split or add needs `settings` to be taken back.
    """
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
        if action.kind in ("merge", "split", "add"):
            if settings is None:
                raise ValueError("undoing a merge, split or add needs the settings")
            merging.reverse(session, settings, action, now)
        else:
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
        row = journal.entry(session, action.target)
        if row is not None:
            session.delete(row)
    elif action.kind == "outcome":
        touch = journal.entry(session, action.target)
        if isinstance(touch, Touch):
            touch.outcome = before.get("outcome")
            session.add(touch)
    elif action.kind in ("follow_up", "follow_up_done"):
        follow = session.get(FollowUp, int(action.target.lstrip("f")))
        if follow is not None and action.kind == "follow_up":
            session.delete(follow)
        elif follow is not None:
            follow.done_at, follow.how = None, before.get("how", "")
            session.add(follow)
    elif action.kind == "rm":
        model = journal.ENTRY_TABLES[action.target[0]]
        if session.get(model, int(action.target[1:])) is None:
            session.add(model.model_validate(before["row"]))
        _close_again(session, before.get("reopened", []))
    else:
        contact = session.get(Contact, action.contact_id)
        assert contact is not None
        if action.kind == "snooze":
            until = before.get("snoozed_until")
            contact.snoozed_until = date.fromisoformat(until) if until else None
        elif action.kind == "cadence":
            contact.cadence_days = before.get("cadence_days")
            contact.cadence_source = before.get("cadence_source")
        elif action.kind == "tier":
            since = before.get("tier_since")
            contact.tier, contact.tier_source = before.get("tier"), before.get("tier_source")
            contact.tier_since = datetime.fromisoformat(since) if since else None
        else:
            raise ValueError(f"unknown action kind {action.kind!r}")
        session.add(contact)


def _recompute(session: Session, contact_ids: list[int], half_life_days: float, now: datetime) -> None:
    """Last touch, warmth and which suggestions were acted on, from the touches that are left."""
    if not contact_ids:
        return
    refresh_contacts(session, contact_ids, now, half_life_days)
    session.execute(
        sa.update(Suggestion).where(col(Suggestion.contact_id).in_(contact_ids)).values(acted_at=None)
    )
    mark_acted(session)


def remove(session: Session, target: str, half_life_days: float, now: datetime, via: str = "cli") -> str:
    """Delete the one entry `target` names (t12, n3, r5), journaled so `undo` brings it back."""
    m = journal.ENTRY_ID.fullmatch(target.strip().lower())
    if m is None:
        raise UserError(
            f"{target!r} is not an entry id: use the id `nudge log --list` or `nudge show NAME` gives "
            "(t12 for a touch, n3 for a note, r5 for a referral)"
        )
    name = m.group(1) + m.group(2)
    row = journal.entry(session, name)
    if row is None:
        raise UserError(f"there is no entry {name}; `nudge log --list` shows the ids")
    contact = session.get(Contact, row.contact_id)
    assert contact is not None
    what = journal.describe(row, contact)
    if isinstance(row, Touch) and row.source != "cli":
        raise UserError(
            f"{name} ({what}) came from the source {row.source!r}: nudge only removes what you "
            "entered by hand; change or delete it at the source and the next sync follows"
        )
    data = row.model_dump(mode="json")
    reopened = _reopen_closed_by(session, name, now) if isinstance(row, Touch) else []
    journal.record(
        session,
        "rm",
        contact,
        now,
        f"removed {name}: {what}"
        + (f" (reopened {len(reopened)} follow-up(s) it closed)" if reopened else ""),
        target=name,
        before={"row": data, "reopened": reopened},
        via=via,
    )
    session.delete(row)
    session.flush()
    _recompute(session, [contact.id] if contact.id is not None else [], half_life_days, now)
    return f"{name}: {what}"


def _reopen_closed_by(session: Session, touch_id: str, now: datetime) -> list[dict[str, Any]]:
    """Reopen the follow-ups that logging `touch_id` closed: without the touch, the promise is open again.

    The closings are the `follow_up_done` entries journaled in the same batch as the touch.
    What is returned goes into the `rm` entry, so undoing the `rm` closes them again.
    """
    logged = session.exec(
        select(UserAction).where(
            UserAction.kind == "touch", UserAction.target == touch_id, col(UserAction.undone_at).is_(None)
        )
    ).first()
    if logged is None:
        return []
    closings = session.exec(
        select(UserAction).where(
            UserAction.batch == logged.batch,
            UserAction.kind == "follow_up_done",
            col(UserAction.undone_at).is_(None),
        )
    ).all()
    reopened: list[dict[str, Any]] = []
    for closing in closings:
        follow = session.get(FollowUp, int(closing.target.lstrip("f")))
        if follow is None or follow.done_at is None or follow.how != "touch":
            continue
        reopened.append({"action": closing.id, "done_at": follow.done_at.isoformat()})
        follow.done_at, follow.how = None, ""
        closing.undone_at = now
        session.add_all([follow, closing])
    return reopened


def _close_again(session: Session, reopened: list[dict[str, Any]]) -> None:
    """Undo of an `rm`: the follow-ups the removed touch had closed are closed again, as they were."""
    for item in reopened:
        closing = session.get(UserAction, item["action"])
        if closing is None:
            continue
        follow = session.get(FollowUp, int(closing.target.lstrip("f")))
        if follow is not None and follow.done_at is None:
            follow.done_at, follow.how = datetime.fromisoformat(item["done_at"]), "touch"
            closing.undone_at = None
            session.add_all([follow, closing])
