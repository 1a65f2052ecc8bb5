"""Delivering the digest end to end: a real SMTP server (aiosmtpd) or a Maildir, a real store.

Contacts arrive the way they do in production, by syncing a memory source, and the tests drive
`service.send_digest` only, so the once-a-day promise is checked where it is kept: the DigestRun
row in the database.
"""

from __future__ import annotations

import logging
import mailbox
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import service
from nudge.channels import email as delivery
from nudge.config import Settings
from nudge.errors import DeliveryError
from nudge.sources.memory import MemorySource
from nudge.store.db import atomic, open_db
from nudge.store.models import Contact, Delivery, DigestRun, Suggestion
from tests.builders import ME, vcard
from tests.servers.smtp import HOST, PASSWORD, USERNAME, Cert, StartServer, free_port, smtp_cert, smtp_server

# aiosmtpd sets its own deprecated Session.login_data after every AUTH; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Session.login_data is deprecated"),
    pytest.mark.both_stores,  # the day's and each channel's claims are conditional writes: run on both stores
]

__all__ = ["smtp_cert", "smtp_server"]  # pytest fixtures: imported to be requested by name

DAY = date(2026, 11, 23)  # NOW (06:00 UTC) is 07:00 on this Monday in Berlin
SENDER = "nudge@example.org"
TO = ME
MSG_ID = "<nudge.digest.2026-11-23.0123456789abcdef@example.org>"  # a day's id, as a crash left it
FIRST_ID = re.compile(r"^<nudge\.digest\.2026-11-23\.[0-9a-f]{16}@example\.org>$")  # first send
PASSWORD_ENV = "NUDGE_TEST_SMTP_PASSWORD"

CARDS = {
    "ada": vcard(
        "ada",
        "Ada Lovelace",
        emails=("ada@example.org",),
        phones=("+49 30 1234561",),
        categories=("top100",),
    ),
    "grace": vcard(
        "grace",
        "Grace Hopper",
        emails=("grace@example.org",),
        phones=("+49 30 1234562",),
        categories=("top100",),
    ),
    "alan": vcard("alan", "Alan Turing", emails=("alan@example.org",), categories=("top100",)),
    "kathy": vcard("kathy", "Katherine Johnson", phones=("+49 30 1234564",), categories=("Top 100",)),
    "paul": vcard(
        "paul",
        "Paul Partner",
        emails=("paul@partners.example",),
        phones=("+49 30 1234565",),
        categories=("partner",),
    ),
    "uma": vcard("uma", "Uma Untiered", emails=("uma@example.org",)),
}
PICKED = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Paul Partner")


@dataclass
class Book:
    """A synced store plus a way to make settings that point at it."""

    engine: Engine
    configure: Callable[..., Settings]


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.fixture
def seed(make_settings: Callable[..., Settings], now: datetime) -> Callable[..., Book]:
    """Sync CARDS (plus any extra vCards) into a fresh store through the real sync path."""

    def make(extra: dict[str, str] | None = None) -> Book:
        store = MemorySource.store("book")
        for uid, card in {**CARDS, **(extra or {})}.items():
            store.put("contacts", "contacts", uid, card)
        sources = [{"type": "memory", "name": "book"}]

        def configure(**overrides: Any) -> Settings:
            digest = {"to": TO, "sender": SENDER, **overrides.pop("digest", {})}
            return make_settings(sources=sources, digest=digest, **overrides)

        settings = configure()
        engine = open_db(settings.database)
        reports = service.sync_all(engine, settings, now)
        assert [r.added for r in reports] == [len(CARDS) + len(extra or {})]
        return Book(engine, configure)

    return make


@pytest.fixture
def book(seed: Callable[..., Book]) -> Book:
    return seed()


# --- helpers ------------------------------------------------------------------------


def runs(engine: Engine) -> list[DigestRun]:
    with Session(engine) as s:
        return list(s.exec(select(DigestRun)).all())


def the_run(engine: Engine) -> DigestRun:
    [run] = runs(engine)
    assert run.date == DAY
    return run


def suggestions(engine: Engine, day: date = DAY) -> list[Suggestion]:
    with Session(engine) as s:
        return list(s.exec(select(Suggestion).where(Suggestion.digest_date == day)).all())


def set_state(engine: Engine, state: str) -> None:
    """Leave the day's DigestRun, and its channel's delivery, as a crash would have left them."""
    with atomic(engine) as s:
        s.execute(sa.update(DigestRun).where(DigestRun.date == DAY).values(state=state))  # type: ignore[arg-type]
        s.execute(sa.update(Delivery).where(Delivery.date == DAY).values(state=state))  # type: ignore[arg-type]


def parts(msg: EmailMessage) -> dict[str, str]:
    """content type -> decoded body of each leaf part."""
    out: dict[str, str] = {}
    for part in msg.walk():
        if not part.is_multipart():
            assert isinstance(part, EmailMessage)
            out[part.get_content_type()] = str(part.get_content())
    return out


def maildir_messages(path: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(str(path), create=False)
    out = []
    for key in box.iterkeys():
        msg = message_from_bytes(box.get_bytes(key), policy=default_policy)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


# --- SMTP -------------------------------------------------------------------------


def test_starttls_login_delivers_one_multipart_digest(
    book: Book, smtp_server: StartServer, now: datetime
) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config())

    result = service.send_digest(book.engine, settings, now)

    assert result.state == "sent"
    [got] = server.received
    assert got.secure and got.login == USERNAME
    assert got.mail_from == SENDER and got.rcpt_tos == [TO]
    msg = got.message
    assert msg.get_content_type() == "multipart/alternative"
    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    assert msg["Subject"].startswith("Be curious today:")
    assert msg["From"] == SENDER and msg["To"] == TO
    assert FIRST_ID.match(msg["Message-ID"])
    key = delivery.digest_key(msg["Message-ID"])
    assert key is not None and msg["Message-ID"] == delivery.message_id(DAY.isoformat(), SENDER, key[1])
    html = body["text/html"]
    assert 'href="tel:+49301234561"' in html and 'href="mailto:ada@example.org"' in html
    assert 'href="mailto:paul@partners.example"' in html
    for name in PICKED:
        assert name in html and name in body["text/plain"]
    assert "Uma Untiered" not in html  # not in a tier
    run = the_run(book.engine)
    assert (run.state, run.message_id, run.sent_at, run.attempts) == ("sent", msg["Message-ID"], now, 1)
    assert {s.slot for s in suggestions(book.engine)} == {"call", "partner"}
    assert len(suggestions(book.engine)) == len(PICKED)


def test_second_send_same_day_sends_nothing_and_force_sends_a_new_message(
    book: Book, smtp_server: StartServer, now: datetime
) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config())
    service.send_digest(book.engine, settings, now)

    again = service.send_digest(book.engine, settings, now)

    assert again.state == "already_sent"
    assert len(server.received) == 1

    forced = service.send_digest(book.engine, settings, now, force=True)

    assert forced.state == "sent"
    first, second = (r.message for r in server.received)
    assert FIRST_ID.match(first["Message-ID"])
    assert second["Message-ID"] != first["Message-ID"]
    assert delivery.digest_key(second["Message-ID"]) == delivery.digest_key(first["Message-ID"])
    run = the_run(book.engine)
    assert (run.state, run.message_id) == ("sent", second["Message-ID"])
    assert len(suggestions(book.engine)) == len(PICKED)  # a resend does not double the day's list


def test_dry_run_sends_nothing_and_records_nothing(
    book: Book, smtp_server: StartServer, now: datetime
) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config())

    result = service.send_digest(book.engine, settings, now, dry_run=True)

    assert result.state == "dry_run"
    assert result.subject.startswith("Be curious today:") and "Ada Lovelace" in result.html
    assert server.received == []
    assert runs(book.engine) == []
    assert suggestions(book.engine) == []


def test_implicit_tls_delivers(book: Book, smtp_server: StartServer, now: datetime) -> None:
    server = smtp_server("tls")
    settings = book.configure(smtp=server.config())

    result = service.send_digest(book.engine, settings, now)

    assert result.state == "sent"
    [got] = server.received
    assert got.secure and got.login == USERNAME
    assert FIRST_ID.match(got.message["Message-ID"])
    assert the_run(book.engine).state == "sent"


def test_plain_smtp_without_tls_or_login_delivers(
    book: Book, smtp_server: StartServer, now: datetime
) -> None:
    server = smtp_server("none")
    settings = book.configure(smtp=server.config())

    result = service.send_digest(book.engine, settings, now)

    assert result.state == "sent"
    [got] = server.received
    assert not got.secure and got.login is None
    assert the_run(book.engine).state == "sent"


def test_plain_client_against_starttls_server_fails_before_sending_the_password(
    book: Book, smtp_server: StartServer, now: datetime
) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config(security="none"))

    with pytest.raises(DeliveryError, match=r"check smtp\.security") as err:
        service.send_digest(book.engine, settings, now)

    assert PASSWORD not in str(err.value)
    assert server.received == []
    assert the_run(book.engine).state == "failed"


def test_wrong_password_fails_without_leaking_it_then_retry_sends(
    book: Book, smtp_server: StartServer, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config())
    wrong = "not-the-Right-one-42"
    monkeypatch.setenv(PASSWORD_ENV, wrong)

    with pytest.raises(DeliveryError) as err:
        service.send_digest(book.engine, settings, now)

    message = str(err.value)
    assert f"SMTP {HOST}:{server.port}: login refused for {USERNAME} (535)" == message
    assert wrong not in message and PASSWORD not in message
    run = the_run(book.engine)
    assert run.state == "failed" and run.error == message
    failed_id = run.message_id
    assert (
        server.received == []
    )  # its suggestions stay inert: see test_suggestions_of_a_failed_day_do_not_rest

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    result = service.send_digest(book.engine, settings, now)

    assert result.state == "sent"
    [got] = server.received
    assert got.message["Message-ID"] == failed_id  # a retry is the same message, not a new one
    run = the_run(book.engine)
    assert (run.state, run.error, run.attempts) == ("sent", None, 2)


def test_server_down_fails_then_sends_once_it_is_up(
    book: Book, smtp_server: StartServer, smtp_cert: Cert, now: datetime
) -> None:
    port = free_port()  # nothing listens here yet
    settings = book.configure(
        smtp={
            "host": HOST,
            "port": port,
            "username": USERNAME,
            "password_env": PASSWORD_ENV,
            "cafile": str(smtp_cert.cert),
            "timeout": 5,
        }
    )

    with pytest.raises(DeliveryError, match=rf"SMTP {HOST}:{port}: ConnectionRefusedError"):
        service.send_digest(book.engine, settings, now)

    assert the_run(book.engine).state == "failed"

    server = smtp_server("starttls", port=port)
    result = service.send_digest(book.engine, settings, now)
    again = service.send_digest(book.engine, settings, now)

    assert (result.state, again.state) == ("sent", "already_sent")
    assert len(server.received) == 1
    assert the_run(book.engine).state == "sent"


def test_untrusted_certificate_is_refused(book: Book, smtp_server: StartServer, now: datetime) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config(cafile=""))

    with pytest.raises(DeliveryError, match="certificate not trusted") as err:
        service.send_digest(book.engine, settings, now)

    assert "smtp.cafile" in str(err.value)
    assert server.received == []
    assert the_run(book.engine).state == "failed"


def test_smtp_crash_while_sending_is_never_sent_twice(
    book: Book, smtp_server: StartServer, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config())
    service.send_digest(book.engine, settings, now)
    set_state(book.engine, "sending")  # killed after DATA, before "sent" was committed

    result = service.send_digest(book.engine, settings, now)

    assert result.state == "ambiguous"
    assert len(server.received) == 1
    assert "may have been sent before a crash" in caplog.text


def test_password_never_appears_in_logs(
    book: Book,
    smtp_server: StartServer,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = smtp_server("starttls")
    settings = book.configure(smtp=server.config())
    service.sync_all(book.engine, settings, now)  # the daemon's morning: sync, then send
    wrong = "wrong-Pa55-also-secret"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    with pytest.raises(DeliveryError):
        service.send_digest(book.engine, settings, now)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    service.send_digest(book.engine, settings, now)
    service.send_digest(book.engine, settings, now, force=True)

    assert len(server.received) == 2
    assert any(r.name.startswith("nudge.") for r in caplog.records), "nudge logged nothing"
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert PASSWORD not in logged and wrong not in logged
    assert all(PASSWORD not in r.data.decode() for r in server.received)


# --- Maildir -----------------------------------------------------------------------


def test_maildir_delivers_multipart_once_per_day(book: Book, now: datetime, tmp_path: Path) -> None:
    settings = book.configure()
    assert settings.smtp is None

    result = service.send_digest(book.engine, settings, now)
    again = service.send_digest(book.engine, settings, now)

    assert (result.state, again.state) == ("sent", "already_sent")
    new = list((tmp_path / "Maildir" / "new").iterdir())
    assert [Path(result.where)] == new
    [msg] = maildir_messages(tmp_path / "Maildir")
    assert msg.get_content_type() == "multipart/alternative"
    assert set(parts(msg)) == {"text/plain", "text/html"}
    assert FIRST_ID.match(msg["Message-ID"]) and msg["Subject"].startswith("Be curious today:")
    assert the_run(book.engine).state == "sent"


def test_maildir_crash_after_delivery_is_marked_sent_without_a_second_copy(
    book: Book, now: datetime, tmp_path: Path
) -> None:
    settings = book.configure()
    service.send_digest(book.engine, settings, now)
    set_state(book.engine, "sending")  # the file was renamed into new/, then the process died

    result = service.send_digest(book.engine, settings, now)

    assert result.state == "already_sent"
    assert len(maildir_messages(tmp_path / "Maildir")) == 1
    assert the_run(book.engine).state == "sent"


def test_maildir_crash_before_delivery_delivers_once(book: Book, now: datetime, tmp_path: Path) -> None:
    settings = book.configure()
    with atomic(book.engine) as s:  # died after committing "sending", before the file landed
        s.add(DigestRun(date=DAY, state="sending", message_id=MSG_ID, attempts=1, updated_at=now))

    result = service.send_digest(book.engine, settings, now)
    again = service.send_digest(book.engine, settings, now)

    assert (result.state, again.state) == ("sent", "already_sent")
    [msg] = maildir_messages(tmp_path / "Maildir")
    assert msg["Message-ID"] == MSG_ID
    assert the_run(book.engine).state == "sent"
    assert len(suggestions(book.engine)) == len(PICKED)


def test_maildir_crash_recovery_keeps_the_days_suggestions(book: Book, now: datetime, tmp_path: Path) -> None:
    """Suggestions are written before sending, so a crash after the rename loses none."""
    settings = book.configure()
    service.send_digest(book.engine, settings, now)
    set_state(book.engine, "sending")  # the final "sent" commit never happened

    result = service.send_digest(book.engine, settings, now)

    assert result.state == "already_sent"
    assert len(maildir_messages(tmp_path / "Maildir")) == 1
    assert sorted(s.contact_id for s in suggestions(book.engine)) == sorted(
        p.person.id
        for p in (*result_plan(book, settings, now).calls, *result_plan(book, settings, now).partners)
    )
    assert the_run(book.engine).state == "sent"


def test_suggestions_of_a_failed_day_do_not_rest(book: Book, now: datetime) -> None:
    """People in a digest that never went out were not seen: no cool-down for them."""
    settings = book.configure(smtp={"host": "127.0.0.1", "port": free_port(), "security": "none"})
    with pytest.raises(DeliveryError):
        service.send_digest(book.engine, settings, now)
    assert the_run(book.engine).state == "failed"
    tomorrow = now + timedelta(days=1)
    with Session(book.engine) as s:
        people = service.load_people(s, settings, tomorrow, DAY + timedelta(days=1))
    assert people and all(p.last_suggested is None for p in people)


def result_plan(book: Book, settings: Settings, now: datetime) -> Any:
    return service.render_day(book.engine, settings, now, DAY).plan


def test_html_in_names_is_escaped_in_the_html_part(
    seed: Callable[..., Book], now: datetime, tmp_path: Path
) -> None:
    evil = "<script>alert(1)</script> Mallory"
    book = seed({"evil": vcard("evil", evil, emails=("mallory@example.org",), categories=("top100",))})
    settings = book.configure(digest={"daily_size": 10})

    service.send_digest(book.engine, settings, now)

    [msg] = maildir_messages(tmp_path / "Maildir")
    body = parts(msg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Mallory" in body["text/html"]
    assert "<script>" not in body["text/html"]
    assert evil in body["text/plain"]  # plain text needs no escaping


@pytest.mark.parametrize(
    "name", ["Ada\r\nBcc: eve@evil.example", "Ada\nLovelace", "Ada\x00\x1b[31m Lovelace\u2028"]
)
def test_control_characters_in_a_name_never_block_the_digest(
    book: Book, smtp_server: StartServer, now: datetime, name: str, store_kind: str
) -> None:
    """A name that heads the digest lands in the Subject: whatever it holds, the digest goes out
    with one clean Subject line and no header of the name's making."""
    if "\x00" in name and store_kind == "postgresql":
        pytest.skip("PostgreSQL's text cannot hold NUL (core.records drops it before the store)")
    with atomic(book.engine) as s:
        s.execute(sa.update(Contact).values(name=name))  # every contact: whoever is first heads it
    server = smtp_server("starttls")
    result = service.send_digest(book.engine, book.configure(smtp=server.config()), now)
    assert result.state == "sent"
    [got] = server.received
    assert got.rcpt_tos == [TO]  # no Bcc smuggled in
    msg = got.message
    assert msg["Bcc"] is None
    subject = msg["Subject"]
    assert subject.startswith("Be curious today: Ada") and not any(c in subject for c in "\r\n\x00\x1b\u2028")
    assert b"\nBcc:" not in got.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    assert the_run(book.engine).state == "sent"
