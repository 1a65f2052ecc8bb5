"""Apply parsed records to the store, inside the caller's transaction.

The rules that protect user data live here: a contact is archived, never
deleted; touches logged by hand are never touched; a touch that came from an
event is updated in place, so what the user attached to it stays.

`Ingest` is composed of parts that own their own state: contacts (cards,
identities, new people), tiers (group cards, whose tier to work out again),
events (touches, planned meetings, sightings) and mail (messages). What they
share (the session, the batch's records, rows to insert, warmth to settle) is
a `Batch` (`ingest.base`), changed only through its methods. Ingest works on
records, never on formats: a new format that yields these records needs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session

from nudge.core.records import ContactRecord, EventRecord, GroupRecord, MessageRecord, PhoneRecord
from nudge.ingest.base import Batch, Context, load_identities
from nudge.ingest.cadence import Cadences
from nudge.ingest.contacts import Contacts, Vanished, identity_keys, phone_keys
from nudge.ingest.events import Events
from nudge.ingest.mail import Mail
from nudge.ingest.phone import Phone
from nudge.ingest.tiers import Tiers
from nudge.store.models import SourceRecord

__all__ = ["Context", "Ingest", "Vanished", "identity_keys", "load_identities", "phone_keys"]


class Ingest:
    """One source's view of the store for the length of one transaction.

    `keys` are the identities the batch can touch (its cards' addresses and phones, its
    attendees); None reads them all.
    """

    def __init__(
        self, session: Session, source: str, ctx: Context, keys: Iterable[tuple[str, str]] | None = None
    ) -> None:
        self.batch = Batch(session, source, ctx, load_identities(session, keys))
        self.tiers = Tiers(self.batch, self.remove)
        self.contacts = Contacts(self.batch, self.tiers, self.remove)
        self.events = Events(self.batch)
        self.mail = Mail(self.batch)
        self.phone = Phone(self.batch)
        self.cadences = Cadences(self.batch)

    @property
    def identities(self) -> dict[tuple[str, str], int]:
        return self.batch.identities

    def preload(self, hrefs: list[str]) -> None:
        self.batch.preload(hrefs)

    def record(self, href: str) -> SourceRecord | None:
        return self.batch.record(href)

    def prepare(self, records: Iterable[ContactRecord | GroupRecord | EventRecord]) -> None:
        """Before a batch of records is applied: which of its events nothing in the store knows yet."""
        self.events.find_fresh(r.uid for r in records if isinstance(r, EventRecord))

    def apply(
        self,
        collection: str,
        href: str,
        etag: str,
        data: str,
        fmt: str,
        record: ContactRecord | GroupRecord | EventRecord,
        vanished: Vanished | None = None,
    ) -> tuple[str, str]:
        """Apply one record: (what it was: contact, group or event; outcome: added, merged, changed, ...).

        A new card may take over the record of one that `vanished` from its collection
        in the same sync (its key changed, its person did not).
        """
        if isinstance(record, ContactRecord):
            if vanished is not None and self.batch.record(href) is None:
                old = vanished.take(record, self.batch.ctx.region, self.batch.identities)
                if old is not None:
                    self.contacts.rekey(old, href)
            outcome = self.contacts.upsert(collection, href, etag, record)
            self.cadences.note(href, record)
            return "contact", outcome
        if isinstance(record, GroupRecord):
            return "group", self.tiers.upsert_group(collection, href, etag, record)
        return "event", self.events.upsert(collection, href, etag, data, record, fmt)

    def apply_messages(self, records: Sequence[MessageRecord]) -> int:
        """Touches and sightings for a batch of messages; how many messages gave anything new."""
        return self.mail.apply(records)

    def apply_phone(self, records: Sequence[PhoneRecord]) -> int:
        """Touches and moments for a batch of calls and texts; how many entries gave anything new."""
        return self.phone.apply(records)

    @property
    def unmatched_numbers(self) -> set[tuple[str, datetime, str]]:
        """Calls and texts that would count, from numbers no contact holds (number, minute, kind)."""
        return self.phone.unmatched

    def upsert_event(
        self, collection: str, href: str, etag: str, raw: str, rec: EventRecord, fmt: str = "ical"
    ) -> str:
        return self.events.upsert(collection, href, etag, raw, rec, fmt)

    def remove(self, href: str) -> str | None:
        """Forget `href`: archive its contact if no other record holds it, or drop its event's rows."""
        batch = self.batch
        sr = batch.record(href)
        if sr is None:
            return None
        batch.flush()
        batch.forget(href)
        batch.session.delete(sr)
        batch.session.flush()
        if sr.kind == "event":
            self.events.clear(sr.uid)
            return "removed"
        if sr.kind == "group":
            self.tiers.removed(href)
            return None
        return self.contacts.removed(sr)

    @property
    def unparsed_phones(self) -> int:
        return self.contacts.unparsed_phones

    def finish(self) -> None:
        """End of the batch: insert what is pending, tiers, adopted sightings, warmth."""
        self.batch.flush()
        self.cadences.finish()
        self.tiers.finish()
        self.contacts.adopt_sightings()
        self.batch.settle_warmth()
