"""A cadence an address book names (`X-NUDGE-CADENCE:14d`, a `cadence:14d` category) onto its contact.

The card's own reading wins over the tier's default; one set with `nudge cadence` wins over
any address book, as `nudge tier` does over groups. A card that stops naming one gives its
contact back the tier's default, if this source had set it. Two address books naming two
cadences for one person: the one read last holds.
"""

from __future__ import annotations

from sqlmodel import col, select

from nudge.core.cadence import book_cadence
from nudge.core.records import ContactRecord
from nudge.ingest.base import Batch
from nudge.store.models import Contact, SourceRecord
from nudge.store.query import chunks


class Cadences:
    """The cadence part of an ingest: what each card of the batch says, applied at its end."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._named: dict[str, int | None] = {}  # href -> the days its card names (None: none)

    def note(self, href: str, rec: ContactRecord) -> None:
        self._named[href] = book_cadence(rec.cadence, rec.categories)

    def finish(self) -> None:
        if not self._named:
            return
        batch = self.batch
        batch.flush()
        mine = f"source:{batch.source}"
        wanted: dict[int, int | None] = {}
        for chunk in chunks(sorted(self._named)):
            rows = batch.session.exec(
                select(SourceRecord.href, SourceRecord.contact_id, Contact.cadence_source)
                .join(Contact, col(Contact.id) == SourceRecord.contact_id)
                .where(SourceRecord.source == batch.source, col(SourceRecord.href).in_(chunk))
            )
            for href, cid, source in rows:
                days = self._named[href]
                if cid is None or source == "cli" or (days is None and source != mine):
                    continue
                if days is not None or cid not in wanted:
                    wanted[cid] = days
        self._named.clear()
        for cid, days in wanted.items():
            contact = batch.session.get(Contact, cid)
            if contact is None or (contact.cadence_days, contact.cadence_source) == (
                days,
                mine if days else None,
            ):
                continue
            contact.cadence_days, contact.cadence_source = days, mine if days else None
            batch.session.add(contact)
