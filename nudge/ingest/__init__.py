"""Apply parsed records to the store, inside the caller's transaction.

The rules that protect user data live here: a contact is archived, never
deleted; touches logged by hand are never touched; a touch that came from an
event is updated in place, so what the user attached to it stays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge.core.identity import normalise_phone, phone_as_typed
from nudge.core.records import ContactRecord, EventRecord, GroupRecord
from nudge.core.touches import MailRules, Rules
from nudge.core.warmth import roll_forward, touch_sum
from nudge.ingest.events import EventIngest
from nudge.ingest.tiers import contacts_of, refresh_tiers, tier_of
from nudge.store.models import Contact, GroupMember, Identity, Moment, Sighting, SourceRecord, Touch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """The settings ingest needs, as plain values."""

    rules: Rules
    region: str
    tier_groups: dict[str, str]  # folded group name -> tier
    half_life_days: float
    tz: tzinfo
    now: datetime
    mail: MailRules


def job_detail(org: str | None, title: str | None) -> str:
    if title and org:
        return f"now {title} at {org}"
    return f"now {title}" if title else f"now at {org}"


def job_changed(old_org: str | None, old_title: str | None, org: str | None, title: str | None) -> bool:
    """A change of ORG or TITLE between two readings of the same card; not a first reading."""
    if not (old_org or old_title) or not (org or title):
        return False
    return (old_org or "", old_title or "") != (org or "", title or "")


class Ingest(EventIngest):
    """One source's view of the store for the length of one transaction (events: `EventIngest`).

    `keys` are the identities the batch can touch (its cards' addresses and phones, its
    attendees); None reads them all.
    """

    def __init__(
        self, session: Session, source: str, ctx: Context, keys: Iterable[tuple[str, str]] | None = None
    ) -> None:
        self.session = session
        self.source = source
        self.ctx = ctx
        self.identities = load_identities(session, keys)
        self._records: dict[str, SourceRecord] = {}
        self._absent: set[str] = set()  # preloaded hrefs with no record yet
        self.dirty: set[int] = set()  # contacts whose touches changed
        self.gained: dict[int, list[tuple[datetime, float]]] = {}
        self._fresh: set[str] = set()  # event UIDs with no rows anywhere (see find_fresh)
        self._rows = {}
        self.new_emails: set[str] = set()
        self.retier: set[int] = set()  # contacts whose tier may have changed
        self.regroup: set[str] = set()  # group members (member keys) whose groups changed
        self._people: list[_NewPerson] = []  # contacts to insert with the batch
        self._claimed: dict[tuple[str, str], _NewPerson] = {}  # their identities
        self.unparsed_phones = 0  # numbers on the cards applied that were kept as typed

    def preload(self, hrefs: list[str]) -> None:
        """Fetch the records for a batch in a few queries instead of one each."""
        for start in range(0, len(hrefs), 500):
            for sr in self.session.exec(
                select(SourceRecord).where(
                    SourceRecord.source == self.source,
                    col(SourceRecord.href).in_(hrefs[start : start + 500]),
                )
            ):
                self._records[sr.href] = sr
        self._absent.update(h for h in hrefs if h not in self._records)

    def record(self, href: str) -> SourceRecord | None:
        if href in self._records:
            return self._records[href]
        if href in self._absent:
            return None
        self.flush_rows()
        return self.session.exec(
            select(SourceRecord).where(SourceRecord.source == self.source, SourceRecord.href == href)
        ).first()

    # --- contacts -------------------------------------------------------

    def rekey(self, old: str, new: str) -> None:
        """Move the stored record of `old` to the href `new` (a card whose derived key changed)."""
        sr = self.record(old)
        if sr is None:
            return
        self._records.pop(old, None)
        self._absent.add(old)
        sr.href = new
        self._records[new] = sr
        self._absent.discard(new)
        self.session.add(sr)

    def upsert_contact(self, collection: str, href: str, etag: str, rec: ContactRecord) -> str:
        """Create or update the contact behind `href`; returns 'added', 'merged' or 'changed'.

        'merged': a card seen for the first time whose person is already a contact
        (by an address or phone), or is new in this batch from another card.

        A card seen for the first time whose person is new (or new in this batch)
        is collected and inserted with the batch (`_insert_people`); anything
        else goes through the ORM.
        """
        ctx, now = self.ctx, self.ctx.now
        sr = self.record(href)
        if sr is not None:
            self.flush_rows()  # the people collected so far are real rows from here on
        if sr is not None and sr.kind != "contact":  # was a group card: forget it as such
            self.remove(href)
            sr = None
        emails = [e for e in rec.emails if e not in ctx.rules.me]
        if rec.emails and not emails:  # the user's own card: remember it, never a contact
            if sr is None:
                sr = SourceRecord(source=self.source, href=href, kind="contact")
                self._records[href] = sr
                self._absent.discard(href)
            sr.collection, sr.etag, sr.uid, sr.contact_id = collection, etag, rec.uid, None
            self.session.add(sr)
            return "ignored"
        phones, typed = phone_keys(rec.phones, ctx.region)
        self.unparsed_phones += len(typed)
        keys = [("email", e) for e in emails] + phones  # the merge keys
        owned = keys + [t for t in typed if t not in keys]  # a number kept as typed merges nothing
        outcome = "changed" if sr is not None else "added"
        contact: Contact | None = None
        if sr is not None and sr.contact_id is not None:
            contact = self.session.get(Contact, sr.contact_id)
        if contact is None:
            for key in keys:
                if key in self.identities:
                    contact = self.session.get(Contact, self.identities[key])
                    outcome = "merged" if sr is None else outcome
                    break
                if key in self._claimed and sr is None:
                    self._claimed[key].add(href, collection, etag, rec, owned, self)
                    return "merged"
        if contact is None and sr is None:
            person = _NewPerson(name=rec.name)
            self._people.append(person)
            person.add(href, collection, etag, rec, owned, self)
            return outcome
        if contact is None:
            contact = Contact(name=rec.name, created_at=now, warmth_at=now)
            self.session.add(contact)
            self.session.flush()
        assert contact.id is not None
        if sr is not None and job_changed(sr.org, sr.title, rec.org, rec.title):
            detail = job_detail(rec.org, rec.title)
            self.session.add(Moment(contact_id=contact.id, kind="job_change", detail=detail, at=now))
        contact.name = rec.name
        contact.org = rec.org or contact.org
        contact.title = rec.title or contact.title
        contact.birthday = rec.birthday or contact.birthday
        contact.archived_at = None
        self.retier.add(contact.id)
        for key in owned:
            owner = self.identities.get(key)
            if owner is None and key in self._claimed:
                log.debug("%s: %s already belongs to a new contact", href, key[0])
            elif owner is None:
                self.session.add(Identity(contact_id=contact.id, kind=key[0], value=key[1]))
                self.identities[key] = contact.id
                if key[0] == "email":
                    self.new_emails.add(key[1])
            elif owner != contact.id:
                log.debug("%s: %s already belongs to contact %s", href, key[0], owner)
        if sr is None:
            sr = SourceRecord(source=self.source, href=href, kind="contact")
            self._records[href] = sr
            self._absent.discard(href)
        sr.collection, sr.etag, sr.uid, sr.alias = collection, etag, rec.uid, rec.alias
        sr.contact_id, sr.org, sr.title = contact.id, rec.org, rec.title
        sr.tier = tier_of(rec.categories, ctx.tier_groups)
        self.session.add(sr)
        return outcome

    def flush_rows(self) -> None:
        self._insert_people()
        super().flush_rows()

    def _insert_people(self) -> None:
        """The collected new contacts in one INSERT ... RETURNING; then their identities and records."""
        if not self._people:
            return
        self.session.flush()
        now = self.ctx.now
        rows = [{**_CONTACT_DEFAULTS, **p.fields, "created_at": now, "warmth_at": now} for p in self._people]
        inserted = sa.insert(Contact).returning(col(Contact.id), sort_by_parameter_order=True)
        ids = self.session.execute(inserted, rows).scalars().all()
        for person, cid in zip(self._people, ids, strict=True):
            self.retier.add(cid)
            for kind, value in person.keys:
                self.identities[(kind, value)] = cid
                self._add_row(Identity, {"contact_id": cid, "kind": kind, "value": value})
                if kind == "email":
                    self.new_emails.add(value)
            for row in person.records:
                self._add_row(SourceRecord, {**row, "contact_id": cid})
        self._people.clear()
        self._claimed.clear()

    def upsert_group(self, collection: str, href: str, etag: str, rec: GroupRecord) -> str:
        """Remember a group card and whom it lists; their tiers are worked out in `finish`.

        Returns 'group', or 'archived' when the card was a person's and that person is gone.
        """
        sr = self.record(href)
        outcome = "group"
        if sr is not None and sr.kind != "group":  # was a person's card
            outcome = "archived" if self.remove(href) == "archived" else outcome
            sr = None
        if sr is None:
            sr = SourceRecord(source=self.source, href=href, kind="group")
            self._records[href] = sr
            self._absent.discard(href)
        old_tier = sr.tier
        sr.collection, sr.etag, sr.uid, sr.contact_id = collection, etag, rec.uid, None
        sr.tier = tier_of([rec.name], self.ctx.tier_groups)
        self.session.add(sr)
        listed = self._listed_in(href)
        old = set(self.session.exec(select(GroupMember.member).where(listed)))
        new = set(rec.members)
        if old - new:
            gone = col(GroupMember.member).in_(old - new)
            self.session.execute(sa.delete(GroupMember).where(listed, gone))
        for member in sorted(new - old):
            self.session.add(GroupMember(source=self.source, group_href=href, member=member))
        self.regroup |= (old | new) if sr.tier != old_tier else (old ^ new)
        return outcome

    def _listed_in(self, group_href: str) -> sa.ColumnElement[bool]:
        return sa.and_(col(GroupMember.source) == self.source, col(GroupMember.group_href) == group_href)

    # --- removals ----------------------------------------------------------

    def remove(self, href: str) -> str | None:
        """Forget `href`: archive its contact if no other record holds it, or drop its event's rows."""
        sr = self.record(href)
        if sr is None:
            return None
        self.flush_rows()
        self._records.pop(href, None)
        self._absent.add(href)
        self.session.delete(sr)
        self.session.flush()
        if sr.kind == "event":
            self._clear_event(sr.uid)
            return "removed"
        if sr.kind == "group":
            listed = self._listed_in(href)
            self.regroup.update(self.session.exec(select(GroupMember.member).where(listed)))
            self.session.execute(sa.delete(GroupMember).where(listed))
            return None
        if sr.contact_id is None:
            return None
        others = self.session.exec(
            select(SourceRecord.id).where(SourceRecord.contact_id == sr.contact_id)
        ).first()
        if others is not None:
            self.retier.add(sr.contact_id)  # its other cards may name another tier, or none
        contact = self.session.get(Contact, sr.contact_id)
        if others is None and contact is not None and contact.archived_at is None:
            contact.archived_at = self.ctx.now
            self.session.add(contact)
            return "archived"
        return None

    # --- finishing -----------------------------------------------------------

    def adopt_sightings(self) -> None:
        """Meetings with addresses that just became a contact's turn into touches."""
        self.flush_rows()
        emails = sorted(self.new_emails)
        for start in range(0, len(emails), CHUNK):
            sightings = list(
                self.session.exec(
                    select(Sighting).where(col(Sighting.email).in_(emails[start : start + CHUNK]))
                )
            )
            taken = _touched(self.session, sorted({s.external_id for s in sightings}))
            for sighting in sightings:
                cid = self.identities[("email", sighting.email)]
                if (cid, sighting.external_id) not in taken:  # else the same event came from elsewhere
                    taken.add((cid, sighting.external_id))
                    self.session.add(Touch(**self._meeting(cid, sighting.source, sighting)))
                    self.dirty.add(cid)
                self.session.delete(sighting)
        self.new_emails.clear()
        self.session.flush()

    def finish(self) -> None:
        self.flush_rows()
        if self.regroup:
            self.retier |= contacts_of(self.session, self.source, self.regroup)
        refresh_tiers(self.session, self.source, self.retier, self.ctx.tier_groups, self.ctx.now)
        self.retier.clear()
        self.regroup.clear()
        self.adopt_sightings()
        gained = {cid: g for cid, g in self.gained.items() if cid not in self.dirty}
        add_warmth(self.session, gained, self.ctx.now, self.ctx.half_life_days)
        refresh_contacts(self.session, self.dirty, self.ctx.now, self.ctx.half_life_days)
        self.dirty.clear()
        self.gained.clear()


CHUNK = 500  # ids per IN (...) list
_C: sa.Table = Contact.__table__  # type: ignore[attr-defined]
# One executemany of {"cid", "last_touch_at", "warmth_sum", "warmth_at"} rows.
_UPDATE_WARMTH = (
    sa.update(_C)
    .where(_C.c.id == sa.bindparam("cid"))
    .values(
        last_touch_at=sa.bindparam("last_touch_at"),
        warmth_sum=sa.bindparam("warmth_sum"),
        warmth_at=sa.bindparam("warmth_at"),
    )
)


def phone_keys(phones: Iterable[str], region: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A card's numbers as identities: (E.164 ones, ones kept as typed because they do not parse).

    Both are stored as the contact's phones (shown, dialled as written); only
    E.164 numbers merge cards into one contact.
    """
    parsed: dict[tuple[str, str], None] = {}
    typed: dict[tuple[str, str], None] = {}
    for raw in phones:
        number = normalise_phone(raw, region)
        if number:
            parsed["phone", number] = None
        elif value := phone_as_typed(raw):
            typed["phone", value] = None
    return list(parsed), list(typed)


def count_unparsed_phones(session: Session) -> int:
    """Stored numbers that are kept as typed (not E.164): for `nudge doctor`."""
    values = session.exec(select(Identity.value).where(Identity.kind == "phone"))
    return sum(1 for value in values if normalise_phone(value, "") != value)


def identity_keys(
    records: Iterable[ContactRecord | GroupRecord | EventRecord], ctx: Context
) -> set[tuple[str, str]]:
    """Every identity these records can match: their cards' addresses and phones, their attendees."""
    keys: set[tuple[str, str]] = set()
    for rec in records:
        if isinstance(rec, ContactRecord):
            keys.update(("email", e) for e in rec.emails)
            for group in phone_keys(rec.phones, ctx.region):
                keys.update(group)
        elif isinstance(rec, EventRecord):
            for occ in rec.occurrences:
                keys.update(("email", a.email) for a in occ.attendees if a.email)
                if occ.organizer:
                    keys.add(("email", occ.organizer))
    return keys


def load_identities(session: Session, keys: Iterable[tuple[str, str]] | None) -> dict[tuple[str, str], int]:
    """(kind, value) -> contact: every identity, or (cheaper on a large store) just these."""
    t: sa.Table = Identity.__table__  # type: ignore[attr-defined]
    if keys is None:
        return {
            (k, v): c
            for k, v, c in session.connection().execute(sa.select(t.c.kind, t.c.value, t.c.contact_id))
        }
    found: dict[tuple[str, str], int] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, value in set(keys):
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        for start in range(0, len(values), CHUNK):
            query = sa.select(t.c.value, t.c.contact_id).where(
                t.c.kind == kind, t.c.value.in_(values[start : start + CHUNK])
            )
            found.update(((kind, v), c) for v, c in session.connection().execute(query))
    return found


# Every Contact column a new contact's row leaves at its default: executemany wants one shape.
_CONTACT_DEFAULTS: dict[str, Any] = {
    "tier": None,
    "tier_source": None,
    "tier_since": None,
    "cadence_days": None,
    "snoozed_until": None,
    "archived_at": None,
    "last_touch_at": None,
    "warmth_sum": 0.0,
}


@dataclass
class _NewPerson:
    """A contact not in the store yet, from one or more cards of this batch (see `_insert_people`)."""

    name: str
    org: str | None = None
    title: str | None = None
    birthday: str | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "org": self.org, "title": self.title, "birthday": self.birthday}

    def add(
        self,
        href: str,
        collection: str,
        etag: str,
        rec: ContactRecord,
        keys: list[tuple[str, str]],
        into: Ingest,
    ) -> None:
        """One more card of this person: as `upsert_contact` updates a contact and claims its identities."""
        self.name = rec.name
        self.org = rec.org or self.org
        self.title = rec.title or self.title
        self.birthday = rec.birthday or self.birthday
        for key in keys:
            owner = into.identities.get(key) or into._claimed.get(key)
            if owner is None:
                into._claimed[key] = self
                self.keys.append(key)
            elif owner is not self:
                log.debug("%s: %s already belongs to another contact", href, key[0])
        into._absent.discard(href)
        self.records.append(
            {
                "source": into.source,
                "collection": collection,
                "href": href,
                "kind": "contact",
                "uid": rec.uid,
                "alias": rec.alias,
                "etag": etag,
                "org": rec.org,
                "title": rec.title,
                "tier": tier_of(rec.categories, into.ctx.tier_groups),
                "raw_hash": "",
                "raw": None,
                "format": "",
                "recheck_at": None,
            }
        )


def _touched(session: Session, externals: list[str]) -> set[tuple[int, str]]:
    """(contact, external id) of the touches with these external ids."""
    found: set[tuple[int, str]] = set()
    for start in range(0, len(externals), CHUNK):
        chunk = externals[start : start + CHUNK]
        for cid, ext in session.exec(
            select(Touch.contact_id, Touch.external_id).where(col(Touch.external_id).in_(chunk))
        ):
            found.add((cid, ext or ""))
    return found


def refresh_contacts(session: Session, ids: Iterable[int], now: datetime, half_life_days: float) -> None:
    """Recompute the denormalised last touch and warmth sum of these contacts from all their touches."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
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
                    "cid": cid,
                    "last_touch_at": max((t[0] for t in past), default=None),
                    "warmth_sum": touch_sum(past, now, half_life_days),
                    "warmth_at": now,
                }
            )
        session.connection().execute(_UPDATE_WARMTH, updates)


def add_warmth(
    session: Session, gained: dict[int, list[tuple[datetime, float]]], now: datetime, half_life_days: float
) -> None:
    """Fold new touches into each contact's stored last touch and warmth sum (no recount).

    Right for contacts that only gained touches since their warmth was stored: the
    stored sum is rolled forward to `now` and the new touches are added to it.
    """
    rows = []
    ids = sorted(gained)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
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
                    "cid": cid,
                    "last_touch_at": newest if last is None or newest > last else last,
                    "warmth_sum": base + touch_sum(new, now, half_life_days),
                    "warmth_at": now,
                }
            )
    if rows:
        session.connection().execute(_UPDATE_WARMTH, rows)
