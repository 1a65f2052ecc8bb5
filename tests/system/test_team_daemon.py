"""`nudge run --team` as real processes: every user's digest once a day, every sync by one daemon.

Three users (ana, ben, cy) in a team folder, each with an address book and a calendar of
their own and an SMTP channel to one real aiosmtpd sink; two or three `nudge run --team`
daemons, each with a data folder of its own (as on machines of their own), against one
store. The crash tests kill -9 a daemon before, during and after SMTP (the sink stalls at
EHLO or DATA, or kills at QUIT: the message accepted, its "sent" not yet written), race two
daemons started in the same second, and freeze one with SIGSTOP past its lease, both in
a send and in a sync; each ends counting messages per recipient and touches per user.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.builders import vcalendar, vcard, vevent
from tests.system.test_daemon import Inbox, midday_zone, smtp, wait_for

__all__ = ["smtp"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

USERS = ("ana", "ben", "cy")
SENT = "sent the digest for"


@dataclass
class QuitInbox(Inbox):
    """An Inbox that runs `on_quit` when the client says QUIT: the message is accepted by then."""

    on_quit: Callable[[], None] | None = None

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.on_quit:
            self.on_quit()
        return "221 Bye"


@dataclass
class Team:
    """A main config naming a team folder, one file per user; each `start` a daemon of its own."""

    root: Path
    url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    def write(self, smtp_port: int, digest_in: float = -60, lease: float = 300, cards: int = 0) -> None:
        """The main config and each user's file; `cards` more people in each address book."""
        tz, local_now = midday_zone()
        send_at = (local_now + timedelta(seconds=digest_in)).strftime("%H:%M:%S")
        cutoff = (local_now + timedelta(hours=1)).strftime("%H:%M")
        self.config.write_text(
            f'timezone = "{tz}"\ndatabase_url = "{self.url}"\nteam = "users.d"\n'
            f"[sync]\ninterval = 60\nlease = {lease}\n"
        )
        self.config.chmod(0o600)
        now = datetime.now(UTC)
        folder = self.root / "users.d"
        folder.mkdir(exist_ok=True)
        for name in USERS:
            book, cal = self.root / f"{name}.vcf", self.root / f"{name}.ics"
            extra = "".join(
                vcard(f"{name}-{i}", f"Person {i} of {name}", emails=(f"p{i}@{name}.example.org",))
                for i in range(cards)
            )
            # The same friend in every book, under the same UID and address: never shared.
            book.write_text(
                vcard("friend", "Fran Kay", emails=("fran@example.org",), categories=("top100",))
                + vcard(f"{name}-own", f"Own of {name}", emails=(f"own@{name}.example.org",))
                + extra
            )
            meetings = [vevent("coffee", now - timedelta(days=40), ("fran@example.org",))]
            meetings += [
                vevent(f"m{i}", now - timedelta(hours=i + 1), (f"p{i}@{name}.example.org",))
                for i in range(cards)
            ]
            cal.write_text(vcalendar(*meetings))
            (folder / f"{name}.toml").write_text(
                f"""[me]
name = "{name.title()}"
emails = ["{name}@example.com"]
[digest]
time = "{send_at}"
cutoff = "{cutoff}"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
retry_delay = 1
to = "{name}@example.com"
[[sources]]
type = "files"
name = "book"
paths = ["{book}", "{cal}"]
[[channels]]
type = "smtp"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout = 20
"""
            )

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        log = open(self.root / f"daemon-{n}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "nudge", "-v", "--config", str(self.config), "run", "--team"],
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
        self.rows("DELETE FROM delivery")
        self.rows("DELETE FROM digestrun")


def recipients(inbox: Inbox) -> Counter[str]:
    return Counter(str(email.message_from_bytes(m)["To"]) for m in inbox.received)


ONE_EACH = Counter({f"{name}@example.com": 1 for name in USERS})


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGCONT)
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def make_team(root: Path, url: str) -> Iterator[Team]:
    team = Team(root, url)
    yield team
    for proc in team.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()


@pytest.fixture
def team(tmp_path: Path, store_url: str) -> Iterator[Team]:
    yield from make_team(tmp_path, store_url)


@pytest.fixture
def pg_team(tmp_path: Path, postgres_store_url: str) -> Iterator[Team]:
    yield from make_team(tmp_path, postgres_store_url)


def all_synced(team: Team) -> bool:
    return len(team.rows("SELECT owner_id FROM synclease WHERE synced_at IS NOT NULL")) == len(USERS)


@pytest.mark.both_stores
def test_two_team_daemons_started_together_send_each_user_one_digest(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """The race at the same second, three mornings running: each user gets one digest a day,
    and each user's book is synced once (by one daemon), with their own people only."""
    inbox, port = smtp(Inbox(stall_ehlo=0.2))
    team.write(port)
    for morning in range(3):
        if morning:
            team.new_morning()
        before = len(inbox.received)
        procs = [team.start(), team.start()]
        wait_for(lambda n=before: len(inbox.received) >= n + 3, timeout=60, what=f"morning {morning}")
        time.sleep(3)  # a second send, a retry or the other daemon would show up now
        assert [stop(p) for p in procs] == [0, 0]
        assert recipients(inbox) == Counter({k: v * (morning + 1) for k, v in ONE_EACH.items()})
        logs = [team.log(p) for p in procs]
        assert sum(log.count(SENT) for log in logs) == 3, logs
        # a day the other daemon is sending is its work, not an interruption to warn about
        assert not any("may have gone out" in log for log in logs), logs
        if morning == 0:  # each user's book synced once, by either, and the line names its user
            assert all(sum(log.count(f"user {u}: book: ") for log in logs) == 1 for u in USERS), logs
            # and each digest waited for it: it names the friend met 40 days ago
            subjects = [str(email.message_from_bytes(m, policy=default)["Subject"]) for m in inbox.received]
            assert all("Fran Kay" in subject for subject in subjects), subjects
    per_owner = team.rows(
        "SELECT u.name, count(*) FROM contact c JOIN nudge_user u ON u.id = c.owner_id "
        "GROUP BY u.name ORDER BY u.name"
    )
    assert per_owner == [(name, 2) for name in USERS]
    touches = team.rows("SELECT owner_id, count(*) FROM touch GROUP BY owner_id")
    assert sorted(n for _, n in touches) == [1, 1, 1]
    [(synced,)] = team.rows("SELECT count(*) FROM synclease WHERE source = 'book' AND synced_at IS NOT NULL")
    assert synced == 3


@pytest.mark.both_stores
def test_a_bad_user_file_is_logged_and_the_others_get_their_digest(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    inbox, port = smtp(Inbox())
    team.write(port)
    bad = team.root / "users.d" / "ben.toml"
    bad.write_text(bad.read_text().replace("retry_delay = 1", 'retry_delay = "soon"'))
    proc = team.start()
    wait_for(lambda: len(inbox.received) == 2, timeout=60, what="two digests")
    time.sleep(2)
    assert stop(proc) == 0
    assert recipients(inbox) == Counter({"ana@example.com": 1, "cy@example.com": 1})
    log = team.log(proc)
    assert f"user ben is skipped: 1 problem(s) in {bad}" in log and "digest.retry_delay" in log


@pytest.mark.slow
def test_kill_before_smtp_the_other_daemon_sends_every_day_once(
    pg_team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """kill -9 while connecting (a user's day claimed, nothing sent): the other daemon takes
    that day over at once (a dead process on this machine) and sends each user's once."""
    inbox, port = smtp(Inbox(stall_ehlo=60))
    pg_team.write(port)
    first = pg_team.start()
    wait_for(inbox.ehlo_started.is_set, timeout=60, what="the first daemon connecting")
    [(holder,)] = pg_team.rows("SELECT claimed_by FROM digestrun WHERE claimed_by IS NOT NULL")
    assert f":{first.pid}:" in str(holder)
    first.kill()
    first.wait()
    inbox.stall_ehlo = 0
    second = pg_team.start()
    wait_for(lambda: len(inbox.received) == 3, timeout=60, what="three digests from the other daemon")
    time.sleep(3)
    assert stop(second) == 0
    assert recipients(inbox) == ONE_EACH
    assert pg_team.rows("SELECT DISTINCT state FROM digestrun") == [("sent",)]


@pytest.mark.slow
def test_kill_during_data_that_users_day_is_not_sent_again(
    pg_team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """kill -9 while a message is in flight: its outcome is unknown, so no daemon sends that
    user's day again; the other users get theirs from the other daemon."""
    inbox, port = smtp(Inbox(stall_data=60))
    pg_team.write(port)
    first = pg_team.start()
    wait_for(inbox.data_started.is_set, timeout=60, what="a message in flight")
    first.kill()
    first.wait()
    inbox.stall_data = 0
    [to] = recipients(inbox)
    second = pg_team.start()
    wait_for(lambda: len(inbox.received) == 3, timeout=60, what="the other two digests")
    wait_for(
        lambda: "may have gone out before an interruption" in pg_team.log(second),
        timeout=30,
        what="a refusal",
    )
    time.sleep(3)
    assert stop(second) == 0
    assert recipients(inbox) == ONE_EACH
    assert SENT not in "".join(line for line in pg_team.log(second).splitlines() if to.split("@")[0] in line)


@pytest.mark.slow
def test_kill_after_smtp_before_the_commit_that_users_day_is_not_sent_again(
    pg_team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """kill -9 once the server has accepted a message (at QUIT), before "sent" is written."""
    victim: list[subprocess.Popen[bytes]] = []

    def kill_the_sender() -> None:
        if victim and victim[0].poll() is None:
            victim[0].kill()

    inbox, port = smtp(QuitInbox(on_quit=kill_the_sender))
    pg_team.write(port)
    first = pg_team.start()
    victim.append(first)
    first.wait(timeout=60)
    assert len(inbox.received) == 1
    victim.clear()
    second = pg_team.start()
    wait_for(lambda: len(inbox.received) == 3, timeout=60, what="the other two digests")
    time.sleep(3)
    assert stop(second) == 0
    assert recipients(inbox) == ONE_EACH
    assert sorted(str(s) for (s,) in pg_team.rows("SELECT state FROM digestrun")) == [
        "sending",
        "sent",
        "sent",
    ]


@pytest.mark.slow
def test_a_daemon_frozen_past_its_day_lease_sends_nothing_when_woken(
    pg_team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """SIGSTOP while connecting for one user: the other daemon sends the other users at once,
    and that user's day once the lease lapses (moved into the past here rather than waiting
    30 minutes); the frozen one, woken, finds its lease gone and sends nothing."""
    inbox, port = smtp(Inbox())
    inbox.gate = threading.Event()
    pg_team.write(port, lease=3)  # a sync transaction it froze in is given up after 3 s
    first = pg_team.start()
    wait_for(inbox.ehlo_started.is_set, timeout=60, what="the first daemon connecting")
    first.send_signal(signal.SIGSTOP)
    inbox.gate.set()
    second = pg_team.start()
    wait_for(lambda: len(inbox.received) == 2, timeout=60, what="the other users' digests")
    pg_team.rows(
        "UPDATE digestrun SET claimed_until = now() AT TIME ZONE 'UTC' - interval '1 second' "
        "WHERE claimed_by IS NOT NULL"
    )
    wait_for(lambda: len(inbox.received) == 3, timeout=60, what="the frozen daemon's user, from the other")
    first.send_signal(signal.SIGCONT)
    wait_for(lambda: "lapsed" in pg_team.log(first), timeout=30, what="the woken daemon giving up")
    time.sleep(2)
    assert stop(first) == 0 and stop(second) == 0
    assert recipients(inbox) == ONE_EACH
    assert SENT not in pg_team.log(first)


CARDS = 1500


def frozen_in_a_sync(team: Team, proc: subprocess.Popen[bytes]) -> int | None:
    """SIGSTOP `proc` while it holds a sync's lease between two of its transactions (frozen inside
    one it would hold the user's write lock, and no one could take over until it woke); the
    user whose sync it froze in, or None after waking it again to try once more."""
    proc.send_signal(signal.SIGSTOP)
    time.sleep(0.05)
    busy = team.rows(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state <> 'idle'"
    )[0][0]
    held = team.rows("SELECT owner_id, holder FROM synclease WHERE holder IS NOT NULL AND synced_at IS NULL")
    if busy == 0 and len(held) == 1 and f":{proc.pid}:" in str(held[0][1]):
        return int(str(held[0][0]))
    proc.send_signal(signal.SIGCONT)
    time.sleep(0.02)
    return None


@pytest.mark.slow
def test_a_daemon_frozen_past_its_sync_lease_writes_nothing_when_woken(
    pg_team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    """SIGSTOP in the middle of a user's sync, past its (3 s) lease: the other daemon takes the
    sync over and completes it; the frozen one, woken, has its next commit refused. Every
    user ends with their people and touches once each, none lost, none doubled."""
    inbox, port = smtp(Inbox())
    pg_team.write(port, digest_in=3 * 3600 - 60, lease=3, cards=CARDS)  # no digest due in this test
    first = pg_team.start()
    wait_for(lambda: pg_team.rows("SELECT count(*) FROM contact")[0][0] > 0, timeout=120, what="a sync")
    held = wait_for(lambda: frozen_in_a_sync(pg_team, first), timeout=60, what="a freeze mid-sync")
    time.sleep(4)  # past the lease
    second = pg_team.start()
    wait_for(lambda: all_synced(pg_team), timeout=180, what="every user synced by the other daemon")
    first.send_signal(signal.SIGCONT)
    wait_for(lambda: "taken over by" in pg_team.log(first), timeout=60, what="the woken daemon stopping")
    time.sleep(2)
    assert stop(first) == 0 and stop(second) == 0
    contacts = dict(pg_team.rows("SELECT owner_id, count(*) FROM contact GROUP BY owner_id"))
    touches = dict(pg_team.rows("SELECT owner_id, count(*) FROM touch GROUP BY owner_id"))
    assert set(contacts.values()) == {CARDS + 2} and len(contacts) == 3
    assert set(touches.values()) == {CARDS + 1} and len(touches) == 3
    doubled = pg_team.rows(
        "SELECT count(*) FROM (SELECT contact_id, external_id FROM touch "
        "GROUP BY contact_id, external_id HAVING count(*) > 1) d"
    )
    assert doubled == [(0,)]
    assert held in contacts
    assert "taken over from" in pg_team.log(second)
    assert inbox.received == []


def test_a_user_added_while_it_runs_is_served_after_sighup(
    team: Team, smtp: Callable[..., tuple[Inbox, int]]
) -> None:
    inbox, port = smtp(Inbox())
    team.write(port)
    folder = team.root / "users.d"
    later = folder / "cy.toml"
    held = later.read_text()
    later.unlink()
    proc = team.start()
    wait_for(lambda: len(inbox.received) == 2, timeout=60, what="ana's and ben's digests")
    later.write_text(held)
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(inbox.received) == 3, timeout=60, what="cy's digest after the reload")
    time.sleep(2)
    assert stop(proc) == 0
    assert recipients(inbox) == ONE_EACH
    assert "config reloaded: 3 users" in team.log(proc)
