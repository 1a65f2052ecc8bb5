"""The IMAP source against a real Dovecot: folders, first scan and increments, headers only, errors.

Messages are placed with IMAP APPEND (internal dates set, so the first scan's window is
exercised); the commands a sync sends are counted from Dovecot's rawlog, i.e. as the server
saw them. Each test has its own user, so tests never see each other's mail.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service
from nudge.actions import find
from nudge.config import Settings, SourceConfig
from nudge.errors import InvalidSyncToken, SourceError
from nudge.sources import load_source, options_problems
from nudge.sources.base import BadItem, Collection, Item
from nudge.sources.imap import (
    FETCH_ITEM,
    ImapOptions,
    ImapSource,
    find_folders,
    make_href,
    parse_href,
    pick_folders,
    session,
)
from nudge.sources.memory import MemorySource
from nudge.store.models import SyncState, Touch
from tests.builders import vcard
from tests.servers import dovecot as dovecot_server
from tests.servers.dovecot import (
    Dovecot,
    dovecot,  # noqa: F401
    free_port,
    start_dovecot,
    stop_dovecot,
)

BODY = "BODY-MARKER-never-fetched"
ME = "me@example.org"
NOW = datetime.now(UTC)


def message(
    frm: str = "ana@example.com",
    to: str = ME,
    subject: str = "Hello",
    date: datetime | None = None,
    extra: str = "",
    msgid: str | None = None,
) -> bytes:
    headers = (
        f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(date or NOW)}\r\nMessage-ID: {msgid or make_msgid(domain='example.com')}\r\n"
        f"Received: from mx.example.com by imap.example.org\r\nX-Spam-Score: 0.1\r\n{extra}"
    )
    return f"{headers}\r\n{BODY}\r\nsecond line\r\n".encode()


def source(server: Dovecot, user: str, **extra: object) -> ImapSource:
    return ImapSource("mail", server.options(user, **extra))


def scan(src: ImapSource) -> dict[str, tuple[dict[str, str], str]]:
    """Folder -> (href -> etag, token) of a first scan."""
    out = {}
    for coll in src.collections():
        changes = src.changes(coll, None)
        assert changes.complete is False and changes.deleted == set()
        assert changes.token is not None
        out[coll.id] = (changes.changed, changes.token)
    return out


@pytest.fixture
def server(dovecot: Dovecot) -> Dovecot:  # noqa: F811
    return dovecot


@pytest.fixture
def user(server: Dovecot) -> str:
    return server.add_user()[0]


# --- Folders ---------------------------------------------------------------------------------


def test_default_folders_are_inbox_and_the_folder_flagged_sent(server: Dovecot) -> None:
    user, _ = server.add_user(sent=False)
    server.create_folder(user, "Sent Items")  # the usual name, no flag
    server.create_folder(user, "Gesendet")  # flagged \Sent by the server; a name no fallback knows
    src = source(server, user)
    assert [c.id for c in src.collections()] == ["INBOX", "Gesendet"]
    assert src.collections()[1] == Collection(id="Gesendet", kind="messages", name="Gesendet")
    src.close()


def test_default_sent_folder_by_name_when_none_is_flagged(server: Dovecot) -> None:
    user, _ = server.add_user(sent=False)
    server.create_folder(user, "Archive")
    server.create_folder(user, "Sent Items")
    src = source(server, user)
    assert [c.id for c in src.collections()] == ["INBOX", "Sent Items"]
    src.close()


def test_no_sent_folder_reads_the_inbox_and_says_so(
    server: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    user, _ = server.add_user(sent=False)
    src = source(server, user)
    with caplog.at_level(logging.WARNING):
        assert [c.id for c in src.collections()] == ["INBOX"]
    assert "no folder flagged \\Sent" in caplog.text and "set folders" in caplog.text
    src.close()


def test_configured_folders_are_read_as_given(server: Dovecot, user: str) -> None:
    server.create_folder(user, "Archive/2025")
    server.create_folder(user, "Post/Entwürfe")  # modified UTF-7 on the wire
    server.append(user, "Post/Entwürfe", message(subject="draft"))
    src = source(server, user, folders=["Archive/2025", "inbox", "Sent", "INBOX", "Post/Entwürfe"])
    collections = src.collections()
    assert [c.id for c in collections] == ["Archive/2025", "INBOX", "Sent", "Post/Entwürfe"]
    drafts = collections[-1]
    [item] = src.fetch(drafts, src.list(drafts))
    assert isinstance(item, Item) and "Subject: draft" in item.data
    assert item.href.startswith("Post/Entwürfe;UIDVALIDITY=")
    src.close()


def test_an_unknown_configured_folder_is_an_error_listing_the_folders(server: Dovecot, user: str) -> None:
    src = source(server, user, folders=["INBOX", "Sent Mail"])
    with pytest.raises(SourceError) as e:
        src.collections()
    text = str(e.value)
    assert "'Sent Mail'" in text and "INBOX" in text and "Sent" in text
    assert f"imap 127.0.0.1:{server.tls_port}" in text
    src.close()


def test_pick_folders_from_listings_of_other_servers() -> None:
    gmail = [
        ((b"\\HasNoChildren",), b"/", "INBOX"),
        ((b"\\Noselect", b"\\HasChildren"), b"/", "[Gmail]"),
        ((b"\\HasNoChildren", b"\\All"), b"/", "[Gmail]/All Mail"),
        ((b"\\HasNoChildren", b"\\Sent"), b"/", "[Gmail]/Gesendet"),
    ]
    assert pick_folders(gmail) == ("INBOX", "[Gmail]/Gesendet")
    courier = [((), b".", "INBOX"), ((), b".", "INBOX.Drafts"), ((), b".", "INBOX.Sent")]
    assert pick_folders(courier) == ("INBOX", "INBOX.Sent")
    nested = [((), b"/", "Inbox"), ((b"\\Noselect",), b"/", "Sent"), ((), b"/", "INBOX/Sent Messages")]
    assert pick_folders(nested) == ("Inbox", "INBOX/Sent Messages")
    assert pick_folders([((b"\\NonExistent", b"\\Sent"), b"/", "Sent")]) == ("INBOX", None)


def test_session_and_find_folders_for_a_second_user_of_the_account(server: Dovecot, user: str) -> None:
    opts = server.options(user)
    with session(opts) as client:
        assert find_folders(client, opts) == ("INBOX", "Sent")


# --- Scans and increments ------------------------------------------------------------------------


def test_first_scan_lists_exactly_the_messages_within_max_age_days(server: Dovecot, user: str) -> None:
    recent = server.append_many(user, "INBOX", [(message(), NOW - timedelta(days=d)) for d in (0, 10, 700)])
    server.append_many(user, "INBOX", [(message(), NOW - timedelta(days=d)) for d in (760, 3000)])
    sent = server.append(user, "Sent", message(frm=ME, to="ana@example.com"), date=NOW - timedelta(days=1))
    src = source(server, user)
    found = scan(src)
    inbox, inbox_token = found["INBOX"]
    validity = server.uidvalidity(user, "INBOX")
    assert inbox == {make_href("INBOX", validity, u): "1" for u in recent}
    # The token is past the old messages too: an increment never reads them.
    assert inbox_token == f"{validity}:5"
    assert list(found["Sent"][0]) == [make_href("Sent", server.uidvalidity(user, "Sent"), sent)]
    assert src.changes(src.collections()[0], inbox_token).changed == {}
    assert len(src.list(src.collections()[0])) == 3
    src.close()
    wide = source(server, user, max_age_days=2000)
    assert len(scan(wide)["INBOX"][0]) == 4
    wide.close()


def test_an_empty_folder_scans_to_an_empty_listing(server: Dovecot, user: str) -> None:
    src = source(server, user)
    found = scan(src)
    assert found["INBOX"][0] == {} and found["Sent"][0] == {}
    assert found["INBOX"][1].endswith(":0")
    server.append(user, "INBOX", message())
    assert len(src.changes(src.collections()[0], found["INBOX"][1]).changed) == 1
    src.close()


def test_fetch_returns_header_blocks_only_and_sets_no_flag(server: Dovecot, user: str) -> None:
    uids = server.append_many(user, "INBOX", [message(subject=f"n{i}") for i in range(3)])
    server.append(
        user, "Sent", message(frm=ME, to="bo@example.com", extra="Bcc: cy@example.com\r\n"), flags=[b"\\Seen"]
    )
    src = source(server, user)
    items = []
    for coll in src.collections():
        changes = src.changes(coll, None)
        items += list(src.fetch(coll, changes.changed))
    src.close()
    assert len(items) == 4
    for item in items:
        assert isinstance(item, Item) and item.format == "email" and item.etag == "1"
        assert item.data.startswith("From: ") and "Message-ID: <" in item.data and "Date: " in item.data
        assert BODY not in item.data and "second line" not in item.data
        assert "Received:" not in item.data and "X-Spam-Score" not in item.data  # fields not asked for
    assert sorted(i.data.split("Subject: ")[1].split("\r\n")[0] for i in items[:3]) == ["n0", "n1", "n2"]
    assert "Bcc: cy@example.com" in items[3].data  # a sent copy's Bcc: those people got it too
    flags = server.flags(user, "INBOX")
    assert set(flags) == set(uids) and all(b"\\Seen" not in f for f in flags.values())


def test_increments_report_exactly_the_new_messages(server: Dovecot, user: str) -> None:
    server.append_many(user, "INBOX", [message() for _ in range(3)])
    src = source(server, user)
    tokens = {f: t for f, (_, t) in scan(src).items()}
    src.close()
    new_in = server.append_many(user, "INBOX", [message(subject="new"), message(subject="newer")])
    new_out = server.append(user, "Sent", message(frm=ME, to="ana@example.com", subject="reply"))
    src = source(server, user)
    inbox, sent = src.collections()
    step = src.changes(inbox, tokens["INBOX"])
    assert step.complete is False
    assert [parse_href(h)[2] for h in step.changed] == new_in  # type: ignore[index]
    assert [i.data for i in src.fetch(inbox, step.changed) if "Subject: new" in i.data]  # type: ignore[union-attr]
    sent_step = src.changes(sent, tokens["Sent"])
    assert [parse_href(h)[2] for h in sent_step.changed] == [new_out]  # type: ignore[index]
    again = src.changes(inbox, step.token)
    assert again.changed == {} and again.token == step.token
    src.close()


def test_a_noop_increment_is_one_examine_and_one_search_per_folder(server: Dovecot, user: str) -> None:
    server.append_many(user, "INBOX", [message() for _ in range(5)])
    server.append_many(user, "Sent", [message(frm=ME) for _ in range(5)])
    first = source(server, user)
    tokens = {f: t for f, (_, t) in scan(first).items()}
    first.close()
    before = server.sessions(user)
    src = source(server, user)
    for coll in src.collections():
        assert src.changes(coll, tokens[coll.id]).changed == {}
    src.close()
    assert server.commands_since(user, before) == [
        ["LIST", "EXAMINE", "UID SEARCH", "EXAMINE", "UID SEARCH", "LOGOUT"]
    ]


def test_one_connection_per_sync_and_fetch_in_batches(server: Dovecot, user: str) -> None:
    server.append_many(user, "INBOX", [message() for _ in range(5)])
    before = server.sessions(user)
    src = source(server, user, batch=2)
    inbox, _sent = src.collections()
    listing = src.list(inbox)
    assert len([i for i in src.fetch(inbox, listing) if isinstance(i, Item)]) == 5
    src.close()
    [commands] = server.commands_since(user, before)
    assert commands == ["LIST", "EXAMINE", "UID SEARCH", "UID FETCH", "UID FETCH", "UID FETCH", "LOGOUT"]


def test_fetch_skips_hrefs_it_cannot_have_silently(server: Dovecot, user: str) -> None:
    [uid] = server.append_many(user, "INBOX", [message()])
    validity = server.uidvalidity(user, "INBOX")
    src = source(server, user)
    inbox, _sent = src.collections()
    hrefs = [
        make_href("INBOX", validity, uid),
        make_href("INBOX", validity, 999),  # never there
        make_href("INBOX", validity + 1, uid),  # another UIDVALIDITY
        make_href("Sent", validity, uid),  # another folder
        "not-an-href",
    ]
    assert [i.href for i in src.fetch(inbox, hrefs)] == [hrefs[0]]
    assert list(src.fetch(inbox, [])) == []
    src.close()


def test_a_message_without_any_of_the_fields_is_a_bad_item(server: Dovecot, user: str) -> None:
    server.append(user, "INBOX", b"X-Only: this\r\n\r\nbody\r\n")
    src = source(server, user)
    inbox, _ = src.collections()
    [bad] = list(src.fetch(inbox, src.list(inbox)))
    assert isinstance(bad, BadItem) and "no header fields" in bad.reason
    src.close()


def test_a_new_uidvalidity_refuses_the_token_and_a_full_scan_lists_everything(
    server: Dovecot, user: str
) -> None:
    server.append_many(user, "INBOX", [message() for _ in range(3)])
    server.append_many(user, "Sent", [message(frm=ME) for _ in range(2)])
    src = source(server, user)
    first = scan(src)
    src.close()
    new_inbox = server.rebuild_folder(user, "INBOX")  # doveadm: same UIDs, new UIDVALIDITY
    new_sent = server.rebuild_folder(user, "Sent")  # deleted and re-created: new UIDs too
    src = source(server, user)
    inbox, sent = src.collections()
    for coll, validity, count in ((inbox, new_inbox, 3), (sent, new_sent, 2)):
        with pytest.raises(InvalidSyncToken, match="UIDVALIDITY changed"):
            src.changes(coll, first[coll.id][1])
        again = src.changes(coll, None)
        assert len(again.changed) == count
        assert all(parse_href(h)[1] == validity for h in again.changed)  # type: ignore[index]
        assert len([i for i in src.fetch(coll, again.changed) if isinstance(i, Item)]) == count
        assert list(src.fetch(coll, first[coll.id][0])) == []  # the old hrefs are gone
    src.close()


@pytest.mark.parametrize("token", ["", "garbage", "12", "12:", ":5", "1:x", "-1:3", "1:2:3", "²:1"])
def test_a_garbage_token_raises_invalid_sync_token(server: Dovecot, user: str, token: str) -> None:
    src = source(server, user)
    with pytest.raises(InvalidSyncToken):
        src.changes(Collection("INBOX", "messages", "INBOX"), token)
    src.close()


def test_non_ascii_headers_survive(server: Dovecot, user: str) -> None:
    raw = (
        "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\r\n"
        "To: Zoë Ångström <zoe@example.se>\r\n"
        "Subject: Grüße aus Köln — 東京\r\n"
        "Message-ID: <ü1@example.de>\r\n\r\nbody\r\n"
    ).encode()
    latin1 = b"From: Ren\xe9 <rene@example.fr>\r\nTo: me@example.org\r\nSubject: caf\xe9\r\n\r\nbody\r\n"
    server.append_many(user, "INBOX", [raw, latin1])
    src = source(server, user)
    inbox, _ = src.collections()
    first, second = sorted(src.fetch(inbox, src.list(inbox)), key=lambda i: i.href)
    assert isinstance(first, Item) and isinstance(second, Item)
    assert "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=" in first.data  # decoding words is the parser's job
    assert "Zoë Ångström" in first.data and "Grüße aus Köln — 東京" in first.data
    assert "Ren\ufffd <rene@example.fr>" in second.data  # 8-bit Latin-1: replaced, not fatal
    src.close()


# --- Security and errors ----------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_implicit_tls_and_starttls_both_work(server: Dovecot, user: str, security: str) -> None:
    server.append(user, "Sent", message(frm=ME))
    src = source(server, user, security=security)
    assert [len(v[0]) for v in scan(src).values()] == [0, 1]
    src.close()


def test_default_ports_follow_security() -> None:
    base = {"host": "imap.example.com", "username": "u", "password_env": "P"}
    assert ImapOptions.model_validate(base).effective_port == 993
    assert ImapOptions.model_validate(base | {"security": "starttls"}).effective_port == 143
    assert ImapOptions.model_validate(base | {"port": 1993}).effective_port == 1993


def test_a_wrong_password_is_a_source_error_without_the_password(
    server: Dovecot, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng-pa55word-xyzzy"
    src = source(server, user, password=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as e:
        src.collections()
    text = str(e.value)
    assert f"imap 127.0.0.1:{server.tls_port}: login refused for {user}" in text
    assert "check the password" in text
    assert wrong not in text and wrong not in repr(e.value.__cause__) and wrong not in caplog.text
    src.close()


def test_the_right_password_is_not_logged_either(
    server: Dovecot, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        src = source(server, user)
        scan(src)
        src.close()
    assert server.users[user] not in caplog.text


def test_a_closed_port_is_a_source_error() -> None:
    port = free_port()
    opts = ImapOptions(host="127.0.0.1", port=port, username="u", password="p", timeout=5)
    with pytest.raises(SourceError, match=rf"imap 127\.0\.0\.1:{port}: connection refused"):
        ImapSource("mail", opts).collections()


def test_a_silent_server_is_a_timeout_error() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never says anything
        port = listener.getsockname()[1]
        opts = ImapOptions(host="127.0.0.1", port=port, username="u", password="p", timeout=0.3)
        with pytest.raises(SourceError, match=r"no answer within 0\.3 s"):
            ImapSource("mail", opts).collections()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_an_untrusted_certificate_is_an_error_that_suggests_cafile(
    server: Dovecot, user: str, security: str
) -> None:
    src = source(server, user, security=security, cafile="")
    with pytest.raises(SourceError, match=r"TLS certificate not trusted.*set cafile"):
        src.collections()


def test_a_missing_cafile_is_a_source_error(server: Dovecot, user: str) -> None:
    src = source(server, user, cafile="/nonexistent/ca.pem")
    with pytest.raises(SourceError, match=r"cafile /nonexistent/ca\.pem"):
        src.collections()


def test_tls_against_a_starttls_port_is_a_clear_error(server: Dovecot, user: str) -> None:
    src = source(server, user, port=server.starttls_port)  # security = tls
    with pytest.raises(SourceError, match=r"TLS failed.*check security"):
        src.collections()


def test_a_server_that_goes_away_mid_sync_is_a_source_error() -> None:
    own = start_dovecot()
    try:
        user, _ = own.add_user()
        src = source(own, user)
        inbox, _ = src.collections()
    finally:
        stop_dovecot(own)
    with pytest.raises(SourceError, match=r"connection lost|cannot connect|no answer"):
        src.changes(inbox, None)
    src.close()  # after a lost connection: no error


# --- Config ---------------------------------------------------------------------------------


def test_load_source_from_a_config_entry(server: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_TEST_IMAP_PASSWORD", server.users[user])
    entry = {
        "type": "imap",
        "name": "work-mail",
        "host": "127.0.0.1",
        "port": server.starttls_port,
        "security": "starttls",
        "cafile": str(server.cafile),
        "username": user,
        "password_env": "NUDGE_TEST_IMAP_PASSWORD",
        "max_age_days": 30,
        "batch": 100,
    }
    assert options_problems(entry, "sources[0]") == []
    src = load_source(SourceConfig.model_validate(entry))
    assert isinstance(src, ImapSource) and src.name == "work-mail"
    assert [c.id for c in src.collections()] == ["INBOX", "Sent"]
    src.close()
    monkeypatch.delenv("NUDGE_TEST_IMAP_PASSWORD")
    with pytest.raises(SourceError, match="NUDGE_TEST_IMAP_PASSWORD is not set"):
        load_source(SourceConfig.model_validate(entry)).collections()


def test_bad_options_are_reported_per_key() -> None:
    problems = options_problems(
        {
            "type": "imap",
            "host": "imaps://mail.example.com",
            "username": "me",
            "password_env": "P",
            "security": "ssl",
            "max_age_days": 0,
            "folder": ["INBOX"],
        },
        "sources[2]",
    )
    joined = "\n".join(problems)
    assert "sources[2].host: give the server name only" in joined
    assert "sources[2].security:" in joined
    assert "sources[2].max_age_days:" in joined
    assert "sources[2].folder: unknown key" in joined
    assert any("host" in p for p in options_problems({"type": "imap", "host": "x:993"}, "s"))
    no_password = options_problems({"type": "imap", "host": "x", "username": "me"}, "sources[0]")
    assert no_password == [
        "sources[0]: give the password by password_env, password_command or keyring_service"
    ]
    two = options_problems(
        {"type": "imap", "host": "x", "username": "me", "password": "a", "password_env": "B"}, "sources[0]"
    )
    assert two == ["sources[0]: give only one of password, password_env"]


def test_without_dovecot_the_tests_skip_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot_server, "dovecot_binary", lambda: None)
    monkeypatch.delenv(dovecot_server.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="dovecot is not installed"):
        dovecot_server.require_dovecot()
    monkeypatch.setenv(dovecot_server.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="NUDGE_REQUIRE_DOVECOT is set"):
        dovecot_server.require_dovecot()


def test_hrefs_round_trip_with_odd_folder_names() -> None:
    for folder in ["INBOX", "Sent Items", "a;UIDVALIDITY=1/;UID=2", "Ünïcødé/子"]:
        assert parse_href(make_href(folder, 42, 7)) == (folder, 42, 7)
    assert parse_href("INBOX;UIDVALIDITY=x/;UID=1") is None
    assert "BODY.PEEK[HEADER.FIELDS (FROM TO CC BCC DATE MESSAGE-ID IN-REPLY-TO" in FETCH_ITEM


# --- End to end -------------------------------------------------------------------------------


def test_sync_turns_sent_mail_into_touches_once_across_increments_and_a_new_uidvalidity(
    server: Dovecot,
    make_settings: Callable[..., Settings],
    engine: Engine,
) -> None:
    user, _ = server.add_user()
    me = f"{user}@example.com"
    settings = make_settings(
        me={"name": "Me", "emails": [me], "region": "DE"},
        sources=[
            {"type": "memory", "name": "book"},
            {"type": "imap", "name": "mail", **server.options(user).model_dump(exclude_defaults=True)},
        ],
    )
    MemorySource.store("book").put(
        "c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=("ana@example.org",))
    )
    now = datetime.now(UTC)  # the server dates messages by the real clock
    sent = message(frm=me, to="Ana Ruiz <ana@example.org>", subject="Lunch?", date=now - timedelta(days=3))
    server.append(user, "Sent", sent, date=now - timedelta(days=3))

    def sync(at: datetime) -> list[tuple[str, str, datetime]]:
        reports = service.sync_all(engine, settings, at, read_replies=False)
        assert all(r.ok for r in reports), [r.line() for r in reports]
        with Session(engine) as s:
            ana = find(s, "ana")
            rows = s.exec(select(Touch).where(Touch.contact_id == ana.id).order_by(col(Touch.at)))
            return [(t.kind, t.direction, t.at) for t in rows]

    [first] = sync(now)
    assert first[:2] == ("email", "out")
    with Session(engine) as s:
        tokens = {
            st.collection: st.token for st in s.exec(select(SyncState).where(SyncState.source == "mail"))
        }
    validity = server.uidvalidity(user, "Sent")
    assert tokens["Sent"] == f"{validity}:1" and tokens["INBOX"] is not None
    server.append(user, "INBOX", message(frm="ana@example.org", to=me, subject="Re: Lunch?"), date=now)
    assert [t[1] for t in sync(now + timedelta(minutes=5))] == ["out", "in"]
    server.rebuild_folder(user, "Sent")
    server.rebuild_folder(user, "INBOX")
    assert [t[1] for t in sync(now + timedelta(minutes=10))] == ["out", "in"]  # re-scanned, not doubled
