"""Apply parsed records to the store, inside the caller's transaction.

The rules that protect user data live here: a contact is archived, never
deleted; touches logged by hand are never touched; a touch that came from an
event is updated in place, so what the user attached to it stays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nudge.identity import normalise_phone
from nudge.ingest_tiers import contacts_of, refresh_tiers, tier_of
from nudge.models import (
    Contact,
    GroupMember,
    Identity,
    Moment,
    Planned,
    Sighting,
    SourceRecord,
    Touch,
)
from nudge.parse import ContactRecord, EventRecord, GroupRecord
from nudge.parse_email import MailRules
from nudge.touches import Effect, Rules, event_effects, recheck_at
from nudge.warmth import touch_sum

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


def uid_range(uid: str) -> tuple[str, str]:
    """Bounds of the external ids `uid|...`, for an index-friendly prefix match."""
    return f"{uid}|", f"{uid}}}"


class Ingest:
    """One source's view of the store for the length of one transaction."""

    def __init__(self, session: Session, source: str, ctx: Context) -> None:
        self.session = session
        self.source = source
        self.ctx = ctx
        self.identities: dict[tuple[str, str], int] = {
            (kind, value): cid
            for kind, value, cid in session.exec(select(Identity.kind, Identity.value, Identity.contact_id))
        }
        self._records: dict[str, SourceRecord] = {}
        self._absent: set[str] = set()  # preloaded hrefs with no record yet
        self.dirty: set[int] = set()  # contacts whose touches changed
        self._fresh: set[str] = set()  # event UIDs with no rows anywhere (see find_fresh)
        self.new_emails: set[str] = set()
        self.retier: set[int] = set()  # contacts whose tier may have changed
        self.regroup: set[str] = set()  # group members (member keys) whose groups changed

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
        return self.session.exec(
            select(SourceRecord).where(SourceRecord.source == self.source, SourceRecord.href == href)
        ).first()

    # --- contacts -------------------------------------------------------

    def upsert_contact(self, collection: str, href: str, etag: str, rec: ContactRecord) -> str:
        """Create or update the contact behind `href`; returns 'added' or 'changed'."""
        ctx, now = self.ctx, self.ctx.now
        sr = self.record(href)
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
        phones = [p for p in (normalise_phone(t, ctx.region) for t in rec.phones) if p]
        keys = [("email", e) for e in emails] + [("phone", p) for p in dict.fromkeys(phones)]
        contact: Contact | None = None
        if sr is not None and sr.contact_id is not None:
            contact = self.session.get(Contact, sr.contact_id)
        if contact is None:
            for key in keys:
                if key in self.identities:
                    contact = self.session.get(Contact, self.identities[key])
                    break
        outcome = "changed" if sr is not None else "added"
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
        for key in keys:
            owner = self.identities.get(key)
            if owner is None:
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
        sr.collection, sr.etag, sr.uid = collection, etag, rec.uid
        sr.contact_id, sr.org, sr.title = contact.id, rec.org, rec.title
        sr.tier = tier_of(rec.categories, ctx.tier_groups)
        self.session.add(sr)
        return outcome

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

    # --- events ---------------------------------------------------------

    def upsert_event(
        self, collection: str, href: str, etag: str, raw: str, rec: EventRecord, fmt: str = "ical"
    ) -> str:
        sr = self.record(href)
        outcome = "changed" if sr is not None else "added"
        if sr is not None and sr.uid and sr.uid != rec.uid:
            self._clear_event(sr.uid)
        effects = event_effects(rec, self.ctx.rules, self.ctx.now)
        if sr is None and rec.uid in self._fresh:
            self._insert_effects(rec.uid, effects)
        else:
            self._apply_effects(rec.uid, effects)
        if sr is None:
            sr = SourceRecord(source=self.source, href=href, kind="event")
            self._records[href] = sr
            self._absent.discard(href)
        when = recheck_at(rec, self.ctx.now, self.ctx.rules.planned_days)
        sr.collection, sr.etag, sr.uid = collection, etag, rec.uid
        sr.recheck_at = when
        sr.raw = raw if when is not None else None
        sr.format = fmt
        self.session.add(sr)
        return outcome

    def find_fresh(self, uids: Iterable[str]) -> None:
        """Note which event UIDs have no touch, planned meeting or sighting anywhere yet.

        A first sync is almost all such events; they can be inserted without the
        queries that diffing against existing rows needs. A few queries per
        batch instead of several per event.
        """
        todo = sorted(set(uids))
        fresh = set(todo)
        for start in range(0, len(todo), 200):
            chunk = todo[start : start + 200]
            ranges = [
                sa.and_(col(Touch.external_id) >= lo, col(Touch.external_id) < hi)
                for lo, hi in map(uid_range, chunk)
            ]
            for external in self.session.exec(select(Touch.external_id).where(sa.or_(*ranges))):
                fresh.discard((external or "").rpartition("|")[0])
            planned = select(Planned.event_uid).where(col(Planned.event_uid).in_(chunk))
            sighted = select(Sighting.event_uid).where(col(Sighting.event_uid).in_(chunk))
            taken: list[str] = [*self.session.exec(planned), *self.session.exec(sighted)]
            fresh.difference_update(taken)
        self._fresh = fresh

    def _insert_effects(self, uid: str, effects: Iterable[Effect]) -> None:
        """`_apply_effects` for an event nothing in the store knows yet: add, nothing to compare."""
        self._fresh.discard(uid)  # the next object with this UID takes the careful path
        # The same keys the careful path dedupes on: one row per person (or
        # address) and occurrence, even when a contact attends with two addresses.
        seen: set[tuple[str, object, str]] = set()
        for e in effects:
            cid = self.identities.get(("email", e.email))
            key = (
                "planned" if e.planned else "touch" if cid is not None else "sighting",
                cid if cid is not None else e.email,
                e.external_id,
            )
            if key in seen or (e.planned and cid is None):
                continue
            seen.add(key)
            if e.planned:
                assert cid is not None
                self.session.add(self._planned(cid, uid, e))
            elif cid is None:
                self.session.add(self._sighting(uid, e))
            else:
                self.session.add(self._meeting(cid, self.source, e))
                self.dirty.add(cid)

    def _apply_effects(self, uid: str, effects: Iterable[Effect]) -> None:
        lo, hi = uid_range(uid)
        s = self.session
        existing = {
            (t.contact_id, t.external_id): t
            for t in s.exec(
                select(Touch).where(
                    Touch.source == self.source,
                    col(Touch.external_id) >= lo,
                    col(Touch.external_id) < hi,
                )
            )
        }
        s.execute(sa.delete(Planned).where(Planned.source == self.source, Planned.event_uid == uid))  # type: ignore[arg-type]
        s.execute(sa.delete(Sighting).where(Sighting.source == self.source, Sighting.event_uid == uid))  # type: ignore[arg-type]
        s.flush()
        planned = {
            (cid, ext)
            for cid, ext in s.exec(
                select(Planned.contact_id, Planned.external_id).where(
                    col(Planned.external_id) >= lo, col(Planned.external_id) < hi
                )
            )
        }
        wanted: set[tuple[int, str | None]] = set()
        for e in effects:
            cid = self.identities.get(("email", e.email))
            if e.planned:
                if cid is not None and (cid, e.external_id) not in planned:
                    planned.add((cid, e.external_id))
                    s.add(self._planned(cid, uid, e))
                continue
            if cid is None:
                s.add(self._sighting(uid, e))
                continue
            key = (cid, e.external_id)
            if key in wanted:
                continue
            wanted.add(key)
            touch = existing.get(key)
            if touch is None:
                if not self._taken(cid, e.external_id):  # else the same event came from another source first
                    s.add(self._meeting(cid, self.source, e))
                    self.dirty.add(cid)
                continue
            if (touch.at, touch.weight, touch.direction, touch.summary) != (
                e.at,
                e.weight,
                e.direction,
                e.summary,
            ):
                touch.at, touch.weight, touch.direction, touch.summary = (
                    e.at,
                    e.weight,
                    e.direction,
                    e.summary,
                )
                s.add(touch)
                self.dirty.add(cid)
        for old_key, touch in existing.items():
            if old_key not in wanted:
                s.delete(touch)
                self.dirty.add(touch.contact_id)
        s.flush()

    def _meeting(self, cid: int, source: str, seen: Effect | Sighting) -> Touch:
        """The touch a past meeting (or, for a sighting, an email) gives a contact."""
        return Touch(
            contact_id=cid,
            kind=seen.kind if isinstance(seen, Sighting) else "meeting",
            source=source,
            external_id=seen.external_id,
            at=seen.at,
            weight=seen.weight,
            direction=seen.direction,
            summary=seen.summary,
            created_at=self.ctx.now,
        )

    def _sighting(self, uid: str, e: Effect) -> Sighting:
        """A past meeting with an address that is no contact's (yet)."""
        return Sighting(
            email=e.email,
            source=self.source,
            event_uid=uid,
            external_id=e.external_id,
            at=e.at,
            weight=e.weight,
            direction=e.direction,
            summary=e.summary,
        )

    def _planned(self, cid: int, uid: str, e: Effect) -> Planned:
        return Planned(
            contact_id=cid,
            source=self.source,
            event_uid=uid,
            external_id=e.external_id,
            at=e.at,
            summary=e.summary,
        )

    def _taken(self, cid: int, external: str) -> bool:
        return (
            self.session.exec(
                select(Touch.id).where(Touch.contact_id == cid, Touch.external_id == external)
            ).first()
            is not None
        )

    def _clear_event(self, uid: str) -> None:
        self._apply_effects(uid, [])

    # --- removals ----------------------------------------------------------

    def remove(self, href: str) -> str | None:
        """Forget `href`: archive its contact if no other record holds it, or drop its event's rows."""
        sr = self.record(href)
        if sr is None:
            return None
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
        for email in sorted(self.new_emails):
            cid = self.identities[("email", email)]
            for sighting in self.session.exec(select(Sighting).where(Sighting.email == email)):
                if not self._taken(cid, sighting.external_id):
                    self.session.add(self._meeting(cid, sighting.source, sighting))
                    self.dirty.add(cid)
                self.session.delete(sighting)
        self.new_emails.clear()
        self.session.flush()

    def finish(self) -> None:
        if self.regroup:
            self.retier |= contacts_of(self.session, self.source, self.regroup)
        refresh_tiers(self.session, self.source, self.retier, self.ctx.tier_groups, self.ctx.now)
        self.retier.clear()
        self.regroup.clear()
        self.adopt_sightings()
        refresh_contacts(self.session, self.dirty, self.ctx.now, self.ctx.half_life_days)
        self.dirty.clear()


def refresh_contacts(session: Session, ids: Iterable[int], now: datetime, half_life_days: float) -> None:
    """Recompute the denormalised last touch and warmth sum of these contacts."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows: dict[int, list[tuple[datetime, float]]] = {cid: [] for cid in chunk}
        for cid, at, weight in session.exec(
            select(Touch.contact_id, Touch.at, Touch.weight).where(col(Touch.contact_id).in_(chunk))
        ):
            rows[cid].append((at, weight))
        for cid, touches in rows.items():
            past = [t for t in touches if t[0] <= now]
            session.execute(
                sa.update(Contact)
                .where(col(Contact.id) == cid)
                .values(
                    last_touch_at=max((t[0] for t in past), default=None),
                    warmth_sum=touch_sum(past, now, half_life_days),
                    warmth_at=now,
                )
            )
