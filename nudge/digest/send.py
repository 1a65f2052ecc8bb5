"""Deliver the day's digest at most once per channel and local date, whatever crashes.

The whole of it runs under the day's claim (`claim.hold_day`). The DigestRun
row moves planned -> sending -> sent (or failed), and each channel's Delivery
row sending -> sent (or failed), each step committed before the next, so a
crash can never cause a second send on any channel. A channel that refused is
retried on the next run; the others are not sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge.channels import load_channel
from nudge.channels.base import Channel, Outgoing
from nudge.channels.email import digest_key, message_id, new_token
from nudge.config import Settings
from nudge.core import planner
from nudge.digest import claim
from nudge.digest import render as digest
from nudge.digest.facts import build_view, templates_dir
from nudge.digest.plan import local_now, make_plan
from nudge.errors import Busy, DeliveryError, DeliveryUnknown, UserError
from nudge.store.db import atomic
from nudge.store.models import Delivery, DigestRun, Moment, Suggestion

log = logging.getLogger(__name__)


@dataclass
class DigestResult:
    day: date
    state: str  # sent | already_sent | dry_run | ambiguous
    subject: str = ""
    text: str = ""
    html: str = ""
    where: str = ""
    plan: planner.Plan | None = None
    view: digest.View | None = None


def render_day(
    engine: Engine, settings: Settings, now: datetime, day: date, force: bool = False
) -> DigestResult:
    plan, people = make_plan(engine, settings, now, day, force)
    view = build_view(engine, settings, plan, people, now)
    subject, text, html = digest.render(view, templates_dir(settings))
    return DigestResult(day, "dry_run", subject, text, html, plan=plan, view=view)


def _run(session: Session, day: date) -> DigestRun:
    return session.exec(select(DigestRun).where(DigestRun.date == day)).first() or DigestRun(date=day)


def send_digest(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    day: date | None = None,
    force: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
) -> DigestResult:
    """Render today's digest and deliver it at most once for the local date.

    The whole of it runs under the day's claim (claim.hold_day): only one
    process at a time can render, claim and deliver a day, so `planned` is
    only ever resumed by the one that holds the claim. Another process waits up
    to `wait` seconds, then gets Busy naming the holder's PID. The DigestRun row
    moves planned -> sending -> sent (or failed), each step committed before the
    next, so a crash can never cause a second send.
    """
    day = day or local_now(settings, now).date()
    if dry_run:
        return render_day(engine, settings, now, day, force)
    with claim.hold_day(engine, day, wait) as held:
        try:
            return _send_claimed(engine, settings, now, held, force)
        except Exception as e:
            _record_failure(engine, day, e, now)
            raise


def _send_claimed(
    engine: Engine, settings: Settings, now: datetime, held: claim.Claim, force: bool
) -> DigestResult:
    day = held.day
    with Session(engine) as s:
        run = _run(s, day)
        states = {d.channel: d.state for d in s.exec(select(Delivery).where(Delivery.date == day))}
    if run.state == "sent" and not force:
        return DigestResult(day, "already_sent", where=run.message_id)
    channels = [load_channel(entry) for entry in settings.delivery]
    todo: list[Channel] = []
    unknown: list[str] = []
    for ch in channels:
        # A day from before per-channel rows had one channel: its row is the day's own state.
        state = states.get(ch.name) or (run.state if run.state in ("sending", "sent") else "")
        if force or state in ("", "failed", "planned"):
            todo.append(ch)
        elif state == "sending":
            found = ch.arrived(run.message_id)
            if found is None:
                unknown.append(ch.name)
            elif found:
                with atomic(engine) as s:
                    _delivered(s, day, ch.name, run.updated_at or now, "")
            else:
                todo.append(ch)  # nothing arrived before the interruption: safe to deliver now
    if not todo:
        if unknown:
            log.warning("digest for %s may have been sent before a crash; not sending again", day)
            return DigestResult(day, "ambiguous", where=run.message_id)
        with atomic(engine) as s:
            _mark_sent(s, _run(s, day), run.updated_at or now)
        return DigestResult(day, "already_sent", where=run.message_id)
    resend = force and run.state in ("sent", "sending")
    result = render_day(engine, settings, now, day, force)
    with atomic(engine) as s:
        run = _run(s, day)
        run.attempts += 1
        key = digest_key(run.message_id)  # one token per day, kept by retries and resends
        token = key[1] if key else new_token()
        run.message_id = message_id(day.isoformat(), settings.sender, token, run.attempts if resend else 0)
        run.state, run.error, run.updated_at = "planned", None, now
        s.add(run)
        _record_suggestions(s, result)
    outgoing = Outgoing(
        day=day,
        message_id=run.message_id,
        subject=result.subject,
        text=result.text,
        html=result.html,
        sender=settings.sender,
        recipient=settings.recipient or settings.sender,
        when=local_now(settings, now),
        data=plan_json(result),
    )
    wheres: list[str] = []
    failures: list[DeliveryError] = []
    for ch in todo:
        try:
            where = _deliver(engine, ch, outgoing, held, now)
        except DeliveryUnknown as e:
            log.warning("%s", e)
            unknown.append(ch.name)
        except DeliveryError as e:
            failures.append(e)
            with atomic(engine) as s:
                _delivery_failed(s, day, ch.name, e, now)
        else:
            wheres.append(where)
            with atomic(engine) as s:
                _delivered(s, day, ch.name, now, where)
    told = [r.id for r in result.view.replies] if result.view else []
    if wheres:
        with atomic(engine) as s:
            _mark_sent(s, _run(s, day), now, told, complete=not failures and not unknown)
    if failures:
        raise failures[0] if len(failures) == 1 else DeliveryError("; ".join(map(str, failures)))
    if not wheres:
        return DigestResult(day, "ambiguous", where=run.message_id)
    result.state, result.where = "sent", "; ".join(wheres)
    return result


def _deliver(engine: Engine, ch: Channel, outgoing: Outgoing, held: claim.Claim, now: datetime) -> str:
    """Open the channel, record it `sending` (while the claim holds), send; where it went."""
    try:
        ch.open()
        _set_sending(engine, held, now, ch.name)
        return ch.send(outgoing)
    finally:
        ch.close()


def _record_failure(engine: Engine, day: date, error: Exception, now: datetime) -> None:
    """A day that did not go out is `failed`, with why, so it is retried; never a dead `planned`.

    A day already `sending` stays so unless the channel says it was refused:
    the message may be out, and a retry must not send it again.
    """
    try:
        with atomic(engine) as s:
            run = _run(s, day)
            if run.state == "sent" or isinstance(error, Busy):
                return
            if run.state == "sending" and not isinstance(error, DeliveryError):
                return
            run.state, run.updated_at = "failed", now
            run.error = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            s.add(run)
    except Exception:  # the store itself is failing: the caller reports the first error
        log.debug("could not record the failed digest for %s", day, exc_info=True)


def _delivery(session: Session, day: date, channel: str) -> Delivery:
    found = session.exec(select(Delivery).where(Delivery.date == day, Delivery.channel == channel)).first()
    return found or Delivery(date=day, channel=channel)


def _set_sending(engine: Engine, held: claim.Claim, now: datetime, channel: str) -> None:
    """planned -> sending, only while the claim holds (a lease that lapsed stops here)."""
    with atomic(engine) as s:
        done = s.execute(
            sa.update(DigestRun)
            .where(col(DigestRun.date) == held.day, held.guard(now))
            .values(state="sending", updated_at=now)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Busy(f"the claim on the digest for {held.day} lapsed before sending; not sending it")
        row = _delivery(s, held.day, channel)
        row.state, row.error, row.updated_at = "sending", None, now
        row.attempts += 1
        s.add(row)


def _delivered(session: Session, day: date, channel: str, when: datetime, where: str) -> None:
    row = _delivery(session, day, channel)
    row.state, row.sent_at, row.updated_at = "sent", when, when
    row.where = where or row.where
    session.add(row)


def _delivery_failed(session: Session, day: date, channel: str, error: DeliveryError, now: datetime) -> None:
    row = _delivery(session, day, channel)
    row.state, row.error, row.updated_at = "failed", str(error), now
    session.add(row)


def _record_suggestions(session: Session, result: DigestResult) -> None:
    """The day's suggestions, written before sending; they count once the day is delivered."""
    assert result.plan is not None and result.view is not None
    entries = {e.id: e for e in (*result.view.entries, *result.view.partners)}
    picks = {k.person.id: "call" for k in result.plan.calls} | {
        k.person.id: "partner" for k in result.plan.partners
    }
    for old in session.exec(select(Suggestion).where(Suggestion.digest_date == result.day)):
        if old.contact_id not in picks and old.acted_at is None:
            session.delete(old)  # a re-plan of the same day (after a failure, or --force)
        elif old.contact_id not in picks:
            old.position = None  # kept for the metrics, but its number now belongs to someone else
            session.add(old)
    existing = set(session.exec(select(Suggestion.contact_id).where(Suggestion.digest_date == result.day)))
    for cid, slot in picks.items():
        entry = entries.get(cid)
        reason, prompt = (entry.why[0] if entry and entry.why else ""), (entry.prompt if entry else "")
        position = entry.number if entry else None
        if cid not in existing:
            session.add(
                Suggestion(
                    digest_date=result.day,
                    contact_id=cid,
                    slot=slot,
                    reason=reason,
                    prompt=prompt,
                    position=position,
                )
            )
        else:
            session.execute(
                sa.update(Suggestion)
                .where(col(Suggestion.digest_date) == result.day, col(Suggestion.contact_id) == cid)
                .values(position=position)
            )


def _mark_sent(
    session: Session, run: DigestRun, when: datetime, told: Sequence[int] = (), complete: bool = True
) -> None:
    """The digest reached the user: its job changes, unanswered emails and replies have been told.

    The day is `sent` when it is `complete`: every channel delivered it (else it stays
    `sending`, or is `failed` for the channels that refused it).
    """
    if complete:
        run.state, run.sent_at = "sent", when
    run.updated_at = when
    session.add(run)
    if told:
        from nudge.digest import replies

        replies.mark_told(session, told, run.date)
    shown = select(Suggestion.contact_id).where(Suggestion.digest_date == run.date)
    session.execute(
        sa.update(Moment)
        .where(
            col(Moment.contact_id).in_(shown),
            col(Moment.seen_at).is_(None),
            col(Moment.kind).in_(("job_change", "inbound")),
        )
        .values(seen_at=when)
    )


def _entry_json(e: digest.Entry) -> dict[str, Any]:
    """`tel` is the number as the digest shows it (national at home); `tel_href` the E.164 link."""
    keys = (
        "number",
        "id",
        "name",
        "slot",
        "tier",
        "why",
        "warmth",
        "warmth_label",
        "tel",
        "tel_href",
        "email",
        "prompt",
    )
    return {k: list(getattr(e, k)) if k == "why" else getattr(e, k) for k in keys}


def plan_json(result: DigestResult) -> dict[str, Any]:
    """The plan as JSON-able values: `nudge digest --json`, and the picks a webhook gets."""
    view, plan = result.view, result.plan
    assert view is not None and plan is not None
    cap = plan.capacity
    return {
        "date": result.day.isoformat(),
        "subject": result.subject,
        "workday": plan.workday,
        "calls": [_entry_json(e) for e in view.entries],
        "partners": [_entry_json(e) for e in view.partners],
        "capacity": {
            "ok": cap.ok,
            "needed_per_workday": round(cap.needed_per_workday, 2),
            "daily_size": cap.daily_size,
            "overdue": cap.overdue,
            "advice": cap.advice,
        },
        "failing_sources": list(view.failing_sources),
    }
