"""What `nudge run` and `nudge run --once` say at the default log level, read from a real process.

`journalctl --user -u nudge` shows the daemon's stderr and nothing else, so
each test starts `python -m nudge run` without -v and reads that stream: each
sync (per source, with what it skipped and why a source failed), each digest
(what was planned, where it went, or why none went), each failure.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from tests.builders import ME
from tests.servers.dovecot import Dovecot, dovecot
from tests.servers.smtp import free_port
from tests.system.test_daemon import Setup, setup, started, wait_for

__all__ = ["dovecot", "setup"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BROKEN_CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bad-1\r\nEND:VCARD\r\n"


def start(s: Setup, *args: str) -> subprocess.Popen[bytes]:
    """`nudge --config … run [args]` at the default log level, its stderr into daemon-N.log."""
    log = open(s.root / f"daemon-{len(s.procs)}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "nudge", "--config", str(s.config), "run", *args],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    s.procs.append(proc)
    return proc


def once(s: Setup) -> tuple[int, str]:
    proc = start(s, "--once")
    code = proc.wait(timeout=60)
    return code, s.log()


def gone_source(s: Setup) -> str:
    return f'[[sources]]\ntype = "files"\nname = "gone"\npaths = ["{s.root / "missing.vcf"}"]\n'


def test_the_daemon_logs_each_sync_and_the_digest_at_the_default_level(setup: Setup) -> None:
    with (setup.root / "contacts.vcf").open("a") as f:
        f.write(BROKEN_CARD)
    setup.write(digest_in=-60, extra=gone_source(setup))
    proc = start(setup)
    wait_for(lambda: "sent the digest" in setup.log(), what="the digest in the log")
    assert setup.stop(proc) == 0
    text = setup.log()
    assert "nudge daemon started" in text
    assert re.search(
        r"book: 3 added \(2 new contacts, 1 event\), 0 changed, 0 archived, 0 events removed, "
        r"1 skipped, took",
        text,
    ), text
    assert "book: skipped" in text and "(UID bad-1): no name and no email" in text
    [failed] = [line for line in text.splitlines() if "gone: " in line]
    assert "WARNING" in failed and "FAILED" in failed and "missing.vcf" in failed
    assert "today's digest is due and not sent (never tried); sending it now" in text
    [sent] = [line for line in text.splitlines() if "sent the digest for" in line]
    assert str(setup.maildir) in sent and "“Be curious today:" in sent
    assert "1 call(s) (Ana Ruiz) and partner Ben Ott" in sent
    assert "stopping after the current job" in text


@pytest.mark.parametrize(
    ("digest_in", "cutoff_in", "workdays", "said"),
    [
        (3600, 7200, None, "is not due yet (digest.time"),
        (-300, -120, None, "it was not sent before digest.cutoff"),
        (-60, 3600, "none-today", "not one of digest.workdays"),
    ],
)
def test_the_daemon_says_why_no_digest_went_out(
    setup: Setup, digest_in: float, cutoff_in: float, workdays: str | None, said: str
) -> None:
    setup.write(digest_in=digest_in, cutoff_in=cutoff_in)
    if workdays:
        today = setup.local_now.strftime("%a").lower()
        others = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d != today]
        text = setup.config.read_text()
        setup.config.write_text(
            text.replace(
                '"mon", "tue", "wed", "thu", "fri", "sat", "sun"', str(others)[1:-1].replace("'", '"')
            )
        )
    proc = start(setup)
    wait_for(lambda: said in setup.log(), what=said)
    assert setup.stop(proc) == 0
    assert setup.delivered() == 0


def test_once_syncs_sends_if_due_and_exits(setup: Setup) -> None:
    setup.write(digest_in=-60)
    code, text = once(setup)
    assert code == 0, text
    assert "book: 3 added" in text and "sent the digest for" in text
    assert setup.delivered() == 1
    code, text = once(setup)
    assert code == 0, text
    assert "book: 0 added" in text and "is already sent" in text
    assert setup.delivered() == 1


def test_once_before_the_digest_time_only_syncs(setup: Setup) -> None:
    setup.write(digest_in=3600)
    code, text = once(setup)
    assert code == 0, text
    assert "book: 3 added" in text and "is not due yet" in text
    assert setup.delivered() == 0


def test_once_exits_1_when_a_source_fails_and_still_sends(setup: Setup) -> None:
    setup.write(digest_in=-60, extra=gone_source(setup))
    code, text = once(setup)
    assert code == 1, text
    assert "missing.vcf" in text and setup.delivered() == 1


def test_once_exits_1_when_the_digest_cannot_be_sent(setup: Setup) -> None:
    setup.write(digest_in=-60, smtp_port=free_port())
    code, text = once(setup)
    assert code == 1, text
    assert "digest not sent:" in text and "the next `nudge run --once` before the cutoff tries again" in text


def test_once_beside_a_running_daemon_names_it(setup: Setup) -> None:
    setup.write(digest_in=3600)
    daemon = start(setup)
    wait_for(lambda: started(setup), what="the daemon")
    code, text = once(setup)
    assert code == 1
    assert f"nudge run is already running for this store (PID {daemon.pid})" in text
    assert setup.stop(daemon) == 0


def test_once_applies_a_reply_and_logs_what_it_did(setup: Setup, dovecot: Dovecot) -> None:
    user, password = dovecot.add_user()
    setup.write(
        digest_in=-60,
        extra=f'[[sources]]\ntype = "imap"\nname = "mail"\nhost = "{dovecot.host}"\n'
        f'port = {dovecot.tls_port}\ncafile = "{dovecot.cafile}"\nusername = "{user}"\n'
        f'password = "{password}"\n',
    )
    setup.config.chmod(0o600)
    code, text = once(setup)
    assert code == 0, text
    with sqlite3.connect(setup.root / "nudge.db") as db:
        [(day, message_id)] = db.execute("SELECT date, message_id FROM digestrun").fetchall()
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = ME, ME, "Re: Be curious today"
    reply["Message-ID"], reply["In-Reply-To"] = "<reply-1@example.com>", message_id
    reply["Date"] = format_datetime(datetime.now(UTC))
    reply.set_content("done 1: new job in Lisbon\nhow are you?\n")
    dovecot.append(user, "INBOX", bytes(reply))
    code, text = once(setup)
    assert code == 0, text
    assert (
        f"reply to the digest of {day}: logged a call with Ana Ruiz: new job in Lisbon; "
        "not applied: not understood: “how are you?”"
    ) in text
    assert "replies to the digest: 1 applied, 0 ignored" in text
