"""Tiers from address books: what contact cards (CATEGORIES) and the group cards listing them say.

Each source record keeps the tiers its own card names (a contact card by its CATEGORIES, a
group card by its name), and `GroupMember` keeps who each group lists. A contact's tier is then
worked out again from those rows, over every source, whenever one of them changes, so the order
in which a group and its members arrive never matters, and taking someone out of a group (or
deleting the group) takes away exactly the tier it gave. A tier set with the CLI always wins.

Group names match however they are spelt: case, accents, spaces, hyphens and underscores are
folded alike (`group_key`), so `Top_100`, `top-100` and `Top 100` are one group.

A person named for two tiers (`CATEGORIES:top100,partner`) is followed in one of them, one list
per person per day: a tier with the partner slot first (its block carries the referral ledger
and the give-first line, which a call entry lacks), then the shorter cadence (it keeps the other
tier's promise too), then config order. `show` names the tiers that lost.

A tier found at a source's first sync is as old as the person's history: `tier_since` stays
empty, and the planner treats the person as a member since before their last touch. A tier that
appears later (a group or category added afterwards, `nudge tier`) starts the newcomer ramp.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge.config import Tier
from nudge.core.records import GroupRecord
from nudge.ingest.base import Batch
from nudge.parse.vcard import member_key
from nudge.store.models import Contact, GroupMember, SourceRecord, SyncState
from nudge.store.query import chunks

CHUNK = 400  # each key is asked in two spellings: 800 parameters, under old SQLite's 999
SEP = ","  # between the tiers one record names, best first (SourceRecord.tier)


def group_key(name: str) -> str:
    """A group name folded for matching: case, accents, spaces, hyphens and underscores ignored."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(
        c
        for c in decomposed.casefold()
        if not unicodedata.combining(c)
        and not c.isspace()
        and c != "_"
        and unicodedata.category(c) != "Pd"  # every dash: - ‐ – —
    )


def precedence(tiers: Mapping[str, Tier]) -> list[str]:
    """Tier names, the one a person named for several is followed in first."""
    order = list(tiers)
    return sorted(order, key=lambda n: (tiers[n].slot != "partner", tiers[n].cadence_days, order.index(n)))


def tier_groups(tiers: Mapping[str, Tier]) -> dict[str, str]:
    """Folded group name -> tier, in `precedence` order (the first tier to list a name keeps it)."""
    out: dict[str, str] = {}
    for name in precedence(tiers):
        for group in tiers[name].groups:
            out.setdefault(group_key(group), name)
    return out


def _rank(groups: Mapping[str, str]) -> dict[str, int]:
    return {tier: i for i, tier in enumerate(dict.fromkeys(groups.values()))}


def tier_of(names: Iterable[str], groups: Mapping[str, str]) -> str | None:
    """Every tier these names (categories, a group's name) put someone in, best first, joined by SEP."""
    rank = _rank(groups)
    found = {groups[k] for k in map(group_key, names) if k in groups}
    return SEP.join(sorted(found, key=lambda t: rank[t])) or None


def split(value: str | None) -> list[str]:
    return [t for t in (value or "").split(SEP) if t]


def contacts_of(session: Session, source: str, members: Iterable[str]) -> set[int]:
    """The contacts whose cards in `source` are these group members, by UID or by alias."""
    keys = sorted(set(members))
    found: set[int] = set()
    for chunk in chunks(keys, CHUNK):
        spellings = chunk + [f"urn:uuid:{k}" for k in chunk]
        rows = session.exec(
            select(SourceRecord.contact_id, SourceRecord.uid, SourceRecord.alias).where(
                SourceRecord.source == source,
                SourceRecord.kind == "contact",
                col(SourceRecord.contact_id).is_not(None),
                sa.or_(sa.func.lower(SourceRecord.uid).in_(spellings), col(SourceRecord.alias).in_(chunk)),
            )
        )
        found.update(
            cid
            for cid, uid, alias in rows
            if cid is not None and (member_key(uid) in chunk or alias in chunk)
        )
    return found


Named = dict[str, set[str]]  # tier -> the sources that name it


def named_tiers(session: Session, ids: Iterable[int]) -> dict[int, Named]:
    """For each contact, the tiers its cards and the groups listing them name, in every source."""
    todo = sorted(set(ids))
    named: dict[int, Named] = {cid: {} for cid in todo}
    session.flush()  # the cards below are read as plain rows
    for chunk in chunks(todo, CHUNK):
        keys: dict[str, dict[str, set[int]]] = {}  # source -> member key -> contacts
        cards = sa.select(
            col(SourceRecord.contact_id),
            col(SourceRecord.source),
            col(SourceRecord.uid),
            col(SourceRecord.alias),
            col(SourceRecord.tier),
        ).where(col(SourceRecord.kind) == "contact", col(SourceRecord.contact_id).in_(chunk))
        for cid, source, uid, alias, tiers in session.execute(cards):
            for tier in split(tiers):
                named[cid].setdefault(tier, set()).add(source)
            for key in {member_key(uid), alias} - {""}:  # a group may list the card by either
                keys.setdefault(source, {}).setdefault(key, set()).add(cid)
        for source, members in keys.items():
            group = sa.and_(
                col(SourceRecord.source) == col(GroupMember.source),
                col(SourceRecord.href) == col(GroupMember.group_href),
            )
            for member, tiers in session.exec(
                select(GroupMember.member, SourceRecord.tier)
                .join(SourceRecord, group)
                .where(
                    GroupMember.source == source,
                    col(GroupMember.member).in_(list(members)),
                    col(SourceRecord.tier).is_not(None),
                )
            ):
                for cid in members[member]:
                    for tier in split(tiers):
                        named[cid].setdefault(tier, set()).add(source)
    return named


def best(named: Named, groups: Mapping[str, str]) -> str | None:
    """The tier a person named for these is followed in (see the module's docstring)."""
    rank = _rank(groups)
    return min(named, key=lambda t: (rank.get(t, len(rank)), t), default=None)


def first_sync(session: Session, source: str) -> bool:
    """True until `source` has once finished a sync: what it says now, the address book always said."""
    done = session.exec(
        select(SyncState.last_success_at).where(SyncState.source == source, SyncState.collection == "")
    ).first()
    return done is None


def refresh_tiers(
    session: Session, source: str, ids: Iterable[int], groups: Mapping[str, str], now: datetime
) -> None:
    """Give these contacts the tier their address books name now, unless the user chose one.

    `source` is the one being synced: at its first sync a tier it gives is as old as the
    person's history (`tier_since` empty), later it starts today.
    """
    since = None if first_sync(session, source) else now
    todo = sorted(set(ids))
    for chunk in chunks(todo, CHUNK):
        named = named_tiers(session, chunk)
        for contact in session.exec(select(Contact).where(col(Contact.id).in_(chunk))):
            assert contact.id is not None
            if contact.tier_source == "cli":
                continue  # the user's own choice wins over the address book
            wanted = best(named[contact.id], groups)
            if wanted is None:
                if contact.tier_source and contact.tier_source.startswith("source:"):
                    contact.tier, contact.tier_source, contact.tier_since = None, None, None
                    session.add(contact)
                continue
            sources = named[contact.id][wanted]
            origin = contact.tier_source if _source(contact.tier_source) in sources else None
            origin = origin or f"source:{source if source in sources else min(sources)}"
            if wanted != contact.tier:
                contact.tier, contact.tier_source, contact.tier_since = wanted, origin, since
                session.add(contact)
            elif origin != contact.tier_source:
                contact.tier_source = origin
                session.add(contact)


def _source(tier_source: str | None) -> str | None:
    return tier_source[7:] if tier_source and tier_source.startswith("source:") else None


class Tiers:
    """The tiers part of an ingest: group cards, and whose tier to work out again at the end."""

    def __init__(self, batch: Batch, remove: Callable[[str], str | None]) -> None:
        self.batch = batch
        self._remove = remove  # the ingest's removal of an href (a person's card turned group)
        self._retier: set[int] = set()  # contacts whose tier may have changed
        self._regroup: set[str] = set()  # group members (member keys) whose groups changed

    def retier(self, contact_id: int) -> None:
        self._retier.add(contact_id)

    def upsert_group(self, collection: str, href: str, etag: str, rec: GroupRecord) -> str:
        """Remember a group card and whom it lists; their tiers are worked out in `finish`.

        Returns 'group', or 'archived' when the card was a person's and that person is gone.
        """
        batch, session = self.batch, self.batch.session
        sr = batch.record(href)
        outcome = "group"
        if sr is not None and sr.kind != "group":  # was a person's card
            outcome = "archived" if self._remove(href) == "archived" else outcome
            sr = None
        if sr is None:
            sr = SourceRecord(source=batch.source, href=href, kind="group")
            batch.remember(sr)
        old_tier = sr.tier
        sr.collection, sr.etag, sr.uid, sr.contact_id = collection, etag, rec.uid, None
        sr.tier = tier_of([rec.name], batch.ctx.tier_groups)
        session.add(sr)
        listed = self._listed_in(href)
        old = set(session.exec(select(GroupMember.member).where(listed)))
        new = set(rec.members)
        if old - new:
            gone = col(GroupMember.member).in_(old - new)
            session.execute(sa.delete(GroupMember).where(listed, gone))
        for member in sorted(new - old):
            session.add(GroupMember(source=batch.source, group_href=href, member=member))
        self._regroup |= (old | new) if sr.tier != old_tier else (old ^ new)
        return outcome

    def removed(self, href: str) -> None:
        """A group card is gone (its record deleted): its members lose what it gave them."""
        listed = self._listed_in(href)
        self._regroup.update(self.batch.session.exec(select(GroupMember.member).where(listed)))
        self.batch.session.execute(sa.delete(GroupMember).where(listed))

    def _listed_in(self, group_href: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            col(GroupMember.source) == self.batch.source, col(GroupMember.group_href) == group_href
        )

    def finish(self) -> None:
        """Work out again the tier of everyone whose cards or groups changed in this batch."""
        batch = self.batch
        if self._regroup:
            self._retier |= contacts_of(batch.session, batch.source, self._regroup)
        refresh_tiers(batch.session, batch.source, self._retier, batch.ctx.tier_groups, batch.ctx.now)
        self._retier.clear()
        self._regroup.clear()
