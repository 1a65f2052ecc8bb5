"""`nudge run`: sync on a schedule and deliver the digest once a day, under systemd or not.

APScheduler only says *when*; the database says *whether*: a missed or failed
morning is caught up from the DigestRun row at start-up, after the machine
wakes, and by retries until the cutoff, and send_digest never sends a day twice.

One daemon per store (a lock file beside it names its PID). Sync and mail are
separate lanes: a long or hung sync never delays the digest (each sync batch
is a transaction, so the digest reads a consistent store), and SIGTERM stops a
sync between batches.

One piece (over 400 lines): the scheduler's jobs share the daemon's locks and state
(syncing, mailing, stopping, the retry count); split, each would need the others' internals.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import config, service
from nudge.config import Settings, team
from nudge.errors import Busy, ConfigError, NudgeError
from nudge.store.models import DigestRun

if TYPE_CHECKING:
    from nudge.digest.replies import PollReport
    from nudge.digest.send import DigestResult

log = logging.getLogger(__name__)

MAX_RETRY = 900.0  # seconds between send attempts, at most
WAKE_JUMP = 120.0  # wall clock running this far ahead of the monotonic clock means we slept
FIRST_SYNC_WAIT = 60.0  # a catch-up digest waits this long at most for the start-up sync
STOP_GRACE = 5.0  # seconds SIGTERM waits for a sync to reach the end of its batch


def utcnow() -> datetime:
    return datetime.now(UTC)


def not_due(settings: Settings, now: datetime, state: str | None) -> str:
    """Why today's digest should not go out now, in words; "" when it should (a workday, past
    its time, before the cutoff, not sent)."""
    local = now.astimezone(settings.tz)
    day = f"{local:%a} {local.date()}"
    if local.strftime("%a").lower() not in settings.digest.workdays:
        return f"no digest for {day}: not one of digest.workdays"
    if state == "sent":
        return f"the digest for {day} is already sent"
    if state == "sending":
        return f"the digest for {day} may have gone out before an interruption; not sending it twice"
    send_at = config.parse_hhmm(settings.digest.time)
    cutoff = config.parse_hhmm(settings.digest.cutoff)
    if local.time().replace(tzinfo=None) < send_at:
        return f"the digest for {day} is not due yet (digest.time {settings.digest.time})"
    if local.time().replace(tzinfo=None) >= cutoff:
        return f"no digest for {day}: it was not sent before digest.cutoff {settings.digest.cutoff}"
    return ""


def catch_up_due(settings: Settings, now: datetime, state: str | None) -> bool:
    """Today's digest should go out now: a workday, past its time, before the cutoff, not sent."""
    return not not_due(settings, now, state)


def describe_plan(result: DigestResult) -> str:
    """'3 calls (Ana Ruiz, Ben Ott, Zoë Çelik) and partner Lee Chan', or why nobody."""
    plan, view = result.plan, result.view
    if plan is None:
        return "no plan"
    calls = ", ".join(k.person.name for k in plan.calls)
    text = f"{len(plan.calls)} call(s) ({calls})" if plan.calls else "no calls"
    if plan.partners:
        text += " and partner " + ", ".join(k.person.name for k in plan.partners)
    if not plan.calls and not plan.partners and view is not None and view.empty_reason:
        text += f": {view.empty_reason}"
    return text


def retry_delay(settings: Settings, attempt: int) -> float:
    """Exponential backoff: retry_delay, twice that, ... at most 15 minutes."""
    return float(min(settings.digest.retry_delay * 2 ** max(attempt - 1, 0), MAX_RETRY))


class Notifier:
    """sd_notify when systemd asked for it (NOTIFY_SOCKET); silent otherwise."""

    def __init__(self) -> None:
        self._notifier: Any = None
        if os.environ.get("NOTIFY_SOCKET"):
            import sdnotify

            self._notifier = sdnotify.SystemdNotifier()
        usec = os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() else None

    def __call__(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)


@dataclass
class Status:
    last_sync: datetime | None = None
    last_sync_ok: bool = True
    retries: int = 0


class Daemon:
    def __init__(
        self, config_path: str | None, settings: Settings | None = None, user: str | None = None
    ) -> None:
        self.config_path = config_path
        self.user = user  # `nudge --user NAME run`: one member of the team folder
        self.settings = settings or team.load(config_path, user)
        self.engine: Engine = service.open_store(self.settings)
        self.notify = Notifier()
        self.status = Status()
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.syncing = threading.Lock()  # one sync at a time
        self.mailing = threading.Lock()  # one digest or reply poll at a time; never waits for a sync
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = BackgroundScheduler(timezone=self.settings.tz)
        self._wall = time.time()
        self._mono = time.monotonic()

    # --- schedule -------------------------------------------------------------------

    def schedule(self) -> None:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        s = self.settings
        self.scheduler.remove_all_jobs()
        send_at = config.parse_hhmm(s.digest.time)
        cutoff = config.parse_hhmm(s.digest.cutoff)
        grace = max(60, (cutoff.hour - send_at.hour) * 3600 + (cutoff.minute - send_at.minute) * 60)
        self.scheduler.add_job(
            self.sync_job,
            IntervalTrigger(minutes=s.sync.interval, timezone=s.tz),
            id="sync",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self.digest_job,
            CronTrigger(
                day_of_week=",".join(s.digest.workdays),
                hour=send_at.hour,
                minute=send_at.minute,
                second=send_at.second,
                timezone=s.tz,
            ),
            id="digest",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
        )
        if s.reply_source is not None:
            self.scheduler.add_job(
                self.replies_job,
                IntervalTrigger(minutes=s.replies.interval, timezone=s.tz),
                id="replies",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        tick = 30.0
        if self.notify.watchdog_seconds:
            tick = min(tick, self.notify.watchdog_seconds / 2)
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=tick), id="tick", coalesce=True)

    # --- jobs ------------------------------------------------------------------------

    def startup_job(self) -> None:
        """Sync first, so a caught-up digest is built on fresh data; a hung sync delays it
        by FIRST_SYNC_WAIT at most (a second catch-up is scheduled for then)."""
        from apscheduler.triggers.date import DateTrigger

        self.scheduler.add_job(
            self.catch_up,
            DateTrigger(utcnow() + timedelta(seconds=FIRST_SYNC_WAIT)),
            id="catch-up",
            replace_existing=True,
        )
        self.sync_job()
        self.catch_up()

    def sync_job(self) -> None:
        if not self.settings.sources:
            log.info("no [[sources]] in the config: nothing to sync")
            return
        with self.syncing:
            if self.stopping.is_set():
                return
            reports = service.sync_all(self.engine, self.settings, utcnow(), stop=self.stopping.is_set)
            self.rest()
        self.status.last_sync = utcnow()
        self.status.last_sync_ok = all(r.ok for r in reports)
        self.publish_status()

    def replies_job(self) -> None:
        with self.mailing:
            if self.stopping.is_set():
                return
            report_replies(service.poll_replies(self.engine, self.settings, utcnow()))

    def rest(self) -> None:
        """Between jobs the daemon holds nothing: idle connections (and SQLite's page caches)
        are closed, and the heap a sync freed goes back to the system.

        CPython returns freed objects to malloc, which keeps the pages, so a
        large sync would otherwise leave the process at its peak while it waits
        half an hour for the next one. Reconnecting costs a millisecond.
        """
        import ctypes
        import gc

        if not self.mailing.acquire(blocking=False):
            return  # a digest is being sent: it rests after
        try:
            self.engine.dispose()
        finally:
            self.mailing.release()
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to give back
            ctypes.CDLL("libc.so.6").malloc_trim(0)

    def digest_job(self) -> None:
        """Send today's digest; whatever goes wrong, the day is retried with backoff until the cutoff."""
        with self.mailing:
            if self.stopping.is_set():
                return
            now = utcnow()
            try:
                report_replies(service.poll_replies(self.engine, self.settings, now))  # confirm them
                result = service.send_digest(self.engine, self.settings, now)
            except Busy as e:
                self._retry_later(now, f"another nudge process is sending it ({e})")
                return
            except NudgeError as e:
                self._retry_later(now, str(e))
                return
            except Exception as e:  # a bug must not leave the day unsent: log it, try again later
                log.exception("digest failed unexpectedly")
                self._retry_later(now, f"{type(e).__name__}: {e}")
                return
        self.rest()
        self.status.retries = 0
        report_digest(result)
        self.publish_status()

    def _retry_later(self, now: datetime, error: str) -> None:
        from apscheduler.triggers.date import DateTrigger

        if self.stopping.is_set():
            log.error("digest not sent: %s; stopping, the next start catches it up", error)
            return
        self.status.retries += 1
        delay = retry_delay(self.settings, self.status.retries)
        when = now + timedelta(seconds=delay)
        if not catch_up_due(self.settings, when, None):
            log.error("digest not sent: %s; past the cutoff, giving up for today", error)
            return
        log.warning("digest not sent: %s; retrying in %.0f s", error, delay)
        self.scheduler.add_job(self.digest_job, DateTrigger(when), id="digest-retry", replace_existing=True)

    def catch_up(self) -> None:
        """Send today's digest now if it is due and was missed (asleep, off, crashed, failed)."""
        now = utcnow()
        day = now.astimezone(self.settings.tz).date()
        with Session(self.engine) as s:
            run = s.exec(select(DigestRun).where(DigestRun.date == day)).first()
        state = run.state if run else None
        why = not_due(self.settings, now, state)
        if not why:
            log.info("today's digest is due and not sent (%s); sending it now", state or "never tried")
            self.digest_job()
        elif state == "sending":
            log.warning("%s", why)
        else:
            log.info("%s", why)

    def tick(self) -> None:
        """Watchdog ping, and catching up after the machine slept."""
        self.notify("WATCHDOG=1")
        wall, mono = time.time(), time.monotonic()
        jumped = (wall - self._wall) - (mono - self._mono)
        self._wall, self._mono = wall, mono
        if jumped > WAKE_JUMP and not self.stopping.is_set():
            log.info("the clock jumped %.0f s ahead (woke from sleep?): syncing and catching up", jumped)
            self.scheduler.add_job(self.startup_job, id="wake", replace_existing=True)

    # --- control -------------------------------------------------------------------

    def publish_status(self) -> None:
        if self.stopping.is_set():
            return
        job = self.scheduler.get_job("digest")
        parts = []
        when = getattr(job, "next_run_time", None)  # absent until the scheduler runs
        if when is not None:
            parts.append(f"next digest {when:%a %H:%M}")
        if self.status.last_sync is not None:
            minutes = int((utcnow() - self.status.last_sync).total_seconds() // 60)
            ok = "" if self.status.last_sync_ok else " (a source failed)"
            parts.append(f"last sync {minutes} min ago{ok}")
        if parts:
            self.notify("STATUS=" + ", ".join(parts))

    def reload(self) -> None:
        """SIGHUP: read the config again; a broken one is logged and the old one kept."""
        self.reload_requested.clear()
        try:
            fresh = team.load(self.config_path, self.user)
        except ConfigError as e:
            log.error("config reload failed, keeping the running config: %s", e)
            return
        with self.syncing, self.mailing:
            if fresh.database != self.settings.database or fresh.database_wait != self.settings.database_wait:
                try:
                    self.engine = service.open_store(fresh)
                except NudgeError as e:
                    log.error("config reload failed, keeping the running config: %s", e)
                    return
            self.settings = fresh
            self.schedule()
        log.info("config reloaded")
        self.publish_status()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested.set()
        else:
            self.stopping.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.schedule()
        self.scheduler.add_job(self.startup_job, id="startup")
        self.scheduler.start()
        log.info(
            "nudge daemon started (config: %s)", self.config_path or config.find_config(None) or "defaults"
        )
        self.notify("READY=1")
        self.publish_status()
        while not self.stopping.is_set():
            self.stopping.wait(0.5)
            if self.reload_requested.is_set():
                self.reload()
        self.notify("STOPPING=1")
        log.info("stopping after the current job")
        if not self.stop():
            log.warning(
                "the sync did not reach the end of a batch within %.0f s; exiting without it "
                "(its unfinished batch is rolled back, the next sync redoes it)",
                STOP_GRACE,
            )
            logging.shutdown()
            os._exit(0)  # its thread would otherwise hold the interpreter open
        return 0

    def stop(self) -> bool:
        """Let a send finish, and a sync reach the end of its batch; then stop the scheduler.

        False when the sync did not stop within STOP_GRACE (a server that does
        not answer). Not shutdown(wait=True): APScheduler holds its job-store lock
        while it waits, and a job that ends with get_job/add_job would wait forever.
        """
        self.stopping.set()
        self.scheduler.pause()
        stopped = self.syncing.acquire(timeout=STOP_GRACE)
        with self.mailing:
            self.scheduler.shutdown(wait=False)
        if stopped:
            self.syncing.release()
        self.engine.dispose()
        return stopped


def report_digest(result: DigestResult) -> None:
    """One line for the journal: what was planned and where it went, or why it was not sent."""
    if result.state == "sent":
        log.info(
            "sent the digest for %s to %s: “%s”, %s",
            result.day,
            result.where,
            result.subject,
            describe_plan(result),
        )
    elif result.state == "already_sent":
        log.info("the digest for %s is already sent (%s)", result.day, result.where)
    elif result.state == "ambiguous":
        log.warning(
            "the digest for %s may have gone out before an interruption; not sending it twice", result.day
        )


def report_replies(report: PollReport | None) -> bool:
    """Whether reading replies went well (or is off); its failure was logged where it happened."""
    return report is None or not report.error


def once(config_path: str | Path | None, user: str | None = None) -> int:
    """`nudge run --once`, for cron: sync, read replies, send today's digest if due (the daemon's
    catch-up rules), then exit: 0 when all went well, 1 when anything failed."""
    from nudge.store.locks import single_instance

    path = str(config_path) if config_path else None
    settings = team.load(path, user)
    with single_instance(settings.database, config.data_dir() / "run.lock"):
        engine = service.open_store(settings)
        try:
            return _once(engine, settings)
        finally:
            engine.dispose()


def _once(engine: Engine, settings: Settings) -> int:
    ok = True
    if settings.sources:
        reports = service.sync_all(engine, settings, utcnow(), read_replies=False)
        ok = all(r.ok for r in reports)
    else:
        log.info("no [[sources]] in the config: nothing to sync")
    ok = report_replies(service.poll_replies(engine, settings, utcnow())) and ok
    now = utcnow()
    day = now.astimezone(settings.tz).date()
    with Session(engine) as s:
        run = s.exec(select(DigestRun).where(DigestRun.date == day)).first()
    why = not_due(settings, now, run.state if run else None)
    if why:
        log.info("%s", why)
        return 0 if ok else 1
    try:
        report_digest(service.send_digest(engine, settings, now, wait=10.0))
    except NudgeError as e:
        log.error("digest not sent: %s; the next `nudge run --once` before the cutoff tries again", e)
        return 1
    return 0 if ok else 1


def run(config_path: str | Path | None, user: str | None = None) -> int:
    """Run the daemon, once per store: a second `nudge run` exits with Busy naming the first."""
    from nudge.store.locks import single_instance

    path = str(config_path) if config_path else None
    settings = team.load(path, user)
    with single_instance(settings.database, config.data_dir() / "run.lock"):
        return Daemon(path, settings, user).run()
