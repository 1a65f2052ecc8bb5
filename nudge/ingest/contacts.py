"""Cards into contacts: merge by address, phone and profile URL, archive (never delete), job changes.

A card seen for the first time whose person is new (or new in this batch from
another card) is collected and inserted with the batch in one INSERT ...
RETURNING (`_insert_people`); anything else goes through the ORM. Addresses
that just became a contact's bring the meetings and emails seen with them
(`adopt_sightings`).

Rows of an export (a contacts CSV) also merge by a unique name (`ingest.exports`).
The module is over 400 lines because a card's merge, the new people collected for
one INSERT and the take-over of vanished cards share one state and one set of keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge.core.identity import fold, normalise_phone, phone_as_typed
from nudge.core.records import ContactRecord, EventRecord, GroupRecord
from nudge.ingest.base import Batch, Context
from nudge.ingest.exports import ExportRows, facts, job_was
from nudge.ingest.merged import Merged
from nudge.ingest.tiers import Tiers, tier_of
from nudge.store.models import Contact, Identity, Moment, Sighting, SourceRecord, Touch
from nudge.store.query import chunks

log = logging.getLogger(__name__)


def job_detail(org: str | None, title: str | None) -> str:
    if title and org:
        return f"now {title} at {org}"
    return f"now {title}" if title else f"now at {org}"


def job_changed(old_org: str | None, old_title: str | None, org: str | None, title: str | None) -> bool:
    """A change of ORG or TITLE between two readings of the same card; not a first reading."""
    if not (old_org or old_title) or not (org or title):
        return False
    return (old_org or "", old_title or "") != (org or "", title or "")


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
    facts: list[dict[str, Any]] = field(default_factory=list)  # Moment rows, once the contact has an id

    @property
    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "org": self.org, "title": self.title, "birthday": self.birthday}

    def take(self, rec: ContactRecord, record: dict[str, Any]) -> None:
        """One more card of this person, as `Contacts.upsert` updates a contact."""
        self.name = rec.name
        self.org = rec.org or self.org
        self.title = rec.title or self.title
        self.birthday = rec.birthday or self.birthday
        self.records.append(record)


def _profiles(person: _NewPerson) -> list[str]:
    return [v for k, v in person.keys if k == "linkedin"]


class Contacts:
    """The contacts part of an ingest: cards in, contacts and identities out."""

    def __init__(self, batch: Batch, tiers: Tiers, remove: Callable[[str], str | None]) -> None:
        self.batch = batch
        self.tiers = tiers
        self._remove = remove  # the ingest's removal of an href (a card that changed its kind)
        self._people: list[_NewPerson] = []  # contacts to insert with the batch
        self._claimed: dict[tuple[str, str], _NewPerson] = {}  # their identities
        self.new_emails: set[str] = set()  # addresses that became a contact's in this batch
        self.unparsed_phones = 0  # numbers on the cards applied that were kept as typed
        self.exports: ExportRows[_NewPerson] = ExportRows(batch, lambda: self._people, _profiles)
        self._merged = Merged(batch.session, batch.source)
        batch.on_flush(self._insert_people)

    def rekey(self, old: str, new: str) -> None:
        """Move the stored record of `old` to the href `new` (a card whose derived key changed)."""
        sr = self.batch.record(old)
        if sr is None:
            return
        self.batch.forget(old)
        sr.href = new
        self.batch.remember(sr)
        self.batch.session.add(sr)

    def upsert(self, collection: str, href: str, etag: str, rec: ContactRecord) -> str:
        """Create or update the contact behind `href`; returns 'added', 'merged' or 'changed'.

        'merged': a card seen for the first time whose person is already a contact
        (by an address or phone), or is new in this batch from another card.
        """
        batch, ctx, now = self.batch, self.batch.ctx, self.batch.ctx.now
        session = batch.session
        sr = batch.record(href)
        if sr is not None:
            batch.flush()  # the people collected so far are real rows from here on
        if sr is not None and sr.kind != "contact":  # was a group card: forget it as such
            self._remove(href)
            sr = None
        emails = [e for e in rec.emails if e not in ctx.rules.me]
        if rec.emails and not emails:  # the user's own card: remember it, never a contact
            if sr is None:
                sr = SourceRecord(source=batch.source, href=href, kind="contact")
                batch.remember(sr)
            sr.collection, sr.etag, sr.uid, sr.contact_id = collection, etag, rec.uid, None
            session.add(sr)
            return "ignored"
        phones, typed = phone_keys(rec.phones, ctx.region)
        self.unparsed_phones += len(typed)
        keys = [("email", e) for e in emails] + phones + [("linkedin", p) for p in rec.profiles]
        owned = keys + [t for t in typed if t not in keys]  # a number kept as typed merges nothing
        outcome = "changed" if sr is not None else "added"
        contact: Contact | None = None
        if sr is not None and sr.contact_id is not None:
            contact = session.get(Contact, sr.contact_id)
        if contact is None:
            for key in keys:
                if key in batch.identities:
                    contact = session.get(Contact, batch.identities[key])
                    outcome = "merged" if sr is None else outcome
                    break
                if key in self._claimed and sr is None:
                    self._add_card(self._claimed[key], href, collection, etag, rec, owned)
                    return "merged"
        matched = False
        if contact is None and sr is None and (contact := self._merged_into(href, rec)) is not None:
            outcome = "merged"
        if contact is None and sr is None and rec.origin and rec.name_unique:
            match = self.exports.by_name(rec)
            if isinstance(match, _NewPerson):
                self._add_card(match, href, collection, etag, rec, owned)
                match.facts += facts(rec, now, matched=True)
                return "merged"
            if match is not None:
                contact, outcome, matched = session.get(Contact, match), "merged", True
        if contact is None and sr is None:
            person = _NewPerson(name=rec.name)
            self._people.append(person)
            self.exports.added(rec.name, person)
            self._add_card(person, href, collection, etag, rec, owned)
            person.facts += facts(rec, now, matched=False)
            return outcome
        if contact is None:
            contact = Contact(name=rec.name, created_at=now, warmth_at=now)
            session.add(contact)
            session.flush()
        assert contact.id is not None
        before = sr if sr is not None or not rec.origin else self.exports.previous(rec.uid, href)
        older = sr is None and before is not None and self.exports.older(href, before.href)
        if before is not None and not older and job_changed(before.org, before.title, rec.org, rec.title):
            detail = job_detail(rec.org, rec.title)
            if rec.origin:
                detail += f", {job_was(before.org, before.title, rec.org)} ({rec.origin})"
            session.add(Moment(contact_id=contact.id, kind="job_change", detail=detail, at=now))
        if rec.origin:
            self.exports.add_facts(contact.id, rec, matched)
        # an export never renames someone (`Holm 🌿`, `Ma?gorzata`), nor does a merged-in card
        if (not rec.origin or not contact.name) and self._merged_into(href, rec) is None:
            contact.name = rec.name
        if not older:  # an export older than the one read last says nothing new about the job
            contact.org = rec.org or contact.org
            contact.title = rec.title or contact.title
        contact.birthday = rec.birthday or contact.birthday
        contact.archived_at = None
        self.tiers.retier(contact.id)
        for key in owned:
            owner = batch.identities.get(key)
            if owner is None and key in self._claimed:
                log.debug("%s: %s already belongs to a new contact", href, key[0])
            elif owner is None:
                session.add(Identity(contact_id=contact.id, kind=key[0], value=key[1]))
                batch.identities[key] = contact.id
                if key[0] == "email":
                    self.new_emails.add(key[1])
            elif owner != contact.id:
                log.debug("%s: %s already belongs to contact %s", href, key[0], owner)
        if sr is None:
            sr = SourceRecord(source=batch.source, href=href, kind="contact")
            batch.remember(sr)
        sr.collection, sr.etag, sr.uid, sr.alias = collection, etag, rec.uid, rec.alias
        sr.contact_id, sr.org, sr.title = contact.id, rec.org, rec.title
        sr.tier = tier_of(rec.categories, ctx.tier_groups)
        session.add(sr)
        return outcome

    def _merged_into(self, href: str, rec: ContactRecord) -> Contact | None:
        """The contact this card's person was merged into by the user (`nudge merge`), if any."""
        found = self._merged.into(href, rec.uid, rec.name)
        return self.batch.session.get(Contact, found) if found is not None else None

    def _add_card(
        self,
        person: _NewPerson,
        href: str,
        collection: str,
        etag: str,
        rec: ContactRecord,
        keys: list[tuple[str, str]],
    ) -> None:
        """One more card of a person not in the store yet: it claims the identities nobody has."""
        for key in keys:
            owner = self.batch.identities.get(key) or self._claimed.get(key)
            if owner is None:
                self._claimed[key] = person
                person.keys.append(key)
            elif owner is not person:
                log.debug("%s: %s already belongs to another contact", href, key[0])
        self.batch.will_insert(href)
        person.take(
            rec,
            {
                "source": self.batch.source,
                "collection": collection,
                "href": href,
                "kind": "contact",
                "uid": rec.uid,
                "alias": rec.alias,
                "etag": etag,
                "org": rec.org,
                "title": rec.title,
                "tier": tier_of(rec.categories, self.batch.ctx.tier_groups),
                "raw": None,
                "format": "",
                "recheck_at": None,
            },
        )

    def _insert_people(self) -> None:
        """The collected new contacts in one INSERT ... RETURNING; then their identities and records."""
        if not self._people:
            return
        batch = self.batch
        batch.session.flush()
        now = batch.ctx.now
        rows = [{**_CONTACT_DEFAULTS, **p.fields, "created_at": now, "warmth_at": now} for p in self._people]
        inserted = sa.insert(Contact).returning(col(Contact.id), sort_by_parameter_order=True)
        ids = batch.session.execute(inserted, rows).scalars().all()
        for person, cid in zip(self._people, ids, strict=True):
            self.tiers.retier(cid)
            for kind, value in person.keys:
                batch.identities[(kind, value)] = cid
                batch.add_row(Identity, {"contact_id": cid, "kind": kind, "value": value})
                if kind == "email":
                    self.new_emails.add(value)
            for row in person.records:
                batch.add_row(SourceRecord, {**row, "contact_id": cid})
            connected = [f for f in person.facts if f["kind"] == "connected"][:1]  # one per person
            for fact in [f for f in person.facts if f["kind"] != "connected"] + connected:
                batch.add_row(Moment, {**fact, "contact_id": cid})
        self._people.clear()
        self._claimed.clear()

    def removed(self, sr: SourceRecord) -> str | None:
        """A contact's card is gone (its record deleted): archive the contact if no other card holds it."""
        session = self.batch.session
        if sr.contact_id is None:
            return None
        others = session.exec(select(SourceRecord.id).where(SourceRecord.contact_id == sr.contact_id)).first()
        if others is not None:
            self.tiers.retier(sr.contact_id)  # its other cards may name another tier, or none
        contact = session.get(Contact, sr.contact_id)
        if others is None and contact is not None and contact.archived_at is None:
            contact.archived_at = self.batch.ctx.now
            session.add(contact)
            return "archived"
        return None

    def adopt_sightings(self) -> None:
        """Meetings and emails with addresses that just became a contact's turn into touches."""
        batch = self.batch
        batch.flush()
        for chunk in chunks(sorted(self.new_emails)):
            sightings = list(batch.session.exec(select(Sighting).where(col(Sighting.email).in_(chunk))))
            taken = _touched(batch.session, sorted({s.external_id for s in sightings}))
            for sighting in sightings:
                cid = batch.identities[("email", sighting.email)]
                if (cid, sighting.external_id) not in taken:  # else the same event came from elsewhere
                    taken.add((cid, sighting.external_id))
                    batch.session.add(Touch(**batch.touch_row(cid, sighting)))
                    batch.recount(cid)
                batch.session.delete(sighting)
        self.new_emails.clear()
        batch.session.flush()


def _touched(session: Session, externals: list[str]) -> set[tuple[int, str]]:
    """(contact, external id) of the touches with these external ids."""
    found: set[tuple[int, str]] = set()
    for chunk in chunks(externals):
        for cid, ext in session.exec(
            select(Touch.contact_id, Touch.external_id).where(col(Touch.external_id).in_(chunk))
        ):
            found.add((cid, ext or ""))
    return found


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
            keys.update(("linkedin", p) for p in rec.profiles)
            for group in phone_keys(rec.phones, ctx.region):
                keys.update(group)
        elif isinstance(rec, EventRecord):
            for occ in rec.occurrences:
                keys.update(("email", a.email) for a in occ.attendees if a.email)
                if occ.organizer:
                    keys.add(("email", occ.organizer))
    return keys


@dataclass
class Vanished:
    """Cards that left a collection in this sync, for new cards of the same collection to take over.

    A card's key can change while its person does not: a card without UID is keyed by its
    first e-mail (or phone, or name), so a re-export where that changed shows the card gone
    under its old key and new under another; and a server that gives imported cards UIDs of
    its own (Radicale) gives them new ones when the same export is imported again. Before the
    old card is archived, a new card of the same collection takes over its record, so that
    the contact is updated, not archived and duplicated: the vanished card whose contact
    shares most identities with it, or else one with its name, unless the new card has an
    address or phone that is another contact's (then it is that contact's card).
    """

    remove: list[str]  # the plan's removals; a card taken over leaves them
    cards: dict[str, tuple[int, str, set[tuple[str, str]]]]  # href -> (contact, folded name, identities)
    by_key: dict[tuple[str, str], set[str]]  # identity of a vanished card's contact -> hrefs
    by_name: dict[str, set[str]]  # folded name -> hrefs

    @classmethod
    def load(cls, session: Session, source: str, remove: list[str]) -> Vanished | None:
        cards: dict[str, tuple[int, str, set[tuple[str, str]]]] = {}
        by_key: dict[tuple[str, str], set[str]] = {}
        by_name: dict[str, set[str]] = {}
        for chunk in chunks(remove):
            rows = session.exec(
                select(SourceRecord.href, SourceRecord.contact_id, Contact.name)
                .join(Contact, col(Contact.id) == col(SourceRecord.contact_id))
                .where(
                    SourceRecord.source == source,
                    SourceRecord.kind == "contact",
                    col(SourceRecord.href).in_(chunk),
                )
            ).all()
            hrefs: dict[int, list[str]] = {}
            for href, cid, name in rows:
                assert cid is not None
                cards[href] = (cid, fold(name), set())
                by_name.setdefault(fold(name), set()).add(href)
                hrefs.setdefault(cid, []).append(href)
            for cid, kind, value in session.exec(
                select(Identity.contact_id, Identity.kind, Identity.value).where(
                    col(Identity.contact_id).in_(list(hrefs))
                )
            ):
                by_key.setdefault((kind, value), set()).update(hrefs[cid])
                for href in hrefs[cid]:
                    cards[href][2].add((kind, value))
        return cls(remove, cards, by_key, by_name) if cards else None

    def take(self, record: ContactRecord, region: str, owners: Mapping[tuple[str, str], int]) -> str | None:
        """The vanished card `record` replaces, if any; `owners` maps identities to their contacts."""
        phones, typed = phone_keys(record.phones, region)
        keys = {("email", e) for e in record.emails} | set(phones) | set(typed)
        shared: dict[str, int] = {}
        for key in keys:
            for h in self.by_key.get(key, ()):
                shared[h] = shared.get(h, 0) + 1
        href = min(shared, key=lambda h: (-shared[h], h)) if shared else None
        if href is None:
            named = sorted(self.by_name.get(fold(record.name), ()))
            mine = (
                h for h in named if all(owners.get(k, self.cards[h][0]) == self.cards[h][0] for k in keys)
            )
            href = next(mine, None)
        if href is None:
            return None
        _, name, ids = self.cards.pop(href)
        self.by_name[name].discard(href)
        for key in ids:
            self.by_key[key].discard(href)
        self.remove.remove(href)
        return href
