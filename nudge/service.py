"""Where I/O meets the pure core: sync every source, read replies, plan the day, deliver once.

The CLI and the daemon call these functions and nothing else. Sync is here;
the digest's own steps are in `nudge.digest` (plan, facts, render, send) and
re-exported, so both callers keep one door.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from nudge.config import Settings, phone_region
from nudge.core.identity import normalise_email
from nudge.core.phone import PhoneRules
from nudge.core.touches import MailRules, Rules
from nudge.digest.plan import digest_time, load_people, local_now, make_plan, plan_rules
from nudge.errors import Interrupted, SourceError, UserError
from nudge.ingest import Context
from nudge.ingest.mail import note_unanswered
from nudge.ingest.tiers import tier_groups
from nudge.parse import short_reason
from nudge.sources import load_source
from nudge.sources.base import Source
from nudge.store.db import atomic, open_db
from nudge.store.derived import mark_acted
from nudge.sync import Report, plan_source, refresh_events, sync_source

if TYPE_CHECKING:  # imported where used: `nudge sync` loads neither jinja2 nor the mail machinery
    from datetime import date

    from nudge.digest.replies import PollReport
    from nudge.digest.send import DigestResult

__all__ = [
    "digest_time",
    "load_people",
    "local_now",
    "make_plan",
    "plan_rules",
    "render_day",
    "send_digest",
]

log = logging.getLogger(__name__)


def render_day(
    engine: Engine, settings: Settings, now: datetime, day: date, force: bool = False
) -> DigestResult:
    """`digest.send.render_day`, imported on first use."""
    from nudge.digest import send

    return send.render_day(engine, settings, now, day, force)


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
    """`digest.send.send_digest`, imported on first use."""
    from nudge.digest import send

    return send.send_digest(engine, settings, now, day=day, force=force, dry_run=dry_run, wait=wait)


def open_store(settings: Settings) -> Engine:
    """The store, as the user the settings are for: a team member's rows only (`nudge --user`),
    or the personal install's (user 1)."""
    engine = open_db(settings.database, wait=settings.database_wait)
    if not settings.user:
        return engine
    from nudge import team

    return team.bind(engine, settings.user)


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
        phone=PhoneRules(
            call_weight=t.weights.call, message_weight=t.weights.message, history_days=t.history_days
        ),
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
    """Apply replies to the digest from the configured imap source's INBOX; None when replies
    are off. Never raises: replies are a convenience, and a failure here must not stop a sync
    or the digest. It is logged and returned in the report.
    """
    src = settings.reply_source
    if src is None:
        return None
    from nudge.digest import replies  # only for those who use it: the daemon at rest stays small
    from nudge.digest.replies import PollReport
    from nudge.sources.imap import ImapOptions, find_folders, imap_errors, session

    try:
        options = ImapOptions.model_validate(src.options)
        with session(options, f"sources.{src.name}") as client, imap_errors(options, "reading replies"):
            inbox, _ = find_folders(client, options)
            report = replies.poll(engine, settings, now, client, inbox)
    except SourceError as e:
        log.warning("replies to the digest: %s", e)
        return PollReport(error=str(e))
    except Exception as e:
        log.exception("replies to the digest: reading them failed unexpectedly")
        return PollReport(error=f"unexpected {type(e).__name__}: {short_reason(e)}")
    if report.applied:  # a reply may answer an email nudge was about to remind of
        with atomic(engine) as s:
            note_unanswered(s, settings.tiers, now, settings.touches.unanswered_days, settings.tz)
    if report.applied or report.ignored:
        log.info("replies to the digest: %d applied, %d ignored", report.applied, report.ignored)
    return report


def authorize_google(settings: Settings, account: str, no_browser: bool, client_secrets: str | None) -> Path:
    """`nudge auth google`: the consent flow for `account`, with the scopes its sources need; the
    token file it wrote."""
    from nudge.sources import google_auth

    secrets_file = client_secrets or google_auth.client_secrets_for(settings.sources, account)
    if not secrets_file:
        raise UserError(
            f"no client_secrets for the Google account {account!r}: set it on a google_contacts, "
            "google_calendar or gmail source, or pass --client-secrets (see docs/google.md)"
        )
    scopes = google_auth.scopes_for(settings.sources, account)
    return google_auth.authorize(account, secrets_file, no_browser, scopes=scopes)
