"""Rows of exports (contacts CSVs) in one batch: merging by a unique name, job changes, dated facts.

An export row (`ContactRecord.origin` set) may merge with a contact by folded full name, but
only when the name is unique in its file (`name_unique`, told by the parser) and among the
contacts (stored ones, and new ones of this batch), and not with someone who already has
another LinkedIn profile: two people of one name stay apart. Its job change compares it with
the last reading of the same row, which a re-export in a new folder gives under a new href
but the same UID (`previous`); an export older than that one (by the date in its folder's
name) is no job change and does not set the job. The name match and LinkedIn's `Connected On` become facts:
Moment rows that are seen from the start, so `show` lists them and the digest never does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import col

from nudge.core.identity import name_key
from nudge.core.records import ContactRecord
from nudge.ingest.base import Batch
from nudge.parse.csv_contacts import DIALECTS, export_date
from nudge.store.models import Contact, Identity, Moment, SourceRecord

P = TypeVar("P")  # a contact of this batch that has no id yet


def job_was(old_org: str | None, old_title: str | None, org: str | None) -> str:
    """'was Head of Partnerships' (same company), 'was COO at Litware': the reading before a change."""
    if old_title and old_org and old_org != org:
        return f"was {old_title} at {old_org}"
    return f"was {old_title}" if old_title else f"was at {old_org}"


def facts(rec: ContactRecord, now: datetime, matched: bool) -> list[dict[str, Any]]:
    """An export row's dated facts as Moment rows (seen: facts for `show`, never the digest's moments)."""
    out = []
    if matched:
        detail = f"by name with {rec.name} in the {rec.origin}"
        out.append({"kind": "matched", "detail": detail, "at": now, "seen_at": now})
    if rec.connected_on:
        at = datetime.combine(datetime.fromisoformat(rec.connected_on).date(), time(12), UTC)
        out.append({"kind": "connected", "detail": "on LinkedIn", "at": at, "seen_at": now})
    return out


class ExportRows(Generic[P]):
    """The contacts part's help with export rows, for one batch."""

    def __init__(
        self,
        batch: Batch,
        people: Callable[[], Iterable[P]],
        profiles: Callable[[P], list[str]],
    ) -> None:
        self.batch = batch
        self._people = people  # the contacts new in this batch (each with a `name`)
        self._profiles = profiles  # a new person's LinkedIn profiles
        # what the store says, read once per batch when first needed
        self._names: dict[str, list[int | P]] | None = None  # name_key -> contacts
        self._linkedin: dict[int, list[str]] | None = None  # contact -> LinkedIn profiles
        self._readings: dict[str, list[Reading]] | None = None  # export row's UID -> readings, newest first
        self._connected: set[int] | None = None  # contacts with a connection date

    def added(self, name: str, person: P) -> None:
        """A contact new in this batch: it counts when names are compared."""
        if self._names is not None:
            self._names.setdefault(name_key(name), []).append(person)

    def by_name(self, rec: ContactRecord) -> int | P | None:
        """The one contact (stored, or new in this batch) whose folded name is this row's, if only one."""
        session = self.batch.session
        if self._names is None or self._linkedin is None:
            self._names, self._linkedin = {}, {}
            for cid, name in session.execute(
                sa.select(col(Contact.id), col(Contact.name)).where(col(Contact.archived_at).is_(None))
            ):
                self._names.setdefault(name_key(name), []).append(cid)
            for person in self._people():
                self._names.setdefault(name_key(getattr(person, "name", "")), []).append(person)
            linked = sa.select(col(Identity.contact_id), col(Identity.value)).where(
                col(Identity.kind) == "linkedin"
            )
            for cid, value in session.execute(linked):
                self._linkedin.setdefault(cid, []).append(value)
        key = name_key(rec.name)
        found = self._names.get(key, []) if key else []
        if len(found) != 1:
            return None
        match = found[0]
        theirs = self._linkedin.get(match, []) if isinstance(match, int) else self._profiles(match)
        if rec.profiles and theirs and rec.profiles[0] not in theirs:
            return None
        return match

    def previous(self, uid: str, href: str) -> Reading | None:
        """The last reading of the same export row from another file of this source (an earlier export)."""
        if self._readings is None:
            self._readings = {}
            t = SourceRecord
            rows = sa.select(col(t.uid), col(t.href), col(t.org), col(t.title)).where(
                col(t.source) == self.batch.source,
                col(t.kind) == "contact",
                sa.or_(*(col(t.uid).startswith(f"{d}:") for d in DIALECTS)),
            )
            for uid_, href_, org, title in self.batch.session.execute(rows.order_by(col(t.id).desc())):
                self._readings.setdefault(uid_, []).append(Reading(href_, org, title))
        return next((r for r in self._readings.get(uid, ()) if r.href != href), None)

    @staticmethod
    def older(href: str, than: str) -> bool:
        """Whether the export `href` is in was made before the one `than` is in (by their folder names)."""
        mine, theirs = export_date(href), export_date(than)
        return mine is not None and theirs is not None and mine < theirs

    def add_facts(self, cid: int, rec: ContactRecord, matched: bool) -> None:
        """An export row's facts for a stored contact; a connection date is kept once."""
        if self._connected is None:
            known = sa.select(col(Moment.contact_id)).where(col(Moment.kind) == "connected").distinct()
            self._connected = set(self.batch.session.execute(known).scalars())
        for fact in facts(rec, self.batch.ctx.now, matched):
            if fact["kind"] == "connected":
                if cid in self._connected:
                    continue
                self._connected.add(cid)
            self.batch.session.add(Moment(contact_id=cid, **fact))


@dataclass(frozen=True)
class Reading:
    """One stored reading of an export row: where, and the job it gave."""

    href: str
    org: str | None
    title: str | None
