"""The day's claim on a real PostgreSQL: one digest a day, whatever happens to the processes.

A PostgreSQL store has no file beside it to lock, so the right to send a day is a lease
on its DigestRun row (digest.claim). Here real `nudge` processes share one database:
`nudge digest` twice at the same moment, and `nudge run` on two "machines" (two data
folders, so each holds its own run.lock, as two servers would), one of which is killed
with SIGKILL or frozen with SIGSTOP in the middle of a send. SMTP is a real aiosmtpd
server whose handler stalls at a chosen step, so the signal lands where we want it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.builders import ME, vcalendar, vcard, vevent
from tests.servers import forked
from tests.system.test_daemon import Inbox, midday_zone, smtp, wait_for

__all__ = ["smtp"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SENT = "sent the digest for"


@dataclass
class Team:
    """One config and one PostgreSQL store; each `start` is a daemon on another machine."""

    root: Path
    url: str  # with the password: the config is 0600, and forked processes have no PGPASSFILE
    config: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def write(self, smtp_port: int, digest_in: float = -60) -> None:
        tz, local_now = midday_zone()
        send_at = (local_now + timedelta(seconds=digest_in)).strftime("%H:%M:%S")
        cutoff = (local_now + timedelta(hours=1)).strftime("%H:%M")
        self.config.write_text(
            f"""timezone = "{tz}"
database_url = "{self.url}"
maildir = "{self.root / "Maildir"}"
[me]
emails = ["{ME}"]
[digest]
time = "{send_at}"
cutoff = "{cutoff}"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
retry_delay = 1
to = "{ME}"
[[sources]]
type = "files"
name = "book"
paths = ["{self.root / "contacts.vcf"}", "{self.root / "calendar.ics"}"]
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout = 20
"""
        )
        self.config.chmod(0o600)

    def start(self) -> subprocess.Popen[bytes]:
        """`nudge run` with a data folder of its own (its run.lock), as on a machine of its own."""
        n = len(self.procs)
        log = open(self.root / f"daemon-{n}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "nudge", "-v", "--config", str(self.config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "XDG_DATA_HOME": str(self.root / f"machine-{n}")},
        )
        self.procs.append(proc)
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.root / f"daemon-{self.procs.index(proc)}.log").read_text()

    def rows(self, query: str) -> list[tuple[object, ...]]:
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(query))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def new_morning(self) -> None:
        """Today is unsent again, everything else stays (as the next day would find it)."""
        self.rows("DELETE FROM delivery")
        self.rows("DELETE FROM digestrun")


@pytest.fixture
def team(tmp_path: Path, postgres_store_url: str) -> Iterator[Team]:
    now = datetime.now(UTC)
    (tmp_path / "contacts.vcf").write_text(
        vcard("ana", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",))
        + vcard("ben", "Ben Ott", emails=("ben@example.net",), categories=("partner",))
    )
    (tmp_path / "calendar.ics").write_text(
        vcalendar(vevent("e", now - timedelta(days=40), ("ana@example.org",)))
    )
    t = Team(tmp_path, postgres_store_url, tmp_path / "config.toml")
    yield t
    for proc in t.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def test_a_daemon_killed_holding_the_day_is_taken_over_by_the_other_at_once(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """kill -9 while connecting (the day claimed, nothing sent): the other machine's daemon,
    refused while the first held the day, sends it on its next try; one digest."""
    inbox, port = smtp(Inbox(stall_ehlo=60))
    team.write(port)
    first = team.start()
    wait_for(inbox.ehlo_started.is_set, timeout=30, what="the first daemon connecting")
    [(holder,)] = team.rows("SELECT claimed_by FROM digestrun")
    assert f":{first.pid}:" in str(holder)
    second = team.start()
    wait_for(lambda: "another nudge process is sending it" in team.log(second), timeout=30, what="a refusal")
    assert f"PID {first.pid} on " in team.log(second)
    first.kill()  # SIGKILL: no clean-up, the lease stays in the row
    first.wait()
    inbox.stall_ehlo = 0
    wait_for(lambda: len(inbox.received) == 1, timeout=30, what="the digest from the other daemon")
    time.sleep(2)  # a retry or a restart would show up as a second message now
    assert stop(second) == 0
    assert len(inbox.received) == 1
    assert SENT in team.log(second)
    assert team.rows("SELECT state, claimed_by FROM digestrun") == [("sent", None)]


def test_a_daemon_killed_during_data_is_not_sent_again_by_the_other(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """kill -9 while the message is in flight: the outcome is unknown, so no one sends it again."""
    inbox, port = smtp(Inbox(stall_data=60))
    team.write(port)
    first = team.start()
    wait_for(inbox.data_started.is_set, timeout=30, what="the message in flight")
    first.kill()
    first.wait()
    inbox.stall_data = 0
    second = team.start()
    wait_for(
        lambda: "may have gone out before an interruption" in team.log(second), timeout=30, what="a refusal"
    )
    time.sleep(2)
    assert stop(second) == 0
    assert len(inbox.received) == 1
    assert team.rows("SELECT state FROM digestrun") == [("sending",)]


def test_a_daemon_frozen_past_its_lease_loses_the_day_and_sends_nothing(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """SIGSTOP while connecting, until its lease has lapsed: the other daemon sends the day,
    and the frozen one, woken, finds its lease gone and stops before sending; one digest.

    The lease lasts 30 minutes; the test moves its end into the past rather than wait.
    """
    inbox, port = smtp(Inbox())
    inbox.gate = threading.Event()  # every EHLO waits until the gate opens
    team.write(port)
    first = team.start()
    wait_for(inbox.ehlo_started.is_set, timeout=30, what="the first daemon connecting")
    first.send_signal(signal.SIGSTOP)
    second = team.start()
    wait_for(lambda: "another nudge process is sending it" in team.log(second), timeout=30, what="a refusal")
    team.rows("UPDATE digestrun SET claimed_until = now() AT TIME ZONE 'UTC' - interval '1 second'")
    inbox.gate.set()
    wait_for(lambda: len(inbox.received) == 1, timeout=30, what="the digest from the other daemon")
    first.send_signal(signal.SIGCONT)
    wait_for(lambda: "lapsed" in team.log(first), timeout=30, what="the woken daemon giving up")
    time.sleep(2)
    assert stop(first) == 0 and stop(second) == 0
    assert len(inbox.received) == 1
    assert SENT in team.log(second) and SENT not in team.log(first)


TRIALS = 20


@pytest.mark.slow
def test_two_digests_started_at_the_same_moment_send_the_day_once(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """`nudge digest` twice at once against one PostgreSQL, 20 times: one message each time;
    the other process waits for the first and then says the day is sent."""
    inbox, port = smtp(Inbox(stall_ehlo=0.2))  # a slow server: a wide window between claim and send
    team.write(port, digest_in=-60)
    args = ["--config", str(team.config), "digest"]
    for trial in range(TRIALS):
        team.new_morning()
        before = len(inbox.received)
        logs = [team.root / f"race-{trial}-{i}.log" for i in (0, 1)]
        procs = [forked.start(args, log) for log in logs]
        for proc in procs:
            proc.join(60)
        texts = [log.read_text() for log in logs]
        assert len(inbox.received) == before + 1, f"trial {trial}\n" + "\n".join(texts)
        assert sorted(p.exitcode or 0 for p in procs) == [0, 0], texts
        assert sum("Sent" in t for t in texts) == 1, texts
        assert sum("already sent" in t for t in texts) == 1, texts


@pytest.mark.slow
def test_two_daemons_on_two_machines_started_together_send_the_day_once(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """Active-active: both catch the due digest up at start, three mornings running."""
    inbox, port = smtp(Inbox(stall_ehlo=0.2))
    team.write(port, digest_in=-60)
    for trial in range(3):
        team.new_morning()
        before = len(inbox.received)
        procs = [team.start(), team.start()]
        wait_for(lambda n=before: len(inbox.received) > n, timeout=40, what=f"trial {trial}: a digest")
        wait_for(
            lambda ps=procs: (
                sum(SENT in team.log(p) for p in ps) == 1 and all("book:" in team.log(p) for p in ps)
            ),
            timeout=40,
            what="both daemons started",
        )
        time.sleep(2)  # the loser's retry comes within retry_delay: it must find the day sent
        codes = [stop(p) for p in procs]
        assert codes == [0, 0]
        assert len(inbox.received) == before + 1, [team.log(p) for p in procs]
