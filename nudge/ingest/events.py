"""Events into touches, planned meetings and sightings: the events part of an ingest.

Two ways in. An event no row anywhere knows yet (most of a first sync; see
`find_fresh`) only adds rows: they are collected as plain dicts and inserted with
one executemany per table when the batch finishes or anything needs to read them,
and its contacts' warmth is rolled forward and added to instead of recounted. Any
other event is compared with its rows and updated in place, so what the user
attached to a synced meeting stays.

What the user added to a touch (an outcome, a note) is never deleted by a sync.
A touch the event no longer gives (cancelled, declined, deleted, the person taken
off it, its file gone) goes, unless it carries such data: then it becomes the
user's (source "cli", `origin` the source it came from), with its date, and
returns to the event should the event come back. An event that another source
(or another object of this one) still holds is handed to that one instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from nudge.core.records import EventRecord
from nudge.core.touches import Effect, event_effects, match, recheck_at, same_meeting
from nudge.ingest.base import Batch
from nudge.store.models import Planned, Sighting, SourceRecord, Touch
from nudge.store.query import chunks


def uid_range(uid: str) -> tuple[str, str]:
    """Bounds of the external ids `uid|...`, for an index-friendly prefix match."""
    return f"{uid}|", f"{uid}}}"


class Events:
    """The events part of an ingest: calendar objects in, touches, planned meetings, sightings out."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.session = batch.session
        self.source = batch.source
        self.ctx = batch.ctx
        self._fresh: set[str] = set()  # event UIDs with no rows anywhere (see find_fresh)

    def upsert(
        self, collection: str, href: str, etag: str, raw: str, rec: EventRecord, fmt: str = "ical"
    ) -> str:
        sr = self.batch.record(href)
        outcome = "changed" if sr is not None else "added"
        old_uid = sr.uid if sr is not None and sr.uid and sr.uid != rec.uid else ""
        effects = event_effects(rec, self.ctx.rules, self.ctx.now)
        when = recheck_at(rec, self.ctx.now, self.ctx.rules.planned_days)
        if sr is None and rec.uid in self._fresh:
            self._insert_effects(rec.uid, effects)
            self.batch.will_insert(href)  # a later lookup reads the inserted row
            self.batch.add_row(
                SourceRecord,
                {
                    **_RECORD_DEFAULTS,
                    "source": self.source,
                    "collection": collection,
                    "href": href,
                    "uid": rec.uid,
                    "etag": etag,
                    "raw": raw if when is not None else None,
                    "format": fmt,
                    "recheck_at": when,
                },
            )
            return outcome
        self._apply_effects(rec.uid, effects)
        if sr is None:
            sr = SourceRecord(source=self.source, href=href, kind="event")
            self.batch.remember(sr)
        sr.collection, sr.etag, sr.uid = collection, etag, rec.uid
        sr.recheck_at = when
        sr.raw = raw if when is not None else None
        sr.format = fmt
        self.session.add(sr)
        if old_uid:  # after the new UID's touches exist: what the user added moves onto them
            self.session.flush()
            self.clear(old_uid)
        return outcome

    def find_fresh(self, uids: Iterable[str]) -> None:
        """Note which event UIDs have no touch, planned meeting or sighting anywhere yet.

        A first sync is almost all such events; they can be inserted without the
        queries that diffing against existing rows needs. A few queries per
        batch instead of several per event.
        """
        self.batch.flush()
        todo = sorted(set(uids))
        fresh = set(todo)
        db = self.session
        for chunk in chunks(todo, _FRESH_CHUNK):
            padded = chunk + chunk[-1:] * (_FRESH_CHUNK - len(chunk))  # one statement shape, compiled once
            bounds = {
                f"{b}{i}": v
                for i, uid in enumerate(padded)
                for b, v in zip("lh", uid_range(uid), strict=True)
            }
            for (external,) in db.execute(_TOUCHED, bounds):
                fresh.discard((external or "").rpartition("|")[0])
            for (uid,) in db.execute(_KNOWN, {"uids": chunk}):
                fresh.discard(uid)
        self._fresh = fresh

    def _insert_effects(self, uid: str, effects: Iterable[Effect]) -> None:
        """`_apply_effects` for an event nothing in the store knows yet: add, nothing to compare."""
        self._fresh.discard(uid)  # the next object with this UID takes the careful path
        # The same keys the careful path dedupes on: one row per person (or
        # address) and occurrence, even when a contact attends with two addresses.
        seen: set[tuple[str, object, str]] = set()
        for e in effects:
            cid = self.batch.identities.get(("email", e.email))
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
                self.batch.add_row(Planned, self._planned(cid, uid, e))
            elif cid is None:
                self.batch.add_row(Sighting, self._sighting(uid, e))
            else:
                self.batch.add_row(Touch, self.batch.touch_row(cid, e))
                self.batch.gain(cid, e.at, e.weight)

    def _apply_effects(self, uid: str, effects: Iterable[Effect], gone: bool = False) -> None:
        """Make this source's rows of event `uid` say what `effects` say.

        A touch is updated in place, under its new key when the event changed
        shape (a one-off turned series or back, or a key stored before one-off
        keys lost their start). A touch the event no longer gives is dropped
        (`_drop`). Touches from before the history window are left alone unless
        the event is `gone`: the event was not read that far back.
        """
        self.batch.flush()
        lo, hi = uid_range(uid)
        s = self.session
        mine: dict[int, list[Touch]] = {}  # this source's touches of the event, per contact
        theirs: dict[int, list[Touch]] = {}  # other sources' and the user's kept ones
        for t in s.exec(select(Touch).where(col(Touch.external_id) >= lo, col(Touch.external_id) < hi)):
            owned = t.source == self.source and t.origin is None
            (mine if owned else theirs).setdefault(t.contact_id, []).append(t)
        s.execute(sa.delete(Planned).where(Planned.source == self.source, Planned.event_uid == uid))  # type: ignore[arg-type]
        s.execute(sa.delete(Sighting).where(Sighting.source == self.source, Sighting.event_uid == uid))  # type: ignore[arg-type]
        s.flush()
        planned: dict[int, list[str]] = {}  # what other sources already plan, so the same event counts once
        for who, ext in s.exec(
            select(Planned.contact_id, Planned.external_id).where(
                col(Planned.external_id) >= lo, col(Planned.external_id) < hi
            )
        ):
            planned.setdefault(who, []).append(ext)
        sighted: dict[str, list[str]] = {}
        for email, ext in s.exec(
            select(Sighting.email, Sighting.external_id).where(Sighting.event_uid == uid)
        ):
            sighted.setdefault(email, []).append(ext)
        wanted: dict[tuple[int, str], Effect] = {}
        for e in effects:
            cid = self.batch.identities.get(("email", e.email))
            if e.planned:
                if cid is not None and _first(planned.setdefault(cid, []), e.external_id):
                    s.add(Planned(**self._planned(cid, uid, e)))
            elif cid is None:
                if _first(sighted.setdefault(e.email, []), e.external_id):
                    s.add(Sighting(**self._sighting(uid, e)))
            else:
                wanted.setdefault((cid, e.external_id), e)
        todo: list[tuple[int, Effect]] = []
        for (cid, key), e in wanted.items():  # the same occurrence first, so no looser match takes it
            touch = next((t for t in mine.get(cid, []) if t.external_id == key), None)
            if touch is None:
                todo.append((cid, e))
            else:
                mine[cid].remove(touch)
                self._update(touch, e)
        since = self.ctx.now - timedelta(days=self.ctx.rules.history_days)
        for cid, e in sorted(todo, key=lambda ce: ce[1].at):
            judged = [t for t in mine.get(cid, []) if gone or t.at >= since]
            if (touch := match(judged, e.external_id, e.at)) is not None:
                mine[cid].remove(touch)
            elif (touch := match(theirs.get(cid, []), e.external_id, e.at)) is not None:
                if touch.origin is None:
                    continue  # the same event came from another source first
                theirs[cid].remove(touch)  # kept by the user when the event went: it is back
                touch.source, touch.origin = self.source, None
            else:
                s.add(Touch(**self.batch.touch_row(cid, e)))
                self.batch.recount(cid)
                continue
            self._update(touch, e)
        dropped = [t for left in mine.values() for t in left if gone or t.at >= since]
        for touch in dropped:
            self._drop(touch, dropped)
        s.flush()

    def _update(self, touch: Touch, e: Effect) -> None:
        new = (e.external_id, e.at, e.weight, e.direction, e.summary)
        if (touch.external_id, touch.at, touch.weight, touch.direction, touch.summary) != new:
            touch.external_id, touch.at, touch.weight, touch.direction, touch.summary = new
            self.session.add(touch)
            self.batch.recount(touch.contact_id)

    def _drop(self, touch: Touch, dropping: list[Touch]) -> None:
        """A touch its event no longer gives: deleted, unless the user added to it.

        Then what they added moves onto a synced touch of the same person at the
        same moment (the same meeting under another UID), or the touch becomes
        theirs, marked with where it came from.
        """
        s = self.session
        if not touch.has_user_data:
            s.delete(touch)
            self.batch.recount(touch.contact_id)
            return
        twins = s.exec(
            select(Touch).where(
                Touch.contact_id == touch.contact_id,
                Touch.at == touch.at,
                Touch.kind == touch.kind,
                col(Touch.external_id).is_not(None),
                col(Touch.origin).is_(None),
            )
        )
        going = {t.id for t in dropping}
        twin = next((t for t in twins if t.id not in going and not t.has_user_data), None)
        if twin is not None:
            twin.note, twin.outcome = touch.note, touch.outcome
            s.add(twin)
            s.delete(touch)
            self.batch.recount(touch.contact_id)
            return
        touch.source, touch.origin = "cli", self.source
        s.add(touch)

    def _sighting(self, uid: str, e: Effect) -> dict[str, Any]:
        """A past meeting with an address that is no contact's (yet)."""
        return {
            "email": e.email,
            "source": self.source,
            "event_uid": uid,
            "external_id": e.external_id,
            "at": e.at,
            "weight": e.weight,
            "direction": e.direction,
            "summary": e.summary,
            "kind": "meeting",
        }

    def _planned(self, cid: int, uid: str, e: Effect) -> dict[str, Any]:
        return {
            "contact_id": cid,
            "source": self.source,
            "event_uid": uid,
            "external_id": e.external_id,
            "at": e.at,
            "summary": e.summary,
        }

    def clear(self, uid: str) -> None:
        """This source's object holding event `uid` is gone (its record already deleted).

        If another record still holds the UID (another source, or another
        collection of this one) the event is not gone: its rows pass to that
        source, and a stored copy is looked at again with this sync. Otherwise
        its rows go, except what the user added to (`_drop`).
        """
        self.batch.flush()
        s = self.session
        holders = list(
            s.exec(select(SourceRecord).where(SourceRecord.kind == "event", SourceRecord.uid == uid))
        )
        if not holders:
            self._apply_effects(uid, [], gone=True)
            return
        heir = next((r for r in holders if r.source == self.source), holders[0])
        if heir.source != self.source:  # ORM updates: the objects this session holds follow
            lo, hi = uid_range(uid)
            ours = sa.and_(
                col(Touch.external_id) >= lo, col(Touch.external_id) < hi, col(Touch.origin).is_(None)
            )
            s.execute(
                sa.update(Touch).where(col(Touch.source) == self.source, ours).values(source=heir.source)
            )
            for model in (Planned, Sighting):
                mine = sa.and_(col(model.source) == self.source, col(model.event_uid) == uid)
                s.execute(sa.update(model).where(mine).values(source=heir.source))
        for r in holders:
            if r.raw is not None:
                r.recheck_at = self.ctx.now
                s.add(r)


def _first(seen: list[str], key: str) -> bool:
    """Whether no row of `seen` is this meeting yet (then it is: `key` joins them)."""
    if any(same_meeting(k, key) for k in seen):
        return False
    seen.append(key)
    return True


_FRESH_CHUNK = 200
_external = col(Touch.external_id)
# Touches whose external id starts with one of the chunk's UIDs (each a range on the index).
_TOUCHED = sa.select(_external).where(
    sa.or_(
        *(
            sa.and_(_external >= sa.bindparam(f"l{i}"), _external < sa.bindparam(f"h{i}"))
            for i in range(_FRESH_CHUNK)
        )
    )
)
_KNOWN = sa.union_all(
    sa.select(col(Planned.event_uid)).where(col(Planned.event_uid).in_(sa.bindparam("uids", expanding=True))),
    sa.select(col(Sighting.event_uid)).where(
        col(Sighting.event_uid).in_(sa.bindparam("uids", expanding=True))
    ),
)

# Every SourceRecord column a fresh event's row leaves at its default: executemany wants one shape.
_RECORD_DEFAULTS: dict[str, Any] = {
    "kind": "event",
    "contact_id": None,
    "org": None,
    "title": None,
    "tier": None,
    "alias": "",
}
