"""A follow-up made on the command line reaches the digest `nudge run --once` sends, first, from
a real process on the real clock."""

from __future__ import annotations

import mailbox
import subprocess
import sys

import pytest

from tests.builders import vcard
from tests.system.test_daemon import Setup, setup
from tests.system.test_daemon_log import once

__all__ = ["setup"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def cli(s: Setup, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nudge", "--config", str(s.config), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_run_once_sends_the_follow_up_first(setup: Setup) -> None:
    with (setup.root / "contacts.vcf").open("a") as f:
        f.write(vcard("cleo", "Cleo Diaz", emails=("cleo@example.com",)))  # in no tier
    setup.write(digest_in=-60)
    cli(setup, "sync")
    assert "Follow-up f1 with Cleo Diaz" in cli(setup, "follow-up", "Cleo", "today", "the", "contract")
    cli(setup, "snooze", "Ana", "3m")
    code, log = once(setup)
    assert code == 0, log
    [message] = list(mailbox.Maildir(str(setup.maildir), create=False))
    text = message.get_payload(0).get_payload(decode=True).decode() if message.is_multipart() else ""
    assert text.split("\n1. ", 1)[1].startswith("Cleo Diaz"), text
    assert "- follow-up: the contract (due today)" in text
    assert "Ana Ruiz" not in text.split("Top 100 at a glance")[0]  # snoozed, and promised nothing
    assert "1 call(s) (Cleo Diaz)" in log
