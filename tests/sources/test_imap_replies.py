"""Replies to the digest found in a real IMAP INBOX (Dovecot), applied once, marked seen.

Also the whole loop through the IMAP source: mail in the Sent folder and the
INBOX becomes touches, and an unanswered email puts its sender on the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import doctor, service
from nudge.actions import find
from nudge.config import Settings
from nudge.digest import replies
from nudge.sources.memory import MemorySource
from nudge.store.models import DigestRun, Reply, Touch
from tests.builders import vcard
from tests.servers.dovecot import Dovecot, dovecot  # noqa: F401

NAMES = ("Ana Ruiz", "Ben Ott", "Cleo Diaz")


def message(sender: str, to: str, subject: str, mid: str, at: datetime, body: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"], msg["Message-ID"] = format_datetime(at), f"<{mid}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


def config_file(server: Dovecot, tmp_path: Path, extra: str = "") -> tuple[Path, str, str]:
    """A config (0600) with a files address book of one top-100 person and a new IMAP user."""
    user, password = server.add_user()
    me = f"{user}@example.com"
    book = tmp_path / "book.vcf"
    book.write_text(vcard("a", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",)))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "d.db"}"\nmaildir = "{tmp_path / "Maildir"}"\n'
        f'timezone = "Europe/Berlin"\n[me]\nemails = ["{me}"]\n{extra}'
        f'[digest]\nworkdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f'[[sources]]\ntype = "files"\nname = "book"\npaths = ["{book}"]\n'
        f'[[sources]]\ntype = "imap"\nname = "mail"\nhost = "{server.host}"\nport = {server.tls_port}\n'
        f'cafile = "{server.cafile}"\nusername = "{user}"\npassword = "{password}"\n'
    )
    cfg.chmod(0o600)
    return cfg, user, me


@dataclass(frozen=True)
class Sent:
    """A digest delivered to a new mailbox user, whose INBOX the reply source reads."""

    settings: Settings
    user: str
    me: str
    run: DigestRun


@pytest.fixture
def sent(
    dovecot: Dovecot,  # noqa: F811
    make_settings: Callable[..., Settings],
    engine: Engine,
    now: datetime,
) -> Sent:
    user, _ = dovecot.add_user()
    me = f"{user}@example.com"
    opts = dovecot.options(user).model_dump(exclude_defaults=True)
    settings = make_settings(
        me={"name": "Me", "emails": [me], "region": "DE"},
        sources=[{"type": "memory", "name": "book"}, {"type": "imap", "name": "mail", **opts}],
    )
    store = MemorySource.store("book")
    for i, name in enumerate(NAMES):
        store.put(
            "c",
            "contacts",
            str(i),
            vcard(str(i), name, emails=(f"p{i}@example.org",), categories=("top100",)),
        )
    service.sync_all(engine, settings, now)
    assert service.send_digest(engine, settings, now).state == "sent"
    with Session(engine) as s:
        run = s.exec(select(DigestRun)).one()
    return Sent(settings, user, me, run)


def test_replies_in_the_inbox_are_applied_once_and_marked_seen(
    sent: Sent,
    dovecot: Dovecot,  # noqa: F811
    engine: Engine,
    now: datetime,
) -> None:
    settings, user, me, run = sent.settings, sent.user, sent.me, sent.run
    at = now + timedelta(hours=2)
    mine = message(
        me, me, "Re: Be curious today", "r1@x", at, "done 1\nnote 2: new baby\n", In_Reply_To=run.message_id
    )
    stranger = message(
        "eve@evil.example", me, "Re: Be curious today", "r2@x", at, "snooze 1 3m", In_Reply_To=run.message_id
    )
    unrelated = message("p0@example.org", me, "Lunch?", "r3@x", at, "done 1", In_Reply_To="<other@x>")
    uid_mine = dovecot.append(user, "INBOX", mine, date=at)
    uid_stranger = dovecot.append(user, "INBOX", stranger, date=at)
    uid_other = dovecot.append(user, "INBOX", unrelated, date=at)

    report = service.poll_replies(engine, settings, at + timedelta(minutes=1))
    assert report is not None and (report.seen, report.applied, report.ignored, report.error) == (2, 1, 1, "")
    flags = dovecot.flags(user, "INBOX")
    assert b"\\Seen" in flags[uid_mine]
    assert b"\\Seen" not in flags[uid_stranger]  # left for the user to look at
    assert b"\\Seen" not in flags[uid_other]
    with Session(engine) as s:
        rows = {r.message_id: r for r in s.exec(select(Reply))}
        assert set(rows) == {"r1@x", "r2@x"}
        assert rows["r1@x"].state == "applied" and rows["r2@x"].state == "ignored"
        cli = s.exec(select(Touch).where(Touch.source == "cli")).all()
        assert len(cli) == 1

    again = service.poll_replies(engine, settings, at + timedelta(minutes=10))
    assert again is not None and (again.seen, again.applied, again.ignored) == (2, 0, 0)
    with Session(engine) as s:
        assert len(s.exec(select(Touch).where(Touch.source == "cli")).all()) == 1

    nxt = service.send_digest(engine, settings, now + timedelta(days=1))
    assert "From your reply of Mon 23 Nov:" in nxt.text
    assert "not one of your me.emails" in nxt.text


def test_a_failing_mailbox_is_reported_and_changes_nothing(
    make_settings: Callable[..., Settings], engine: Engine, now: datetime
) -> None:
    from tests.servers.loopback import free_port

    settings = make_settings(
        sources=[
            {"type": "imap", "name": "mail", "host": "127.0.0.1", "port": free_port(), "username": "u"}
            | {"password_env": "NUDGE_TEST_NO_SUCH_VAR", "timeout": 2}
        ]
    )
    report = service.poll_replies(engine, settings, now)
    assert report is not None and "password_env" in report.error


def test_the_imap_source_feeds_touches_and_the_unanswered_moment(
    dovecot: Dovecot,  # noqa: F811
    make_settings: Callable[..., Settings],
    engine: Engine,
    now: datetime,
) -> None:
    user, _ = dovecot.add_user()
    me = f"{user}@example.com"
    opts = dovecot.options(user).model_dump(exclude_defaults=True)
    settings = make_settings(
        me={"name": "Me", "emails": [me], "region": "DE"},
        sources=[{"type": "memory", "name": "book"}, {"type": "imap", "name": "mail", **opts}],
    )
    store = MemorySource.store("book")
    store.put(
        "c", "contacts", "a", vcard("a", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",))
    )
    store.put(
        "c", "contacts", "b", vcard("b", "Ben Ott", emails=("ben@example.org",), categories=("top100",))
    )
    real_now = datetime.now(now.tzinfo)  # the server dates messages by the real clock
    sent_at, wrote_at = real_now - timedelta(days=10), real_now - timedelta(days=4)
    dovecot.append(user, "Sent", message(me, "ben@example.org", "Intro", "s1@x", sent_at, "hi"), date=sent_at)
    dovecot.append(
        user, "INBOX", message("ana@example.org", me, "Question", "i1@x", wrote_at, "?"), date=wrote_at
    )
    dovecot.append(
        user,
        "INBOX",
        message("news@shop.example", me, "Sale", "n1@x", wrote_at, "buy", List_Id="<shop.example>"),
    )
    reports = service.sync_all(engine, settings, real_now)
    assert all(r.ok for r in reports), [r.line() for r in reports]
    with Session(engine) as s:
        ana, ben = find(s, "ana"), find(s, "ben")
        got = {(t.contact_id, t.kind, t.direction) for t in s.exec(select(Touch))}
    assert got == {(ana.id, "email", "in"), (ben.id, "email", "out")}
    plan, _ = service.make_plan(
        engine, settings, real_now, real_now.astimezone(settings.tz).date(), force=True
    )
    [first] = [k for k in plan.calls if k.person.id == ana.id]
    assert first.reasons[0] == "inbound"


def test_doctor_checks_the_imap_login_folders_and_replies(
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
) -> None:
    user, password = dovecot.add_user()
    cfg = tmp_path / "config.toml"
    lines = [
        f'database_url = "sqlite:///{tmp_path / "d.db"}"',
        "[me]",
        f'emails = ["{user}@example.com"]',
        "[[sources]]",
        'type = "imap"',
        'name = "mail"',
        f'host = "{dovecot.host}"',
        f"port = {dovecot.tls_port}",
        f'cafile = "{dovecot.cafile}"',
        f'username = "{user}"',
        f'password = "{password}"',
    ]
    cfg.write_text("\n".join(lines) + "\n")
    cfg.chmod(0o600)
    checks = {c.name: c for c in doctor.run_checks(str(cfg))}
    assert checks["source mail"].ok, checks["source mail"]
    assert "messages: INBOX, Sent" in checks["source mail"].detail
    assert checks["replies"].ok and "mail: INBOX" in checks["replies"].detail

    cfg.write_text("\n".join(lines).replace(password, "wrong") + "\n")
    checks = {c.name: c for c in doctor.run_checks(str(cfg))}
    assert not checks["source mail"].ok and "login refused" in checks["source mail"].detail
    assert "wrong" not in checks["source mail"].detail
    assert not checks["replies"].ok


def test_the_daemon_reads_replies_on_its_own_schedule(
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
) -> None:
    import time as clock

    from nudge import daemon

    cfg, user, me = config_file(dovecot, tmp_path, "[replies]\ninterval = 0.02\n")
    d = daemon.Daemon(str(cfg))
    now = daemon.utcnow()
    service.sync_all(d.engine, d.settings, now)
    sent = service.send_digest(d.engine, d.settings, now, force=True)
    assert sent.state == "sent" and "1. Ana Ruiz" in sent.text
    with Session(d.engine) as s:
        run = s.exec(select(DigestRun)).one()
    dovecot.append(
        user, "INBOX", message(me, me, "Re: today", "rd@x", now, "done 1", In_Reply_To=run.message_id)
    )
    d.schedule()
    assert d.scheduler.get_job("replies") is not None
    d.scheduler.start()
    try:
        deadline = clock.monotonic() + 20
        while clock.monotonic() < deadline:
            with Session(d.engine) as s:
                row = s.exec(select(Reply)).first()
            if row is not None:
                break
            clock.sleep(0.2)
    finally:
        d.stop()
    assert row is not None and row.state == "applied" and row.applied == "logged a call with Ana Ruiz"


def test_nudge_sync_reads_replies_and_nudge_replies_lists_them(
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from nudge.cli import app

    cfg, user, me = config_file(dovecot, tmp_path)
    runner = CliRunner()
    base = ["--config", str(cfg)]
    assert runner.invoke(app, [*base, "sync"]).exit_code == 0
    first = runner.invoke(app, [*base, "digest"])
    assert first.exit_code == 0, first.output
    assert runner.invoke(app, [*base, "replies"]).output.strip() == "No replies to the digest yet."
    from nudge import config

    settings = config.load(str(cfg))
    engine = service.open_store(settings)
    with Session(engine) as s:
        run = s.exec(select(DigestRun)).one()
    engine.dispose()
    body = "done 1: great chat\nhow are you?\n"
    at = datetime.now(settings.tz)
    dovecot.append(user, "INBOX", message(me, me, "Re: today", "cli@x", at, body, In_Reply_To=run.message_id))
    synced = runner.invoke(app, [*base, "sync"])
    assert synced.exit_code == 0, synced.output
    assert "replies to the digest: 1 applied, 0 ignored" in synced.output
    listed = runner.invoke(app, [*base, "replies"]).output
    assert f"applied to the digest of {run.date}" in listed
    assert "  + logged a call with Ana Ruiz: great chat" in listed
    assert "  ? not understood: “how are you?”" in listed


def test_odd_replies_in_the_inbox_never_stop_the_poll(
    sent: Sent,
    dovecot: Dovecot,  # noqa: F811
    engine: Engine,
    now: datetime,
) -> None:
    settings, user, me, run = sent.settings, sent.user, sent.me, sent.run
    at = now + timedelta(hours=1)
    poisoned = (  # a header the standard library's modern parser chokes on, from a stranger
        f"From: eve@evil.example\r\nTo: {me}\r\nMessage-ID: <@x>\r\nIn-Reply-To: {run.message_id}\r\n"
        f"Date: {format_datetime(at)}\r\nSubject: hi\r\n\r\ndone 1\r\n"
    ).encode()
    huge = message(me, me, "Re: today", "big@x", at, "done 1\n" + "x" * 600_000, In_Reply_To=run.message_id)
    fine = message(me, me, "Re: today", "ok@x", at, "done 2", In_Reply_To=run.message_id)
    for raw in (poisoned, huge, fine):
        dovecot.append(user, "INBOX", raw, date=at)
    report = service.poll_replies(engine, settings, at)
    assert report is not None and report.error == ""
    assert (report.seen, report.applied, report.ignored) == (3, 1, 2)
    with Session(engine) as s:
        rows = {r.message_id: r for r in s.exec(select(Reply))}
    assert rows["ok@x"].state == "applied"
    assert rows["big@x"].state == "ignored" and "too large to read" in rows["big@x"].problems
    assert rows["@x"].state == "ignored" and "eve@evil.example" in rows["@x"].problems


def test_a_reply_applied_before_a_crash_is_marked_seen_on_the_next_poll(
    sent: Sent,
    dovecot: Dovecot,  # noqa: F811
    engine: Engine,
    now: datetime,
) -> None:
    settings, user, me, run = sent.settings, sent.user, sent.me, sent.run
    at = now + timedelta(hours=1)
    raw = message(me, me, "Re: today", "crash@x", at, "done 1", In_Reply_To=run.message_id)
    uid = dovecot.append(user, "INBOX", raw, date=at)
    with Session(engine) as s:  # the last poll committed this reply, then died before \Seen
        replies.apply_reply(s, settings, replies.read_reply(raw, at), at)
        s.commit()
    assert b"\\Seen" not in dovecot.flags(user, "INBOX")[uid]
    report = service.poll_replies(engine, settings, at + timedelta(minutes=5))
    assert report is not None and (report.seen, report.applied) == (1, 0)
    assert b"\\Seen" in dovecot.flags(user, "INBOX")[uid]
    with Session(engine) as s:
        assert len(s.exec(select(Touch).where(Touch.source == "cli")).all()) == 1
