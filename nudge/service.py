"""Where I/O meets the pure core: sync every source, plan the day, deliver once.

The CLI and the daemon call these functions and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from nudge import claim, delivery, digest, secrets
from nudge.config import WEEKDAYS, Settings, parse_hhmm, phone_region
from nudge.core import planner
from nudge.core.identity import normalise_email
from nudge.core.touches import MailRules, Rules
from nudge.core.warmth import roll_forward, score
from nudge.errors import Busy, DeliveryError, Interrupted, UserError
from nudge.ingest import Context
from nudge.ingest.mail import note_unanswered
from nudge.ingest.tiers import tier_groups
from nudge.sources import load_source
from nudge.sources.base import Source
from nudge.store.db import atomic, open_db
from nudge.store.derived import mark_acted
from nudge.store.models import (
    Contact,
    DigestRun,
    Moment,
    Planned,
    Suggestion,
)
from nudge.sync import Report, plan_source, refresh_events, sync_source
from nudge.view import build_view, delivered_days, templates_dir

if TYPE_CHECKING:
    from nudge.replies import PollReport

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> Engine:
    return open_db(settings.database, wait=settings.database_wait)


def ingest_context(settings: Settings, now: datetime) -> Context:
    me = frozenset(e for e in (normalise_email(x) for x in settings.me.emails) if e)
    t = settings.touches
    return Context(
        rules=Rules(
            me=me,
            meeting_weight=t.weights.meeting,
            max_attendees=t.max_attendees,
            history_days=t.history_days,
            planned_days=t.planned_days,
        ),
        region=phone_region(settings.me.region, settings.tz.key),
        tier_groups=tier_groups(settings.tiers),
        half_life_days=t.half_life_days,
        tz=settings.tz,
        now=now,
        mail=MailRules(
            me=me,
            weight=t.weights.email,
            max_recipients=t.max_recipients,
            history_days=t.history_days,
        ),
    )


# --- sync ------------------------------------------------------------------------


Progress = Callable[[str, int, int], None]  # (source, objects fetched so far, of how many)


def sync_all(
    engine: Engine,
    settings: Settings,
    now: datetime,
    sources: Sequence[Source] | None = None,
    progress: Progress | None = None,
    read_replies: bool = True,
    stop: Callable[[], bool] | None = None,
    shown: int = 0,
) -> list[Report]:
    """Sync every enabled source, then read replies to the digest; one failing never stops the others.

    `sources` replaces the configured ones (scripts, tests); replies are then not read.
    `stop` is asked between sources and between batches (through the progress
    hook sync_source calls after each batch): when it says yes, the sync ends
    there, with every batch applied so far committed and the rest left to the
    next sync (the daemon's SIGTERM). The first `shown` skipped objects of each source are
    left out of the log: the caller prints them (`nudge sync`).
    """
    ctx = ingest_context(settings, now)
    reports: list[Report] = []
    configured = sources is None
    if sources is None:
        built: list[Source] = []
        for cfg in settings.sources:
            if cfg.enabled:
                built.append(load_source(cfg))
        sources = built
    current: set[tuple[str, str]] = set()  # events applied after the last change anywhere
    # Each source is planned (listed, diffed: network only) one after the other in the
    # background, so the server is already listing the next source while this one is written.
    planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nudge-plan")
    try:
        plans = [planner.submit(plan_source, engine, source) for source in sources]
        for source, planned in zip(sources, plans, strict=True):
            if stop is not None and stop():
                raise Interrupted
            step = _step(source.name, progress, stop)
            report = sync_source(engine, source, ctx, step, planned, shown)
            log_report(report)
            reports.append(report)
            if report.added or report.changed or report.archived or report.removed:
                current.clear()  # what was applied before may read this source's changes differently
            current.update((source.name, href) for href in report.events_seen)
    except Interrupted:
        log.info("sync stopped between batches; what was applied is kept, the next sync goes on")
        for source in sources[len(reports) :]:
            source.close()
        return reports
    finally:
        planner.shutdown(wait=False, cancel_futures=True)
    changed = any(r.added or r.changed for r in reports)
    refresh_events(engine, ctx, everything=changed, skip=current)
    with atomic(engine) as s:
        mark_acted(s)
        note_unanswered(s, settings.tiers, now, settings.touches.unanswered_days, settings.tz)
    if configured and read_replies:
        poll_replies(engine, settings, now)
    return reports


def log_report(report: Report) -> None:
    """The sync of one source in the journal: its counts, or its failure (what it skipped,
    sync_source has logged one line each)."""
    if report.ok:
        log.info("%s", report.line())
    else:
        log.warning("%s", report.line())


def _step(
    name: str, progress: Progress | None, stop: Callable[[], bool] | None
) -> Callable[[int, int], None]:
    def step(done: int, total: int) -> None:
        if progress is not None:
            progress(name, done, total)
        if stop is not None and stop():
            raise Interrupted

    return step


def poll_replies(engine: Engine, settings: Settings, now: datetime) -> PollReport | None:
    """Apply replies to the digest, if an imap source reads them (else None); never raises."""
    if settings.reply_source is None:
        return None
    from nudge import replies  # only for those who use it: the daemon at rest stays small

    return replies.poll_configured(engine, settings, now)


# --- planning ---------------------------------------------------------------------


def local_now(settings: Settings, now: datetime) -> datetime:
    return now.astimezone(settings.tz)


def digest_time(settings: Settings, day: date) -> datetime:
    return datetime.combine(day, parse_hhmm(settings.digest.time), tzinfo=settings.tz)


def plan_rules(settings: Settings, force_day: date | None = None) -> planner.Rules:
    days = {WEEKDAYS.index(d) for d in settings.digest.workdays}
    if force_day is not None:
        days.add(force_day.weekday())
    return planner.Rules(
        daily_size=settings.digest.daily_size,
        partner_count=settings.digest.partner_count,
        workdays=frozenset(days),
        cooldown_workdays=settings.digest.cooldown_workdays,
    )


def warmth_now(contact_sum: float, at: datetime | None, now: datetime, half_life: float) -> float:
    if at is None:
        return 0.0
    return score(roll_forward(contact_sum, at, now, half_life))


REST_WINDOW_DAYS = 60  # longer than any rest after a suggestion (cooldown_workdays <= 20)


def load_people(session: Session, settings: Settings, now: datetime, day: date) -> list[planner.Person]:
    """Everyone in a tier with a cadence, as the planner sees them on `day` (the one source of
    "due": the digest, `plan`, `contacts`, `top100 list` and `stats` all start here)."""
    tiers = settings.tiers
    half_life = settings.touches.half_life_days
    meetings = dict(
        session.exec(
            select(Planned.contact_id, func.min(Planned.at))
            .where(col(Planned.at) > now)
            .group_by(col(Planned.contact_id))
        ).all()
    )
    suggested: dict[int, list[date]] = {}
    for cid, when in session.exec(
        select(col(Suggestion.contact_id), col(Suggestion.digest_date))
        .where(
            col(Suggestion.digest_date) < day,
            col(Suggestion.digest_date) >= day - timedelta(days=REST_WINDOW_DAYS),
            col(Suggestion.digest_date).in_(delivered_days()),
        )
        .order_by(col(Suggestion.digest_date).desc())
    ):
        suggested.setdefault(cid, []).append(when)
    moments: dict[int, list[str]] = {}
    for cid, kind in session.exec(
        select(Moment.contact_id, Moment.kind).where(col(Moment.seen_at).is_(None))
    ):
        moments.setdefault(cid, []).append(kind)
    tiered = session.exec(
        select(Contact).where(col(Contact.archived_at).is_(None), col(Contact.tier).in_(list(tiers)))
    )
    people = []
    for c in tiered:
        assert c.id is not None and c.tier is not None
        shown = suggested.get(c.id, [])
        people.append(
            planner.Person(
                id=c.id,
                name=c.name,
                tier=c.tier,
                cadence_days=c.cadence_days or tiers[c.tier].cadence_days,
                slot=tiers[c.tier].slot,
                joined_at=c.tier_since,  # None: found at a source's first sync (ingest_tiers)
                last_touch_at=c.last_touch_at,
                warmth=warmth_now(c.warmth_sum, c.warmth_at, now, half_life),
                snoozed_until=c.snoozed_until,
                next_meeting_at=meetings.get(c.id),
                last_suggested=shown[0] if shown else None,
                suggested_before=shown[1] if len(shown) > 1 else None,
                birthday=c.birthday,
                moments=tuple(moments.get(c.id, ())),
                first_seen=c.created_at or now,
            )
        )
    return people


def make_plan(
    engine: Engine, settings: Settings, now: datetime, day: date, force: bool = False
) -> tuple[planner.Plan, list[planner.Person]]:
    with Session(engine) as s:
        people = load_people(s, settings, now, day)
    rules = plan_rules(settings, day if force else None)
    return planner.plan_day(people, day, now, rules), people


# --- delivery -----------------------------------------------------------------------


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
        from nudge import replies

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
