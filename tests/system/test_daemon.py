"""`nudge run` as a real subprocess: one digest a day whatever happens to the process.

The digest time is set a few seconds ahead in a time zone where it is midday,
so the tests never straddle midnight; SMTP is a real aiosmtpd server whose
handler can stall at a chosen step, so kill -9 lands exactly where we want it.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.builders import ME, vcalendar, vcard, vevent
from tests.servers import forked
from tests.servers.smtp import free_port

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def midday_zone() -> tuple[str, datetime]:
    """An Etc/GMT zone where it is about noon now, and the local time there."""
    utc = datetime.now(UTC)
    offset = 12 - utc.hour  # hours east of UTC; within -11..12
    name = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc signs are inverted
    return name, utc + timedelta(hours=offset)


@dataclass
class Inbox:
    """An SMTP handler that records messages and can stall at EHLO or DATA."""

    received: list[bytes] = field(default_factory=list)
    stall_ehlo: float = 0.0
    stall_data: float = 0.0
    on_data: Callable[[], None] | None = None
    data_started: threading.Event = field(default_factory=threading.Event)
    ehlo_started: threading.Event = field(default_factory=threading.Event)
    ehlos: int = 0  # EHLOs begun: one per connection
    gate: threading.Event | None = None  # set: EHLO is answered; clear: every EHLO waits for it

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.ehlos += 1
        self.ehlo_started.set()
        await asyncio.sleep(self.stall_ehlo)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.01)
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        self.data_started.set()
        if self.on_data:
            self.on_data()
        await asyncio.sleep(self.stall_data)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Callable[..., tuple[Inbox, int]]]:
    controllers: list[Controller] = []

    def start(inbox: Inbox | None = None, port: int | None = None) -> tuple[Inbox, int]:
        inbox = inbox or Inbox()
        port = port or free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=5.0)
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for c in controllers:
        c.stop()


@dataclass
class Setup:
    root: Path
    config: Path
    tz: str
    local_now: datetime
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def maildir(self) -> Path:
        return self.root / "Maildir"

    def write(
        self, digest_in: float = 6, cutoff_in: float = 3600, smtp_port: int | None = None, extra: str = ""
    ) -> None:
        """Config with the digest `digest_in` seconds from now (negative: already past)."""
        send_at = (self.local_now + timedelta(seconds=digest_in)).strftime("%H:%M:%S")
        cutoff = (self.local_now + timedelta(seconds=cutoff_in)).strftime("%H:%M")
        smtp = (
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\ntimeout = 20\n'
            if smtp_port
            else ""
        )
        self.config.write_text(
            f"""timezone = "{self.tz}"
database_url = "sqlite:///{self.root / "nudge.db"}"
maildir = "{self.maildir}"
[me]
emails = ["{ME}"]
[digest]
time = "{send_at}"
cutoff = "{cutoff}"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
retry_delay = 2
to = "{ME}"
[[sources]]
type = "files"
name = "book"
paths = ["{self.root / "contacts.vcf"}", "{self.root / "calendar.ics"}"]
{extra}{smtp}"""
        )

    def start(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.root / f"daemon-{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "nudge", "-v", "--config", str(self.config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.procs.append(proc)
        return proc

    def log(self, index: int = -1) -> str:
        return (self.root / f"daemon-{len(self.procs) + index if index < 0 else index}.log").read_text()

    def delivered(self) -> int:
        if not (self.maildir / "new").exists():
            return 0
        return len(mailbox.Maildir(str(self.maildir), create=False))

    def stop(self, proc: subprocess.Popen[bytes]) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30)  # the clean-stop test holds it to 5 s


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    tz, local_now = midday_zone()
    now = datetime.now(UTC)
    (tmp_path / "contacts.vcf").write_text(
        vcard("ana", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",))
        + vcard("ben", "Ben Ott", emails=("ben@example.net",), categories=("partner",))
    )
    (tmp_path / "calendar.ics").write_text(
        vcalendar(vevent("e", now - timedelta(days=40), ("ana@example.org",)))
    )
    s = Setup(tmp_path, tmp_path / "config.toml", tz, local_now)
    yield s
    for proc in s.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def started(s: Setup) -> bool:
    return "nudge daemon started" in s.log() and "book:" in s.log()


def test_digest_arrives_once_and_a_restart_does_not_resend(setup: Setup) -> None:
    setup.write(digest_in=4)
    proc = setup.start()
    wait_for(lambda: setup.delivered() == 1, what="the digest")
    assert setup.stop(proc) == 0
    again = setup.start()
    wait_for(lambda: started(setup), what="the restart")
    time.sleep(1.5)
    assert setup.stop(again) == 0
    assert setup.delivered() == 1
    assert "sent the digest" not in setup.log()


def test_missed_digest_is_caught_up_before_the_cutoff(setup: Setup) -> None:
    setup.write(digest_in=-120, cutoff_in=3600)
    proc = setup.start()
    wait_for(lambda: setup.delivered() == 1, what="the caught-up digest")
    assert "is due and not sent" in setup.log()
    setup.stop(proc)


def test_missed_digest_is_not_sent_after_the_cutoff(setup: Setup) -> None:
    setup.write(digest_in=-300, cutoff_in=-120)
    proc = setup.start()
    wait_for(lambda: started(setup), what="start-up")
    time.sleep(1.5)
    assert setup.stop(proc) == 0
    assert setup.delivered() == 0


def test_kill_before_sending_then_restart_sends_once(
    setup: Setup, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    slow, port = smtp(Inbox(stall_ehlo=30))
    setup.write(digest_in=3, smtp_port=port)
    proc = setup.start()
    wait_for(slow.ehlo_started.is_set, what="the daemon connecting")
    proc.kill()  # kill -9 while it waits for the server: nothing sent yet
    proc.wait()
    slow.stall_ehlo = 0
    proc = setup.start()
    wait_for(lambda: len(slow.received) == 1, what="the digest after the restart")
    time.sleep(1)
    setup.stop(proc)
    assert len(slow.received) == 1


def test_kill_during_sending_never_sends_twice(setup: Setup, smtp: Callable[..., tuple[Inbox, int]]) -> None:
    inbox, port = smtp(Inbox(stall_data=30))
    setup.write(digest_in=3, smtp_port=port)
    proc = setup.start()
    wait_for(inbox.data_started.is_set, what="the message in flight")
    proc.kill()
    proc.wait()
    inbox.stall_data = 0
    proc = setup.start()
    wait_for(lambda: started(setup), what="the restart")
    time.sleep(1.5)
    setup.stop(proc)
    assert len(inbox.received) == 1
    assert "may have gone out before an interruption" in setup.log()


def test_kill_after_sending_before_the_commit_never_sends_twice(
    setup: Setup, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    lock = sqlite3.connect(setup.root / "nudge.db", timeout=30, isolation_level=None, check_same_thread=False)

    def hold_the_database() -> None:
        lock.execute("BEGIN IMMEDIATE")  # the daemon's "sent" commit now waits

    inbox, port = smtp(Inbox(on_data=hold_the_database))
    setup.write(digest_in=3, smtp_port=port)
    proc = setup.start()
    wait_for(inbox.data_started.is_set, what="the message accepted")
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    lock.execute("ROLLBACK")
    lock.close()
    proc = setup.start()
    wait_for(lambda: started(setup), what="the restart")
    time.sleep(1.5)
    setup.stop(proc)
    assert len(inbox.received) == 1


def test_smtp_down_then_up_is_sent_once_after_a_retry(
    setup: Setup, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    port = free_port()
    setup.write(digest_in=3, smtp_port=port)
    proc = setup.start()
    wait_for(lambda: "retrying in" in setup.log(), what="a failed attempt")
    inbox, _ = smtp(Inbox(), port=port)
    wait_for(lambda: len(inbox.received) == 1, timeout=30, what="the retried digest")
    time.sleep(1)
    setup.stop(proc)
    assert len(inbox.received) == 1


def test_a_failing_source_does_not_stop_the_digest(setup: Setup) -> None:
    setup.write(
        digest_in=4,
        extra=f'[[sources]]\ntype = "files"\nname = "gone"\npaths = ["{setup.root / "missing.vcf"}"]\n',
    )
    proc = setup.start()
    wait_for(lambda: setup.delivered() == 1, what="the digest")
    setup.stop(proc)
    [message] = list(mailbox.Maildir(str(setup.maildir), create=False))
    text = message.get_payload()[0].get_payload(decode=True).decode()
    assert "Source gone is failing" in text and "missing.vcf" in text
    assert "Ana Ruiz" in text


def test_sigterm_exits_cleanly_and_sighup_keeps_a_good_config(setup: Setup) -> None:
    setup.write(digest_in=3600)
    proc = setup.start()
    wait_for(lambda: started(setup), what="start-up")
    setup.config.write_text("[digest]\ndaily_size = 0\n")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "config reload failed" in setup.log(), what="the reload attempt")
    assert "digest.daily_size" in setup.log()
    assert proc.poll() is None
    began = time.monotonic()
    assert setup.stop(proc) == 0
    assert time.monotonic() - began < 5


def test_sd_notify_ready_status_watchdog_and_stopping(setup: Setup, tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    messages: list[str] = []

    def collect(until: str) -> None:
        while not any(until in m for m in messages):
            messages.append(sock.recv(4096).decode())

    setup.write(digest_in=3600)
    proc = setup.start(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
    collect("READY=1")
    collect("WATCHDOG=1")
    collect("last sync")
    proc.send_signal(signal.SIGTERM)
    collect("STOPPING=1")
    assert proc.wait(timeout=10) == 0
    sock.close()
    status = next(m for m in messages if m.startswith("STATUS=") and "next digest" in m)
    assert "next digest" in status


def test_journal_format_under_systemd(setup: Setup) -> None:
    setup.write(digest_in=3600)
    proc = setup.start(env={"JOURNAL_STREAM": "8:12345"})
    wait_for(lambda: started(setup), what="start-up")
    setup.stop(proc)
    lines = [line for line in setup.log().splitlines() if "nudge daemon started" in line]
    assert lines and lines[0].startswith("<6>nudge.daemon: nudge daemon started")


# --- races: two processes, one day ---------------------------------------------------------

TRIALS = 50
DONE = ("sent the digest for", "is already sent", "may have gone out", "digest not sent")


def unsend_today(db: Path) -> None:
    """Between trials: today is unsent again (as on a new morning), everything else stays."""
    if db.exists():
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM digestrun")
            conn.execute("DELETE FROM delivery")


def text_of(log: Path) -> str:
    return log.read_text() if log.exists() else ""


def settled(proc: BaseProcess, log: Path) -> bool:
    """The process has exited, or its start-up catch-up has come to an end either way."""
    text = text_of(log)
    return not proc.is_alive() or any(marker in text for marker in DONE)


def terminate(proc: BaseProcess) -> int | None:
    if proc.is_alive() and proc.pid is not None:
        os.kill(proc.pid, signal.SIGTERM)
    proc.join(20)
    return proc.exitcode


@pytest.mark.slow
def test_two_daemons_racing_never_send_a_day_twice(
    setup: Setup, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """Two `nudge run` started together on one config, 50 times: one digest each time, and the
    second daemon leaves at once, naming the first."""
    inbox, port = smtp(Inbox(stall_ehlo=0.2))  # a slow server: a wide window between claim and send
    setup.write(digest_in=-60, smtp_port=port)  # due already: each daemon catches it up at start
    args = ["-v", "--config", str(setup.config), "run"]
    for trial in range(TRIALS):
        unsend_today(setup.root / "nudge.db")
        before = len(inbox.received)
        logs = [setup.root / f"race-{trial}-{i}.log" for i in (0, 1)]
        procs = [forked.start(args, log) for log in logs]
        try:
            wait_for(lambda n=before: len(inbox.received) > n, what=f"trial {trial}: a digest")
            wait_for(lambda ps=procs, ls=logs: all(map(settled, ps, ls)), what="both daemons")
        finally:
            codes = [terminate(p) for p in procs]
        texts = [lg.read_text() for lg in logs]
        assert len(inbox.received) == before + 1, f"trial {trial}: two digests\n" + "\n".join(texts)
        assert sorted(codes) == [0, 1], texts
        loser = codes.index(1)
        winner_pid = procs[1 - loser].pid
        assert f"nudge run is already running for this store (PID {winner_pid})" in texts[loser]


@pytest.mark.slow
def test_cli_digest_during_a_send_never_sends_the_day_twice(
    setup: Setup, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """`nudge digest` while the daemon is in the middle of sending (connected, not yet through
    EHLO), 50 times: the CLI waits for the daemon, then says the day is sent; one digest."""
    gate = threading.Event()
    inbox, port = smtp(Inbox(gate=gate))
    setup.write(digest_in=-60, smtp_port=port)
    config = ["-v", "--config", str(setup.config)]
    for trial in range(TRIALS):
        unsend_today(setup.root / "nudge.db")
        gate.clear()
        before, ehlos = len(inbox.received), inbox.ehlos
        daemon_log, cli_log = setup.root / f"send-{trial}.log", setup.root / f"cli-{trial}.log"
        daemon = forked.start([*config, "run"], daemon_log)
        cli: BaseProcess | None = None
        try:
            try:
                wait_for(
                    lambda n=ehlos: inbox.ehlos > n, timeout=60, what=f"trial {trial}: the daemon connecting"
                )
            except AssertionError as e:
                raise AssertionError(f"{e}\n{text_of(daemon_log)}") from None
            cli = forked.start([*config, "digest"], cli_log)

            def at_the_day(n: int = ehlos, log: Path = cli_log, proc: BaseProcess = cli) -> bool:
                """The CLI waits for the day, or (without a claim) connects on its own."""
                return "waiting up to" in text_of(log) or inbox.ehlos > n + 1 or not proc.is_alive()

            wait_for(at_the_day, what="the CLI reaching the day")
            gate.set()
            cli.join(30)
            wait_for(lambda p=daemon, lg=daemon_log: settled(p, lg), what="the daemon's send")
        finally:
            gate.set()
            terminate(daemon)
            if cli is not None:
                terminate(cli)
        text = text_of(cli_log)
        assert len(inbox.received) == before + 1, f"trial {trial}: two digests\n{text}"
        assert cli.exitcode == 0 and "Today's digest was already sent" in text, text
        assert f"waiting up to 10 s for PID {daemon.pid}" in text


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback server that accepts connections and never answers: a sync against it hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.slow
def test_a_hung_sync_neither_delays_the_digest_nor_sigterm(setup: Setup, silent_server: int) -> None:
    hung = (
        f'[[sources]]\ntype = "carddav"\nname = "hung"\nurl = "http://127.0.0.1:{silent_server}/dav/"\n'
        "timeout = 300\n"
    )
    setup.write(digest_in=4, extra=hung)
    proc = setup.start()
    wait_for(lambda: "nudge daemon started" in setup.log(), what="start-up")
    wait_for(lambda: setup.delivered() == 1, what="the digest while the sync hangs")
    assert "hung:" not in setup.log()  # the sync is still waiting for the server
    began = time.monotonic()
    assert setup.stop(proc) == 0
    assert time.monotonic() - began < 15  # STOP_GRACE, not the source's 300 s timeout
    assert "exiting without it" in setup.log()
