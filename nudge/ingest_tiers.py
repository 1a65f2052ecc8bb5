"""Tiers from an address book: what a contact's cards (CATEGORIES) and the group cards listing them say.

Each source record keeps the tier its own card names (a contact card by its CATEGORIES, a
group card by its name), and `GroupMember` keeps who each group lists. A contact's tier from a
source is then worked out again from those rows whenever one of them changes, so the order in
which a group and its members arrive never matters, and taking someone out of a group (or
deleting the group) takes away exactly the tier it gave. A tier set with the CLI always wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge.identity import fold
from nudge.models import Contact, GroupMember, SourceRecord
from nudge.parse import member_key

CHUNK = 400


def tier_of(names: Iterable[str], tier_groups: Mapping[str, str]) -> str | None:
    """The tier of the first name (a category, a group's name) that is one of a tier's groups."""
    return next((tier_groups[fold(n)] for n in names if fold(n) in tier_groups), None)


def contacts_of(session: Session, source: str, members: Iterable[str]) -> set[int]:
    """The contacts whose cards in `source` are these group members."""
    keys = sorted(set(members))
    found: set[int] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        spellings = chunk + [f"urn:uuid:{k}" for k in chunk]
        rows = session.exec(
            select(SourceRecord.contact_id, SourceRecord.uid).where(
                SourceRecord.source == source,
                SourceRecord.kind == "contact",
                col(SourceRecord.contact_id).is_not(None),
                sa.func.lower(SourceRecord.uid).in_(spellings),
            )
        )
        found.update(cid for cid, uid in rows if cid is not None and member_key(uid) in chunk)
    return found


def refresh_tiers(
    session: Session, source: str, ids: Iterable[int], tier_groups: Mapping[str, str], now: datetime
) -> None:
    """Give these contacts the tier `source` names for them now, unless the user chose one."""
    rank = {tier: i for i, tier in enumerate(dict.fromkeys(tier_groups.values()))}
    mine = f"source:{source}"
    todo = sorted(set(ids))
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        named: dict[int, set[str]] = {cid: set() for cid in chunk}
        keys: dict[str, set[int]] = {}
        for cid, uid, tier in session.exec(
            select(SourceRecord.contact_id, SourceRecord.uid, SourceRecord.tier).where(
                SourceRecord.source == source,
                SourceRecord.kind == "contact",
                col(SourceRecord.contact_id).in_(chunk),
            )
        ):
            assert cid is not None
            if tier:
                named[cid].add(tier)
            keys.setdefault(member_key(uid), set()).add(cid)
        group = sa.and_(
            col(SourceRecord.source) == col(GroupMember.source),
            col(SourceRecord.href) == col(GroupMember.group_href),
        )
        for member, tier in session.exec(
            select(GroupMember.member, SourceRecord.tier)
            .join(SourceRecord, group)
            .where(
                GroupMember.source == source,
                col(GroupMember.member).in_(list(keys)),
                col(SourceRecord.tier).is_not(None),
            )
        ):
            for cid in keys[member]:
                named[cid].add(str(tier))
        for contact in session.exec(select(Contact).where(col(Contact.id).in_(chunk))):
            assert contact.id is not None
            wanted = min(named[contact.id], key=lambda t: (rank.get(t, len(rank)), t), default=None)
            if contact.tier_source == "cli":
                continue  # the user's own choice wins over the address book
            if wanted is not None and wanted != contact.tier:
                contact.tier, contact.tier_source, contact.tier_since = wanted, mine, now
                session.add(contact)
            elif wanted is None and contact.tier_source == mine:
                contact.tier, contact.tier_source, contact.tier_since = None, None, None
                session.add(contact)
