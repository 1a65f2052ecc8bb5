"""Calls and texts from the phone into touches, and missed calls into moments, in the caller's transaction.

A number is read in the user's region (`core.identity.normalise_phone`) and matched to
the contact holding it (an E.164 `phone` identity). A number no contact holds gives
nothing, only a count in the sync's report: the backups stay in their folder and are read
again at each sync, so once the number is on a card its calls and texts become touches
then, and no sighting needs keeping. Touch keys (`core.phone.phone_key`) make an entry read
from two overlapping backups, or from a backup and a call log, one touch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from nudge.core.identity import normalise_phone
from nudge.core.phone import phone_touches, unanswered_call
from nudge.core.records import PhoneRecord
from nudge.ingest.base import Batch
from nudge.ingest.mail import UNANSWERED_LOOKBACK_DAYS, last_answers
from nudge.store.models import Contact, Moment, Touch
from nudge.store.query import chunks

# A phone's log names the same few hundred numbers thousands of times; reading one costs 0.2 ms.
_e164 = functools.lru_cache(maxsize=65536)(normalise_phone)


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class Phone:
    """The phone part of an ingest: entries of the phone's log in, touches and moments out."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        # Entries that would count, from numbers no contact holds: (number, minute, kind), so an
        # entry in two overlapping backups is counted once.
        self.unmatched: set[tuple[str, datetime, str]] = set()

    def _contact(self, number: str) -> int | None:
        e164 = _e164(number, self.batch.ctx.region)
        return self.batch.identities.get(("phone", e164)) if e164 else None

    def apply(self, records: Sequence[PhoneRecord]) -> int:
        """Touches for a batch of entries, moments for unanswered calls; how many gave anything new."""
        batch, ctx = self.batch, self.batch.ctx
        effects = [phone_touches(rec, ctx.phone, ctx.now) for rec in records]
        externals = sorted({t.external_id for touches in effects for t in touches})
        touched: set[tuple[int, str]] = set()
        for chunk in chunks(externals):
            for holder, ext in batch.session.exec(
                select(Touch.contact_id, Touch.external_id).where(col(Touch.external_id).in_(chunk))
            ):
                touched.add((holder, ext or ""))
        rows: list[dict[str, object]] = []
        added = 0
        for touches in effects:
            new = False
            for t in touches:
                cid = self._contact(t.number)
                if cid is None:
                    self.unmatched.add((t.number, _minute(t.at), t.kind))
                    continue
                if (cid, t.external_id) in touched:
                    continue
                touched.add((cid, t.external_id))
                rows.append(
                    {
                        "contact_id": cid,
                        "kind": t.kind,
                        "source": batch.source,
                        "external_id": t.external_id,
                        "at": t.at,
                        "weight": t.weight,
                        "direction": t.direction,
                        "summary": t.summary,
                        "created_at": ctx.now,
                    }
                )
                batch.gain(cid, t.at, t.weight)
                new = True
            added += new
        batch.session.flush()
        if rows:
            batch.session.execute(sa.insert(Touch), rows)
        added += self._missed([r for r in records if unanswered_call(r)])
        return added

    def _missed(self, records: list[PhoneRecord]) -> int:
        """An "unanswered" moment for each recent call a tiered person made that got no
        conversation and no call or message back since; the same moment is never noted twice."""
        ctx = self.batch.ctx
        since = ctx.now - timedelta(days=UNANSWERED_LOOKBACK_DAYS)
        calls: dict[tuple[int, datetime], datetime] = {}
        for rec in records:
            if not since <= rec.at <= ctx.now:
                continue
            for number in rec.numbers:
                cid = self._contact(number)
                if cid is None:
                    self.unmatched.add((number, _minute(rec.at), "missed"))
                else:
                    calls.setdefault((cid, _minute(rec.at)), rec.at)
        if not calls:
            return 0
        session = self.batch.session
        ids = sorted({cid for cid, _ in calls})
        tiered: set[int] = set()
        told: set[tuple[int, datetime]] = set()
        for chunk in chunks(ids):
            tiered.update(
                i
                for i in session.exec(
                    select(Contact.id).where(
                        col(Contact.id).in_(chunk),
                        col(Contact.tier).is_not(None),
                        col(Contact.archived_at).is_(None),
                    )
                )
                if i is not None
            )
            told.update(
                (cid, _minute(at))
                for cid, at in session.exec(
                    select(Moment.contact_id, Moment.at).where(
                        Moment.kind == "inbound", col(Moment.contact_id).in_(chunk), col(Moment.at) >= since
                    )
                )
            )
        answers = last_answers(session, sorted(tiered), ctx.now)
        noted = 0
        for (cid, minute), at in sorted(calls.items(), key=lambda kv: kv[1]):
            answer = answers.get(cid)
            if cid not in tiered or (cid, minute) in told or (answer is not None and answer >= at):
                continue
            local = at.astimezone(ctx.tz)
            detail = f"called on {local:%a} {local.day} {local:%b} at {local:%H:%M}, no call back yet"
            session.add(Moment(contact_id=cid, kind="inbound", detail=detail, at=at))
            told.add((cid, minute))
            noted += 1
        return noted
