"""CardDAV + CalDAV sync end to end: Radicale behind a fault-injecting proxy, SQLite on disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service, sync
from nudge.config import Settings
from nudge.sources.dav import _HOMES
from nudge.store.models import SourceRecord, SyncState
from tests.builders import group_card, vcalendar, vcard, vevent
from tests.servers.fault_proxy import FaultProxy, Request
from tests.servers.radicale import PASSWORD, Radicale, free_port, radicale  # noqa: F401
from tests.system.test_sync import contact, counts, touches
from tests.system.test_user_data import CASES, T0, Case, play

ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"
ENV = "NUDGE_TEST_DAV_PASSWORD"


@dataclass
class Account:
    server: Radicale
    proxy: FaultProxy
    user: str
    book: str
    cal: str
    settings: Settings
    engine: Engine

    def sync(self, now: datetime, ok: bool = True) -> list[sync.Report]:
        reports = service.sync_all(self.engine, self.settings, now)
        if ok:
            assert all(r.ok for r in reports), [r.line() for r in reports]
        return reports

    def put_contact(self, uid: str, card: str) -> None:
        self.server.put_contact(self.user, self.book, uid, card)

    def put_event(self, uid: str, event: str) -> None:
        self.server.put_event(self.user, self.cal, uid, event)


def dav_sources(url: str, user: str, **extra: Any) -> list[dict[str, Any]]:
    common = {"url": url, "username": user, "password_env": ENV, "timeout": 300, **extra}
    return [{"type": "carddav", "name": "book", **common}, {"type": "caldav", "name": "cal", **common}]


@pytest.fixture
def account(
    radicale: Radicale,  # noqa: F811
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Account]:
    monkeypatch.setenv(ENV, PASSWORD)
    user = radicale.add_user()
    book = radicale.make_addressbook(user, "contacts")
    cal = radicale.make_calendar(user, "work")
    proxy = FaultProxy(radicale.url)
    settings = make_settings(sources=dav_sources(proxy.url + "/", user))
    yield Account(radicale, proxy, user, book, cal, settings, service.open_store(settings))
    proxy.close()


def stored_hrefs(engine: Engine, source: str) -> list[str]:
    with Session(engine) as s:
        return sorted(s.exec(select(SourceRecord.href).where(SourceRecord.source == source)))


def test_first_sync_then_add_change_delete_are_exactly_reflected(account: Account, now: datetime) -> None:
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,), org="Acme"))
    account.put_contact("ben", vcard("ben", "Ben Ott", emails=(BEN,)))
    account.put_event("e1", vevent("e1", now - timedelta(days=3), (ANA,), "Coffee"))
    book, cal = account.sync(now)
    assert (book.added, cal.added) == (2, 1)
    assert [t.summary for t in touches(account.engine, "ana")] == ["Coffee"]

    account.put_contact("cem", vcard("cem", "Cem Kaya", emails=("cem@example.com",)))
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,), org="Initech"))
    account.put_event("e2", vevent("e2", now - timedelta(days=1), (BEN,), "Lunch"))
    account.server.delete(account.user, f"{account.cal}e1.ics")
    account.server.delete(account.user, f"{account.book}ben.vcf")
    book, cal = account.sync(now)
    assert (book.added, book.changed, book.archived) == (1, 1, 1)
    assert (cal.added, cal.removed) == (1, 1)
    assert contact(account.engine, "ana").org == "Initech"
    assert touches(account.engine, "ana") == []
    assert contact(account.engine, "ben").archived_at is not None
    assert [t.summary for t in touches(account.engine, "ben")] == ["Lunch"]
    assert stored_hrefs(account.engine, "book") == [f"{account.book}ana.vcf", f"{account.book}cem.vcf"]


def test_a_no_op_sync_makes_one_report_per_collection_and_changes_nothing(
    account: Account, now: datetime
) -> None:
    for i in range(5):
        account.put_contact(f"p{i}", vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)))
        account.put_event(f"e{i}", vevent(f"e{i}", now - timedelta(days=i + 1), (f"p{i}@example.com",)))
    account.sync(now)
    before = counts(account.engine)
    account.proxy.requests.clear()
    book, cal = account.sync(now)
    assert (book.added, book.changed, cal.added, cal.changed) == (0, 0, 0, 0)
    assert counts(account.engine) == before
    reports = [r for r in account.proxy.requests if r.method == "REPORT"]
    assert len(reports) == 2 and all(b"sync-collection" in r.body for r in reports)
    # Discovery is remembered in the process: one PROPFIND per source re-reads the collections.
    assert [r.method for r in account.proxy.requests].count("PROPFIND") == 2


def test_a_fresh_process_discovers_through_well_known(account: Account, now: datetime) -> None:
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    _HOMES.clear()
    account.sync(now)
    paths = [r.path for r in account.proxy.requests if r.method == "PROPFIND"]
    assert "/.well-known/carddav" in paths and "/.well-known/caldav" in paths


def test_a_corrupted_token_recovers_without_duplicates(account: Account, now: datetime) -> None:
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    account.put_event("e1", vevent("e1", now - timedelta(days=3), (ANA,)))
    account.sync(now)
    before = counts(account.engine)
    with Session(account.engine) as s:
        for state in s.exec(select(SyncState).where(col(SyncState.token).is_not(None))):
            state.token = "http://radicale.org/ns/sync/garbage"
            s.add(state)
        s.commit()
    account.put_contact("ben", vcard("ben", "Ben Ott", emails=(BEN,)))
    book, cal = account.sync(now)
    assert (book.added, book.changed, cal.added, cal.changed) == (1, 0, 0, 0)
    assert counts(account.engine)["contact"] == before["contact"] + 1
    assert counts(account.engine)["touch"] == before["touch"]
    assert account.proxy.count("REPORT", b"garbage") == 2
    with Session(account.engine) as s:
        assert all("garbage" not in (t or "") for t in s.exec(select(SyncState.token)))


def test_a_sync_killed_between_batches_resumes(
    account: Account, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = "".join(vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)) for i in range(7))
    account.server.put_bulk(account.user, account.book, cards, "contacts")
    monkeypatch.setattr(sync, "BATCH", 2)
    real, calls = sync._apply_batch, []

    def dying(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real(*args, **kwargs)

    monkeypatch.setattr(sync, "_apply_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        account.sync(now, ok=False)
    assert counts(account.engine)["contact"] == 2
    with Session(account.engine) as s:
        assert s.exec(select(SyncState.token).where(SyncState.source == "book")).first() is None
    monkeypatch.setattr(sync, "_apply_batch", real)
    book, _ = account.sync(now)
    assert book.added == 5
    assert counts(account.engine)["contact"] == 7
    account.proxy.requests.clear()
    assert account.sync(now)[0].added == 0
    assert account.proxy.count("REPORT", b"multiget") == 0


def test_a_500_in_the_middle_of_multiget_fails_the_collection_and_the_next_sync_completes(
    account: Account, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = "".join(vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)) for i in range(6))
    account.server.put_bulk(account.user, account.book, cards, "contacts")
    account.put_event("e1", vevent("e1", now - timedelta(days=3), ("p1@example.com",)))
    monkeypatch.setattr(sync, "BATCH", 2)
    account.proxy.fail("REPORT", b"addressbook-multiget", status=500, after=1)
    book, cal = account.sync(now, ok=False)
    assert not book.ok and "HTTP 500" in book.line() and f"{account.book}" in book.line()
    assert book.added == 2
    assert cal.ok and cal.added == 1  # the other source goes on
    book, _ = account.sync(now)
    assert book.added == 4
    assert counts(account.engine)["contact"] == 6


def test_a_malformed_object_among_good_ones_is_skipped_and_counted(account: Account, now: datetime) -> None:
    for uid in ("a", "b", "c"):
        account.put_event(uid, vevent(uid, now - timedelta(days=2), (ANA,), f"Meeting {uid}"))
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))

    def corrupt(req: Request, status: int, body: bytes) -> bytes:
        if b"calendar-multiget" not in req.body:
            return body
        start = body.index(b"UID:b")  # the DTSTART of event b, and only of b
        at = body.index(b"DTSTART:", start)
        return body[:at] + b"DTSTART:notadate" + body[at + len(b"DTSTART:20261121T060000Z") :]

    account.proxy.rewrite = corrupt
    _, cal = account.sync(now)
    assert cal.added == 2
    [skipped] = cal.skipped
    assert skipped.href == f"{account.cal}b.ics" and skipped.uid == "b"
    assert "1 skipped" in cal.line()
    assert sorted(t.summary for t in touches(account.engine, "ana")) == ["Meeting a", "Meeting c"]


def test_wrong_password_is_a_clear_error_and_other_sources_still_sync(
    radicale: Radicale,  # noqa: F811
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
) -> None:
    good = radicale.add_user()
    book = radicale.make_addressbook(good, "contacts")
    radicale.put_contact(good, book, "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    monkeypatch.setenv(ENV, PASSWORD)
    monkeypatch.setenv("WRONG_PASSWORD", "not-it")
    bad = {"type": "carddav", "name": "bad", "url": radicale.url + "/", "username": good}
    settings = make_settings(
        sources=[{**bad, "password_env": "WRONG_PASSWORD"}, *dav_sources(radicale.url, good)]
    )
    engine = service.open_store(settings)
    failed, book_report, cal_report = service.sync_all(engine, settings, now)
    assert not failed.ok
    assert failed.errors == [f"login refused for {good} at {radicale.url}/ (HTTP 401)"]
    assert book_report.ok and book_report.added == 1
    assert cal_report.ok


def test_server_down_and_missing_password_are_errors_not_crashes(
    make_settings: Callable[..., Settings], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    down = f"http://127.0.0.1:{free_port()}/"
    settings = make_settings(
        sources=[
            {"type": "carddav", "name": "down", "url": down, "username": "u", "password": "x", "timeout": 5},
            {"type": "caldav", "name": "nopw", "url": down, "username": "u", "password_env": ENV},
        ]
    )
    engine = service.open_store(settings)
    down_report, nopw = service.sync_all(engine, settings, now)
    assert "cannot connect" in down_report.errors[0] and down in down_report.errors[0]
    assert nopw.errors == [f"sources.nopw.password_env: environment variable {ENV} is not set"]


@pytest.mark.slow
def test_a_20000_event_calendar_syncs_fully_against_stock_radicale(account: Account, now: datetime) -> None:
    """Stock Radicale refuses one REPORT carrying > 10,000 events: hrefs first, then multigets.

    Small events without attendees keep the test short: it is about getting all
    of them through, not about touches (the benchmark has realistic ones).
    """
    start = now - timedelta(days=300)
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start + timedelta(minutes=10 * i):%Y%m%dT%H%M%SZ}\r\nSUMMARY:Event {i}\r\nEND:VEVENT\r\n"
        for i in range(20_000)
    )
    account.server.put_bulk(account.user, account.cal, vcalendar(events), "events")
    _, cal = account.sync(now)
    assert cal.added == 20_000 and not cal.skipped
    with Session(account.engine) as s:
        assert len(s.exec(select(SourceRecord.id).where(SourceRecord.source == "cal")).all()) == 20_000
    to_calendar = [r for r in account.proxy.requests if r.path == account.cal]
    assert sum(b"sync-token" in r.body for r in to_calendar if r.method == "PROPFIND") == 1
    assert sum(b"sync-collection" in r.body for r in to_calendar) == 0  # a first sync lists by PROPFIND
    assert sum(b"calendar-multiget" in r.body for r in to_calendar) == 20_000 // sync.BATCH


def test_group_cards_give_and_take_tiers_against_radicale(account: Account, now: datetime) -> None:
    """Apple's 3.0 group cards, as iCloud and Nextcloud serve them; the group comes before one member."""
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    account.put_contact("top", group_card("top", "Top 100", ("ana", "ben"), apple=True))
    book, _ = account.sync(now)
    assert (book.added, book.skipped) == (1, [])
    assert contact(account.engine, "ana").tier == "top100"
    account.put_contact("ben", vcard("ben", "Ben Ott", emails=(BEN,)))
    account.sync(now)
    assert contact(account.engine, "ben").tier == "top100"
    account.put_contact("top", group_card("top", "Top 100", ("ben",), apple=True))
    account.sync(now)
    assert (contact(account.engine, "ana").tier, contact(account.engine, "ben").tier) == (None, "top100")
    account.server.delete(account.user, f"{account.book}top.vcf")
    book, _ = account.sync(now)
    assert (book.archived, contact(account.engine, "ben").tier) == (0, None)
    assert stored_hrefs(account.engine, "book") == [f"{account.book}ana.vcf", f"{account.book}ben.vcf"]


def test_a_first_sync_takes_the_token_before_the_listing_and_loses_nothing_in_between(
    account: Account, now: datetime
) -> None:
    """A card written after the token was taken is in the listing and comes again next time."""
    account.put_contact("ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    written: list[bytes] = []

    def write_after_the_token(req: Request, status: int, body: bytes) -> bytes:
        if req.method == "PROPFIND" and b"sync-token" in req.body and not written:
            written.append(req.path.encode())
            account.put_contact("ben", vcard("ben", "Ben Ott", emails=(BEN,)))
        return body

    account.proxy.rewrite = write_after_the_token
    book, _ = account.sync(now)
    assert book.added == 2 and written
    methods = [(r.method, b"sync-token" in r.body) for r in account.proxy.requests if r.path == account.book]
    assert methods[:2] == [("PROPFIND", True), ("PROPFIND", False)]  # the token, then the listing
    assert ("REPORT", True) not in methods
    account.proxy.rewrite = None
    account.proxy.requests.clear()
    book, _ = account.sync(now)
    assert (book.added, book.changed) == (0, 0)  # ben is reported again, with the etag already stored
    assert account.proxy.count("REPORT", b"multiget") == 0


class DavWorld:
    """The scenarios of test_user_data on Radicale: "cal" reads the calendars work (the objects)
    and home of one account, "cal2" a calendar of another account."""

    def __init__(self, server: Radicale, make_settings: Callable[..., Settings]) -> None:
        self.server, self.make_settings = server, make_settings
        self.user, self.other = server.add_user(), server.add_user()
        book = server.make_addressbook(self.user, "contacts")
        self.work = server.make_calendar(self.user, "work")
        home = server.make_calendar(self.user, "home")
        self.shared = server.make_calendar(self.other, "shared")
        server.put_contact(self.user, book, "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
        server.put_contact(self.user, book, "ben", vcard("ben", "Ben Ott", emails=(BEN,)))
        server.put_event(self.user, home, "dentist", vevent("dentist", T0, (), "Dentist"))
        self.sources = ["book", "cal", "cal2"]
        self.hrefs: dict[str, str] = {}  # object name -> the UID it is stored under
        self.engine = service.open_store(self.settings())

    def settings(self) -> Settings:
        common = {"url": self.server.url + "/", "password_env": ENV, "timeout": 60}
        every = {
            "book": {"type": "carddav", "username": self.user},
            "cal": {"type": "caldav", "username": self.user},
            "cal2": {"type": "caldav", "username": self.other},
        }
        return self.make_settings(sources=[{"name": n, **common, **every[n]} for n in self.sources])

    def put(self, name: str, vevents: str) -> None:
        """At `<UID>.ics`: Radicale refuses another UID at an href (a client deletes and creates)."""
        uid = vevents.split("UID:", 1)[1].split("\r\n", 1)[0]
        if self.hrefs.get(name, uid) != uid:
            self.delete(name)
        self.server.put_event(self.user, self.work, uid, vevents)
        self.hrefs[name] = uid

    def delete(self, name: str) -> None:
        self.server.delete(self.user, f"{self.work}{self.hrefs.pop(name)}.ics")

    def put_elsewhere(self, name: str, vevents: str) -> None:
        self.server.put_event(self.other, self.shared, name, vevents)

    def drop_calendar(self) -> None:
        self.server.delete(self.user, self.work)

    def drop_source(self) -> None:
        self.sources.remove("cal")

    def sync(self, now: datetime) -> None:
        reports = service.sync_all(self.engine, self.settings(), now)
        assert all(r.ok for r in reports), [r.line() for r in reports]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_user_data_on_a_meeting_survives_every_change_to_its_event_on_radicale(
    radicale: Radicale,  # noqa: F811
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    case: Case,
    now: datetime,
) -> None:
    """An outcome and a note on a CalDAV meeting: moved, cancelled, deleted, declined, calendar deleted."""
    monkeypatch.setenv(ENV, PASSWORD)
    play(DavWorld(radicale, make_settings), case, now)
