"""`nudge run --team`: one daemon serving every user of the team folder; several share the work.

Two or three of them (processes, or machines against one PostgreSQL) run side
by side with nothing but the store between them:

- Each user's digest goes out through `service.send_digest`, whose day claim is
  per user (digest.claim: a lock file per owner beside an SQLite store, a lease
  on the user's DigestRun row on PostgreSQL). A daemon that finds a user's day
  claimed does not wait for it: it moves on to the next user, so the morning's
  users spread over the daemons instead of queueing. Each daemon walks the users
  from its own starting point, so two started together begin apart. The
  daemon's rules apply per user: its workdays, time, cutoff and retry backoff,
  and the wait of up to FIRST_SYNC_WAIT for fresh data before a caught-up digest.
- Each (user, source) sync, and each user's reading of replies, is taken with a
  lease that expires (nudge/leases.py), at most once per sync.interval (or
  replies.interval) across all daemons. The holder renews it while it works;
  every transaction of the sync checks it still holds it before committing.

There is no run lock: any number may run. A user's file that cannot be used is
logged (again when it changes) and that user skipped; the others carry on. The
folder is read again on SIGHUP and every RESCAN seconds, so a `nudge team add`
is picked up without a restart.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import FrameType

from sqlmodel import Session, select

from nudge import config, leases, service, team
from nudge.config import Settings, SourceConfig
from nudge.config import team as team_config
from nudge.daemon import (
    FIRST_SYNC_WAIT,
    STOP_GRACE,
    Notifier,
    catch_up_due,
    describe_plan,
    not_due,
    retry_delay,
    utcnow,
)
from nudge.errors import Busy, ConfigError, NudgeError
from nudge.sources import load_source
from nudge.store.locks import holder_id
from nudge.store.models import DigestRun
from nudge.store.owner import owner_of
from nudge.team import ForUser, Served, working_for

log = logging.getLogger(__name__)

TICK = 2.0  # seconds between looks at who is due
BUSY_AGAIN = 5.0  # seconds before looking again at a day another daemon holds
RESCAN = 300.0  # seconds between readings of the team folder
REPLIES = "(replies)"  # the lease name of a user's reading of replies


@dataclass
class Day:
    """This daemon's view of one user's digest today."""

    finished: date | None = None  # the local day that needs nothing more from this daemon
    attempts: int = 0
    again_at: float = 0.0  # monotonic time before which the user is not looked at
    seen: float = field(default_factory=time.monotonic)  # when this daemon began to serve the user
    busy: date | None = None  # the day another daemon's claim was last logged


@dataclass
class Counts:
    """What one pass did (for the log and for bench/team.py)."""

    sent: int = 0
    busy: int = 0
    failed: int = 0
    synced: int = 0
    sources_failed: int = 0
    names: list[str] = field(default_factory=list)


class TeamDaemon:
    def __init__(self, config_path: str | None, main: Settings | None = None) -> None:
        self.config_path = config_path
        self.main = main or config.load(config_path)
        self.engine = team.open_team(self.main)
        self.holder = holder_id()
        self.users: list[Served] = []
        self.days: dict[str, Day] = {}
        self.problems: dict[str, str] = {}  # user -> the problem last logged for their file
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.lost = threading.Event()  # the lease of the sync in progress was taken over
        self.current: tuple[Served, str] | None = None  # the (user, source) being synced
        self.syncing = threading.Lock()
        self.notify = Notifier()
        self._start = random.Random(self.holder).random()  # where this daemon starts its walk
        self._scanned = 0.0

    # --- users ------------------------------------------------------------------------

    def load_users(self) -> list[Served]:
        """Read the team folder: every usable user, bound to their rows; each bad file logged once."""
        served: list[Served] = []
        seen: set[str] = set()
        for member in team_config.load_team(self.main):
            seen.add(member.name)
            if member.error is not None or member.settings is None:
                text = str(member.error)
                if self.problems.get(member.name) != text:
                    log.error("user %s is skipped: %s", member.name, text.replace("\n", " "))
                    self.problems[member.name] = text
                continue
            try:
                engine = team.bind(self.engine, member.name)
            except NudgeError as e:
                log.error("user %s is skipped: %s", member.name, e)
                continue
            if member.name in self.problems:
                log.info("user %s: their file is usable again", member.name)
                del self.problems[member.name]
            served.append(Served(member.name, member.settings, engine, owner_of(engine)))
        for gone in set(self.problems) - seen:
            del self.problems[gone]
        self.users = served
        self._scanned = time.monotonic()
        return served

    def order(self) -> list[Served]:
        """The users, starting from this daemon's own point in the list."""
        users = self.users
        if not users:
            return []
        start = int(self._start * len(users))
        return users[start:] + users[:start]

    # --- digests ----------------------------------------------------------------------

    def digest_pass(self) -> Counts:
        """Send every due digest this daemon can claim; the others are another daemon's."""
        counts = Counts()
        for user in self.order():
            if self.stopping.is_set():
                break
            self.digest_of(user, counts)
        return counts

    def digest_of(self, user: Served, counts: Counts) -> None:
        s = user.settings
        now = utcnow()
        day = now.astimezone(s.tz).date()
        state = self.days.setdefault(user.name, Day())
        if state.finished == day or state.again_at > time.monotonic() or not catch_up_due(s, now, None):
            return
        if time.monotonic() - state.seen < FIRST_SYNC_WAIT and self._stale(user):
            return  # as one daemon does at start: a caught-up digest waits a little for fresh data
        with Session(user.engine) as session:
            run = session.exec(select(DigestRun).where(DigestRun.date == day)).first()
        if run is not None and run.state == "sent":
            log.debug("user %s: %s", user.name, not_due(s, now, run.state))
            state.finished = day
            return
        # A day "sending" is mostly another daemon at work, not an interruption: send_digest tells
        # the two apart (Busy while a live claim holds it; otherwise it asks the channels).
        try:
            with working_for(user.name):
                result = service.send_digest(user.engine, s, now)
        except Busy as e:
            counts.busy += 1
            if state.busy != day:  # once a day: in a team most mornings see another daemon at work
                log.info("user %s: %s", user.name, e)
                state.busy = day
            state.again_at = time.monotonic() + BUSY_AGAIN
            return
        except Exception as e:
            known = isinstance(e, NudgeError)
            if not known:
                log.exception("user %s: digest failed unexpectedly", user.name)
            state.attempts += 1
            delay = retry_delay(s, state.attempts)
            counts.failed += 1
            why = str(e) if known else f"{type(e).__name__}: {e}"
            log.warning("user %s: digest not sent: %s; retrying in %.0f s", user.name, why, delay)
            state.again_at = time.monotonic() + delay
            return
        state.finished, state.attempts = day, 0
        if result.state == "sent":
            counts.sent += 1
            counts.names.append(user.name)
            log.info(
                "user %s: sent the digest for %s to %s: “%s”, %s",
                user.name,
                result.day,
                result.where,
                result.subject,
                describe_plan(result),
            )
        elif result.state == "ambiguous":
            log.warning(
                "user %s: the digest for %s may have gone out before an interruption; not sending it twice",
                user.name,
                result.day,
            )

    def _stale(self, user: Served) -> bool:
        """Whether one of the user's sources has not been synced (by any daemon) this interval."""
        found = leases.rows(self.engine, user.owner_id)
        every = user.settings.sync.interval * 60
        return any(
            leases.stale(found, user.owner_id, src.name, every)
            for src in user.settings.sources
            if src.enabled
        )

    # --- syncs ------------------------------------------------------------------------

    def sync_pass(self) -> Counts:
        """Sync every (user, source) that is due and free, and read each user's replies when due."""
        counts = Counts()
        taken = leases.rows(self.engine)
        for user in self.order():
            s = user.settings
            for src in s.sources:
                if self.stopping.is_set():
                    return counts
                if src.enabled and leases.looks_free(taken, user.owner_id, src.name, s.sync.interval * 60):
                    self.sync_one(user, src, counts)
            due = leases.looks_free(taken, user.owner_id, REPLIES, s.replies.interval * 60)
            if s.reply_source is not None and due:
                self.replies_of(user)
        return counts

    def sync_one(self, user: Served, src: SourceConfig, counts: Counts) -> None:
        s = user.settings
        if not leases.take(
            user.engine, user.owner_id, src.name, self.holder, s.sync.lease, s.sync.interval * 60, utcnow()
        ):
            return
        self.lost.clear()
        finished: datetime | None = None
        with self.syncing:
            self.current = (user, src.name)
            try:
                engine = leases.fenced(user.engine, user.owner_id, src.name, self.holder)
                source = load_source(src)
                stop = lambda: self.stopping.is_set() or self.lost.is_set()  # noqa: E731
                with working_for(user.name):
                    reports = service.sync_all(engine, s, utcnow(), sources=[source], stop=stop)
                if reports and not self.lost.is_set() and not self.stopping.is_set():
                    finished = utcnow()
                    counts.synced += 1
                    counts.sources_failed += not reports[0].ok
            except leases.LeaseLost:
                self.lost.set()
            except NudgeError as e:
                log.warning("user %s: %s: %s", user.name, src.name, e)
            except Exception:
                log.exception("user %s: sync of %s failed unexpectedly", user.name, src.name)
            finally:
                self.current = None
        if self.lost.is_set() or not leases.release(
            user.engine, user.owner_id, src.name, self.holder, finished
        ):
            log.warning(
                "user %s: the sync of %s was taken over by another daemon; stopped", user.name, src.name
            )

    def replies_of(self, user: Served) -> None:
        s = user.settings
        if not leases.take(
            user.engine, user.owner_id, REPLIES, self.holder, s.sync.lease, s.replies.interval * 60, utcnow()
        ):
            return
        finished: datetime | None = None
        try:
            engine = leases.fenced(user.engine, user.owner_id, REPLIES, self.holder)
            with working_for(user.name):
                service.poll_replies(engine, s, utcnow())
            finished = utcnow()
        except leases.LeaseLost as e:
            log.warning("user %s: %s", user.name, e)
        finally:
            leases.release(user.engine, user.owner_id, REPLIES, self.holder, finished)

    def heartbeat(self) -> None:
        """Renew the lease of the sync in progress every third of its length; note when it is lost."""
        while not self.stopping.is_set():
            current = self.current
            if current is not None:
                user, name = current
                try:
                    if not leases.renew(
                        user.engine, user.owner_id, name, self.holder, user.settings.sync.lease
                    ):
                        self.lost.set()
                except NudgeError as e:
                    log.warning("user %s: renewing the lease of %s failed: %s", user.name, name, e)
            lease = min((u.settings.sync.lease for u in self.users), default=300.0)
            self.stopping.wait(max(0.2, lease / 3))

    # --- the loops --------------------------------------------------------------------

    def _loop(self, name: str, step: Callable[[], object]) -> None:
        while not self.stopping.is_set():
            try:
                step()
            except NudgeError as e:
                log.warning("%s: %s", name, e)
            except Exception:
                log.exception("%s failed unexpectedly; going on", name)
            self.stopping.wait(TICK)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested.set()
        else:
            self.stopping.set()

    def reload(self) -> None:
        """Read the main config and the team folder again; a broken main config keeps the old one."""
        self.reload_requested.clear()
        try:
            fresh = config.load(self.config_path)
        except ConfigError as e:
            log.error("config reload failed, keeping the running config: %s", e)
            return
        if fresh.database != self.main.database:
            log.error("config reload: database_url changed; restart the daemon to use the new store")
            return
        self.main = fresh
        self.load_users()
        log.info("config reloaded: %d users", len(self.users))

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        for handler in logging.getLogger().handlers:
            handler.addFilter(ForUser())
        self.load_users()
        log.info(
            "nudge team daemon started (config: %s, %d users: %s)",
            self.config_path or config.find_config(None) or "defaults",
            len(self.users),
            ", ".join(u.name for u in self.users) or "none",
        )
        jobs = [("sync", self.sync_pass), ("digest", self.digest_pass)]
        threads = [threading.Thread(target=self._loop, args=job, name=f"nudge-{job[0]}") for job in jobs]
        threads.append(threading.Thread(target=self.heartbeat, name="nudge-lease"))
        for thread in threads:
            thread.daemon = True
            thread.start()
        self.notify("READY=1")
        tick = min(TICK, (self.notify.watchdog_seconds or TICK * 2) / 2)
        while not self.stopping.is_set():
            self.stopping.wait(tick)
            self.notify("WATCHDOG=1")
            if self.reload_requested.is_set() or time.monotonic() - self._scanned > RESCAN:
                self.reload()
        self.notify("STOPPING=1")
        log.info("stopping after the current send and sync batch")
        threads[1].join()  # a send finishes
        threads[0].join(STOP_GRACE)
        if threads[0].is_alive():
            log.warning(
                "the sync did not reach the end of a batch within %.0f s; exiting without it "
                "(its unfinished batch is rolled back, and its lease lapses for another daemon)",
                STOP_GRACE,
            )
            logging.shutdown()
            os._exit(0)
        self.engine.dispose()
        return 0


def run(config_path: str | Path | None) -> int:
    """`nudge run --team`: serve every user of the team folder until SIGTERM."""
    path = str(config_path) if config_path else None
    main = config.load(path)
    team_config.require_folder(main)
    return TeamDaemon(path, main).run()
