"""Contacts that may be one person (`nudge duplicates`): the live contacts and their
addresses and phones, handed to the pure `core.duplicates`."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, col, select

from nudge.core.duplicates import Pair, Person, likely_pairs
from nudge.store.models import Contact, Identity


def pairs(session: Session) -> list[Pair]:
    """Likely duplicates among the live contacts, strongest evidence first."""
    live = dict(
        session.exec(select(Contact.id, Contact.name).where(col(Contact.archived_at).is_(None))).all()
    )
    ids: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"email": [], "phone": []})
    for cid, kind, value in session.exec(
        select(Identity.contact_id, Identity.kind, Identity.value).order_by(col(Identity.id))
    ):
        if cid in live and kind in ("email", "phone"):
            ids[cid][kind].append(value)
    people = [
        Person(cid, name, tuple(ids[cid]["email"]), tuple(ids[cid]["phone"]))
        for cid, name in sorted(live.items())
        if cid is not None
    ]
    return likely_pairs(people)
