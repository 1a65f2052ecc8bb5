"""Deliver the day's digest at most once per channel and local date, whatever crashes.

The whole of it runs under the day's claim (`claim.hold_day`); the DigestRun
row moves planned -> sending -> sent (or failed), each step committed before
the next, so a crash can never cause a second send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import delivery, secrets
from nudge.config import Settings
from nudge.core import planner
from nudge.digest import claim
from nudge.digest import render as digest
from nudge.digest.facts import build_view, templates_dir
from nudge.digest.plan import local_now, make_plan
from nudge.errors import Busy, DeliveryError, UserError
from nudge.store.db import atomic
from nudge.store.models import DigestRun, Moment, Suggestion

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
    if run.state == "sent" and not force:
        return DigestResult(day, "already_sent", where=run.message_id)
    if run.state == "sending" and not force:
        if settings.smtp is not None:
            log.warning("digest for %s may have been sent before a crash; not sending again", day)
            return DigestResult(day, "ambiguous", where=run.message_id)
        if delivery.maildir_has(settings.maildir_path, run.message_id):
            with atomic(engine) as s:
                _mark_sent(s, _run(s, day), run.updated_at or now)
            return DigestResult(day, "already_sent", where=run.message_id)
        # Nothing reached the Maildir before the crash: safe to deliver now.
    resend = force and run.state in ("sent", "sending")
    result = render_day(engine, settings, now, day, force)
    with atomic(engine) as s:
        run = _run(s, day)
        run.attempts += 1
        key = delivery.digest_key(run.message_id)  # one token per day, kept by retries and resends
        token = key[1] if key else delivery.new_token()
        run.message_id = delivery.message_id(
            day.isoformat(), settings.sender, token, run.attempts if resend else 0
        )
        run.state, run.error, run.updated_at = "planned", None, now
        s.add(run)
        _record_suggestions(s, result)
    msg = delivery.build_message(
        result.subject,
        result.text,
        result.html,
        settings.sender,
        settings.recipient or settings.sender,
        run.message_id,
        local_now(settings, now),
    )
    where = _deliver(engine, settings, msg, held, now)
    with atomic(engine) as s:
        told = [r.id for r in result.view.replies] if result.view else []
        _mark_sent(s, _run(s, day), now, told)
    result.state, result.where = "sent", where
    return result


def _record_failure(engine: Engine, day: date, error: Exception, now: datetime) -> None:
    """A day that did not go out is `failed`, with why, so it is retried; never a dead `planned`.

    A day already `sending` stays so unless the transport says it was refused:
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


def _set_sending(engine: Engine, held: claim.Claim, now: datetime) -> None:
    """planned -> sending, only while the claim holds (a lease that lapsed stops here)."""
    with atomic(engine) as s:
        done = s.execute(
            sa.update(DigestRun)
            .where(col(DigestRun.date) == held.day, held.guard(now))
            .values(state="sending", updated_at=now)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Busy(f"the claim on the digest for {held.day} lapsed before sending; not sending it")


def _deliver(engine: Engine, settings: Settings, msg: EmailMessage, held: claim.Claim, now: datetime) -> str:
    if settings.smtp is None:
        _set_sending(engine, held, now)
        path = delivery.deliver_maildir(msg, settings.maildir_path)
        return str(path)
    cfg = settings.smtp
    try:
        password = secrets.resolve("smtp", cfg.password, cfg.password_env, cfg.password_command)
    except UserError as e:
        raise DeliveryError(str(e)) from None
    transport = delivery.SmtpTransport(cfg, password)
    transport.open()
    try:
        _set_sending(engine, held, now)
    except BaseException:
        transport.close()
        raise
    transport.send(msg)
    return f"{settings.recipient} via {cfg.host}"


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


def _mark_sent(session: Session, run: DigestRun, when: datetime, told: Sequence[int] = ()) -> None:
    """The day is delivered: its job changes, unanswered emails and replies have been told."""
    run.state, run.sent_at, run.updated_at = "sent", when, when
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
