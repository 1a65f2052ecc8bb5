"""Columns derived from touches, kept current in the transaction that changes the touches.

`Contact.last_touch_at` and `warmth_sum` (with `warmth_at`) are denormalised so that
planning reads one row per contact; `Suggestion.acted_at` records the first touch
after a suggestion. Sync, the user's edits and `undo` all keep them right through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nudge.core.warmth import roll_forward, touch_sum
from nudge.store.models import Contact, Suggestion, Touch
from nudge.store.query import chunks


def _update_warmth(session: Session, rows: list[dict[str, Any]]) -> None:
    """One executemany of {"id", "last_touch_at", "warmth_sum", "warmth_at"} rows (ORM bulk by id)."""
    session.execute(sa.update(Contact), rows)


def refresh_contacts(session: Session, ids: Iterable[int], now: datetime, half_life_days: float) -> None:
    """Recompute the denormalised last touch and warmth sum of these contacts from all their touches."""
    for chunk in chunks(sorted(set(ids))):
        rows: dict[int, list[tuple[datetime, float]]] = {cid: [] for cid in chunk}
        for cid, at, weight in session.exec(
            select(Touch.contact_id, Touch.at, Touch.weight).where(col(Touch.contact_id).in_(chunk))
        ):
            rows[cid].append((at, weight))
        updates = []
        for cid, touches in rows.items():
            past = [t for t in touches if t[0] <= now]
            updates.append(
                {
                    "id": cid,
                    "last_touch_at": max((t[0] for t in past), default=None),
                    "warmth_sum": touch_sum(past, now, half_life_days),
                    "warmth_at": now,
                }
            )
        _update_warmth(session, updates)


def add_warmth(
    session: Session, gained: dict[int, list[tuple[datetime, float]]], now: datetime, half_life_days: float
) -> None:
    """Fold new touches into each contact's stored last touch and warmth sum (no recount).

    Right for contacts that only gained touches since their warmth was stored: the
    stored sum is rolled forward to `now` and the new touches are added to it.
    """
    rows = []
    for chunk in chunks(sorted(gained)):
        for cid, last, total, at in session.exec(
            select(Contact.id, Contact.last_touch_at, Contact.warmth_sum, Contact.warmth_at).where(
                col(Contact.id).in_(chunk)
            )
        ):
            assert cid is not None
            new = gained[cid]
            base = roll_forward(total, at, now, half_life_days) if at is not None else 0.0
            newest = max(t for t, _ in new)
            rows.append(
                {
                    "id": cid,
                    "last_touch_at": newest if last is None or newest > last else last,
                    "warmth_sum": base + touch_sum(new, now, half_life_days),
                    "warmth_at": now,
                }
            )
    if rows:
        _update_warmth(session, rows)


def mark_acted(session: Session) -> None:
    """Fill in when each open suggestion was acted on: the first touch since its day."""
    first = (
        select(func.min(Touch.at))
        .where(Touch.contact_id == Suggestion.contact_id, col(Touch.at) >= Suggestion.digest_date)
        .scalar_subquery()
    )
    session.execute(sa.update(Suggestion).where(col(Suggestion.acted_at).is_(None)).values(acted_at=first))
