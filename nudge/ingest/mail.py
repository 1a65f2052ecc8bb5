"""Messages into touches, inside the caller's transaction; and the unanswered-email moment.

A message is never stored, only what it means: an `email` touch per contact
(or a sighting per address nobody has yet). The touch's external id is the
Message-ID, so the same message seen in two folders, after a UIDVALIDITY
change, or from IMAP and Gmail at once is one touch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nudge.core.records import MessageRecord
from nudge.core.touches import MailTouch, message_touches
from nudge.ingest.base import Batch
from nudge.ingest.jobmail import JobMail
from nudge.store.models import Contact, Moment, Sighting, Touch
from nudge.store.query import chunks

UNANSWERED_LOOKBACK_DAYS = 30  # an older unanswered email is history, not a reason to call


class Mail:
    """The mail part of an ingest: messages in, touches and sightings out (never the messages)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.jobs = JobMail(batch)

    def apply(self, records: Sequence[MessageRecord]) -> int:
        """Touches and sightings for a batch; returns how many messages gave anything new.

        Messages only ever add touches, so rows go in by bulk insert and each
        contact's warmth is rolled forward and added to instead of recomputed
        from all its touches: a first scan of a large mailbox stays linear.
        """
        batch = self.batch
        ctx = batch.ctx
        effects = {rec.message_id: message_touches(rec, ctx.mail, ctx.now) for rec in records}
        externals = sorted({t.external_id for touches in effects.values() for t in touches})
        touched, sighted = _existing(batch.session, externals)
        touches_out: list[dict[str, object]] = []
        sightings_out: list[dict[str, object]] = []
        added = 0
        names = {rec.message_id: rec.sender_name for rec in records}
        for mid, touches in effects.items():
            new = False
            for t in touches:
                cid = batch.identities.get(("email", t.email))
                if cid is None and t.direction == "in" and names[mid]:
                    self.jobs.named(names[mid], t.email, t.at)  # a known person's new address?
                if cid is None:
                    if (t.email, t.external_id) not in sighted:
                        sighted.add((t.email, t.external_id))
                        sightings_out.append(_sighting(batch.source, t))
                        new = True
                elif (cid, t.external_id) not in touched:
                    self.jobs.seen(cid, t.email, t.direction, t.at)
                    touched.add((cid, t.external_id))
                    touches_out.append(_touch(cid, batch.source, t, ctx.now))
                    batch.gain(cid, t.at, t.weight)
                    new = True
            added += new
        for rec in records:
            if rec.bounced:
                self.jobs.bounced(rec.bounced, rec.at)
        session = batch.session
        added += bool(self.jobs.finish())
        session.flush()  # what the ORM holds goes first, so the bulk rows see it
        if touches_out:
            session.execute(sa.insert(Touch), touches_out)
        if sightings_out:
            session.execute(sa.insert(Sighting), sightings_out)
        return added


def _existing(session: Session, externals: list[str]) -> tuple[set[tuple[int, str]], set[tuple[str, str]]]:
    touched: set[tuple[int, str]] = set()
    sighted: set[tuple[str, str]] = set()
    for chunk in chunks(externals):
        for cid, ext in session.exec(
            select(Touch.contact_id, Touch.external_id).where(col(Touch.external_id).in_(chunk))
        ):
            touched.add((cid, ext or ""))
        for email, ext in session.exec(  # a mail sighting's event_uid is its external id, and indexed
            select(Sighting.email, Sighting.external_id).where(col(Sighting.event_uid).in_(chunk))
        ):
            sighted.add((email, ext))
    return touched, sighted


def _touch(cid: int, source: str, t: MailTouch, now: datetime) -> dict[str, object]:
    return {
        "contact_id": cid,
        "kind": "email",
        "source": source,
        "external_id": t.external_id,
        "at": t.at,
        "weight": t.weight,
        "direction": t.direction,
        "summary": t.summary,
        "created_at": now,
    }


def _sighting(source: str, t: MailTouch) -> dict[str, object]:
    return {
        "email": t.email,
        "source": source,
        "event_uid": t.external_id,
        "external_id": t.external_id,
        "at": t.at,
        "weight": t.weight,
        "direction": t.direction,
        "summary": t.summary,
        "kind": "email",
    }


# --- unanswered email --------------------------------------------------------------


def note_unanswered(session: Session, tiers: Iterable[str], now: datetime, days: int, tz: tzinfo) -> int:
    """Moments for emails from people in a tier that got no answer; resolve the answered ones.

    Any later touch from the user's side (a reply, a call, a meeting) is an
    answer; a reminder older than the lookback expires. Returns how many new
    moments were noted.
    """
    since = now - timedelta(days=UNANSWERED_LOOKBACK_DAYS)
    opened = list(session.exec(select(Moment).where(Moment.kind == "inbound", col(Moment.seen_at).is_(None))))
    tiered = select(Contact.id).where(col(Contact.tier).in_(list(tiers)), col(Contact.archived_at).is_(None))
    last_in = dict(
        session.exec(
            select(Touch.contact_id, func.max(Touch.at))
            .where(
                Touch.kind == "email",
                Touch.direction == "in",
                col(Touch.at) >= since,
                col(Touch.at) <= now,
                col(Touch.contact_id).in_(tiered),
            )
            .group_by(col(Touch.contact_id))
        ).all()
    )
    asked = sorted(set(last_in) | {m.contact_id for m in opened})
    answered = last_answers(session, asked, now)
    for moment in opened:
        reply = answered.get(moment.contact_id)
        if (reply is not None and reply >= moment.at) or moment.at < since:
            moment.seen_at = now  # answered before the digest got to it, or too old to matter
            session.add(moment)
    told = {
        (cid, at)
        for cid, at in session.exec(
            select(Moment.contact_id, Moment.at).where(Moment.kind == "inbound", col(Moment.at) >= since)
        )
    }
    noted = 0
    for cid, wrote in last_in.items():
        reply = answered.get(cid)
        if (reply is not None and reply >= wrote) or now - wrote < timedelta(days=days):
            continue
        if (cid, wrote) in told:
            continue
        session.add(Moment(contact_id=cid, kind="inbound", detail=_detail(wrote, tz), at=wrote))
        noted += 1
    return noted


def last_answers(session: Session, contact_ids: list[int], now: datetime) -> dict[int, datetime]:
    """Each contact's latest touch from the user's side, up to now."""
    found: dict[int, datetime] = {}
    for chunk in chunks(contact_ids):
        found.update(
            session.exec(
                select(Touch.contact_id, func.max(Touch.at))
                .where(
                    col(Touch.direction).in_(("out", "both")),
                    col(Touch.at) <= now,
                    col(Touch.contact_id).in_(chunk),
                )
                .group_by(col(Touch.contact_id))
            ).all()
        )
    return found


def _detail(wrote: datetime, tz: tzinfo) -> str:
    local = wrote.astimezone(tz)
    return f"wrote on {local:%a} {local.day} {local:%b}, no reply yet"
