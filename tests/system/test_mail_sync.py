"""Messages into touches end to end, into SQLite on disk, through the memory source.

The IMAP and Gmail sources have their own real-server tests; these cover what
every message source shares: touches, deduplication, sightings, and the
unanswered-email moment that reaches the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service
from nudge.actions import find, log_touch
from nudge.config import Settings
from nudge.sources.memory import MemorySource, MemoryStore
from nudge.store.models import Moment, Sighting, Touch
from tests.builders import ME, email, vcard, vevent

ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"
LEE = "lee@example.com"


@pytest.fixture
def stores(make_settings: Callable[..., Settings]) -> tuple[MemoryStore, MemoryStore, Settings]:
    settings = make_settings(sources=[{"type": "memory", "name": "book"}, {"type": "memory", "name": "mail"}])
    book, mail = MemorySource.store("book"), MemorySource.store("mail")
    book.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,), categories=("top100",)))
    book.put("c", "contacts", "ben", vcard("ben", "Ben Ott", emails=(BEN,)))
    return book, mail, settings


def sync(engine: Engine, settings: Settings, now: datetime) -> None:
    reports = service.sync_all(engine, settings, now)
    assert all(r.ok for r in reports), [r.line() for r in reports]


def touches_of(engine: Engine, name: str) -> list[Touch]:
    with Session(engine) as s:
        cid = find(s, name).id
        return list(s.exec(select(Touch).where(Touch.contact_id == cid).order_by(col(Touch.at))))


def test_sent_and_received_mail_become_email_touches(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    mail.put("Sent", "messages", "1", email("1@me", ME, (ANA,), now - timedelta(days=3), "Dinner?"))
    mail.put("INBOX", "messages", "2", email("2@ana", ANA, (ME,), now - timedelta(days=2), "Re: Dinner?"))
    sync(engine, settings, now)
    got = [(t.kind, t.direction, t.summary) for t in touches_of(engine, "ana")]
    assert got == [("email", "out", "email “Dinner?”"), ("email", "in", "email “Re: Dinner?”")]
    with Session(engine) as s:
        ana = find(s, "ana")
    assert ana.last_touch_at == now - timedelta(days=2)
    assert ana.warmth_sum > 0


def test_the_same_message_in_two_folders_or_two_sources_is_one_touch(
    make_settings: Callable[..., Settings], engine: Engine, now: datetime
) -> None:
    names = ("book", "imap", "gmail")
    settings = make_settings(sources=[{"type": "memory", "name": n} for n in names])
    MemorySource.store("book").put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    msg = email("same@me", ME, (ANA,), now - timedelta(days=1))
    MemorySource.store("imap").put("Sent", "messages", "7", msg)
    MemorySource.store("imap").put("INBOX", "messages", "9", msg)  # cc'd to oneself
    MemorySource.store("gmail").put("SENT", "messages", "abc", msg)
    sync(engine, settings, now)
    sync(engine, settings, now + timedelta(hours=1))  # a full re-scan of everything, too
    assert len(touches_of(engine, "ana")) == 1


def test_email_and_meeting_with_the_same_person_are_two_touches_counted_once_each(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    book, mail, settings = stores
    met = now - timedelta(days=5)
    book.put("cal", "events", "ev", vevent("ev", met, attendees=(ANA,), summary="Coffee"))
    mail.put("Sent", "messages", "1", email("1@me", ME, (ANA,), met + timedelta(hours=2), "Thanks!"))
    sync(engine, settings, now)
    sync(engine, settings, now + timedelta(minutes=5))
    assert [t.kind for t in touches_of(engine, "ana")] == ["meeting", "email"]


def test_lists_and_machines_leave_no_trace(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    when = now - timedelta(days=1)
    mail.put("INBOX", "messages", "1", email("1@l", ANA, (ME,), when, extra=("List-Id: <x.lists.org>",)))
    mail.put("INBOX", "messages", "2", email("2@n", "noreply@shop.example", (ME,), when))
    sync(engine, settings, now)
    assert touches_of(engine, "ana") == []
    with Session(engine) as s:
        assert s.exec(select(Sighting)).all() == []


def test_a_malformed_message_is_skipped_and_counted_the_rest_imported(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    mail.put("INBOX", "messages", "bad", "Message-ID: <bad@x>\r\nFrom: ana\r\n\r\n")
    mail.put("INBOX", "messages", "ok", email("ok@x", ANA, (ME,), now - timedelta(days=1)))
    reports = service.sync_all(engine, settings, now)
    [report] = [r for r in reports if r.source == "mail"]
    assert [(s.uid, s.reason) for s in report.skipped] == [("<bad@x>", "no Date header")]
    assert report.added == 1
    assert len(touches_of(engine, "ana")) == 1


def test_mail_with_someone_not_yet_a_contact_arrives_when_they_are_added(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    book, mail, settings = stores
    mail.put("Sent", "messages", "1", email("1@me", ME, (LEE,), now - timedelta(days=4), "Intro"))
    sync(engine, settings, now)
    with Session(engine) as s:
        assert [x.kind for x in s.exec(select(Sighting).where(Sighting.email == LEE))] == ["email"]
    book.put("c", "contacts", "lee", vcard("lee", "Lee Park", emails=(LEE,)))
    sync(engine, settings, now + timedelta(hours=1))
    [t] = touches_of(engine, "lee")
    assert (t.kind, t.direction, t.summary) == ("email", "out", "email “Intro”")
    assert t.at == now - timedelta(days=4)
    with Session(engine) as s:
        assert s.exec(select(Sighting)).all() == []


def test_sync_never_removes_email_touches_when_the_message_goes(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    mail.put("Sent", "messages", "1", email("1@me", ME, (ANA,), now - timedelta(days=3)))
    sync(engine, settings, now)
    mail.delete("Sent", "1")  # the user tidied the mailbox: the email was still written
    sync(engine, settings, now + timedelta(hours=1))
    assert len(touches_of(engine, "ana")) == 1


# --- unanswered email -------------------------------------------------------------


def inbound_moments(engine: Engine) -> list[Moment]:
    with Session(engine) as s:
        return list(s.exec(select(Moment).where(Moment.kind == "inbound")))


def test_an_unanswered_email_from_the_top100_becomes_a_moment_after_three_days(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    wrote = now - timedelta(days=2)  # Saturday 21 Nov
    mail.put("INBOX", "messages", "1", email("1@ana", ANA, (ME,), wrote, "Quick question"))
    mail.put("INBOX", "messages", "2", email("2@ben", BEN, (ME,), now - timedelta(days=5)))  # not in a tier
    sync(engine, settings, now)
    assert inbound_moments(engine) == []  # two days: not yet
    later = now + timedelta(days=1, hours=1)
    sync(engine, settings, later)
    [m] = inbound_moments(engine)
    assert m.detail == "wrote on Sat 21 Nov, no reply yet"
    sync(engine, settings, later + timedelta(hours=1))
    assert len(inbound_moments(engine)) == 1  # noted once

    plan, _ = service.make_plan(engine, settings, later, later.date())
    [pick] = [k for k in plan.calls if k.person.name == "Ana Ruiz"]
    assert pick.reasons[0] == "inbound"  # despite the touch two days ago: she is waiting
    text = service.render_day(engine, settings, later, later.date()).text
    assert "wrote on Sat 21 Nov, no reply yet" in text


def test_a_reply_call_or_meeting_answers_the_email(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    mail.put("INBOX", "messages", "1", email("1@ana", ANA, (ME,), now - timedelta(days=5)))
    mail.put("Sent", "messages", "2", email("2@me", ME, (ANA,), now - timedelta(days=4), "Re: hi"))
    sync(engine, settings, now)
    assert inbound_moments(engine) == []


def test_an_open_moment_is_resolved_by_a_later_call(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    _, mail, settings = stores
    mail.put("INBOX", "messages", "1", email("1@ana", ANA, (ME,), now - timedelta(days=4)))
    sync(engine, settings, now)
    [m] = inbound_moments(engine)
    assert m.seen_at is None
    with Session(engine) as s:
        log_touch(s, settings, find(s, "ana"), now + timedelta(hours=1), "call", "caught up")
        s.commit()
    sync(engine, settings, now + timedelta(hours=2))
    [m] = inbound_moments(engine)
    assert m.seen_at == now + timedelta(hours=2)
    plan, _ = service.make_plan(engine, settings, now + timedelta(hours=3), now.date())
    assert all("inbound" not in k.reasons for k in plan.calls)


def test_warmth_added_per_batch_equals_a_full_recount(
    stores: tuple[MemoryStore, MemoryStore, Settings],
    engine: Engine,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nudge import sync as sync_module
    from nudge.store.derived import refresh_contacts
    from nudge.store.models import Contact

    monkeypatch.setattr(sync_module, "BATCH", 3)  # many small batches, each adding to the last
    book, mail, settings = stores
    book.put("cal", "events", "ev", vevent("ev", now - timedelta(days=40), attendees=(ANA,)))
    for i in range(10):
        at = now - timedelta(days=3 * i + 1)
        mail.put("Sent", "messages", f"s{i}", email(f"s{i}@me", ME, (ANA, BEN), at))
        mail.put("INBOX", "messages", f"i{i}", email(f"i{i}@x", BEN, (ME,), at - timedelta(hours=5)))
    sync(engine, settings, now)
    with Session(engine) as s:
        stored = {c.id: (c.last_touch_at, c.warmth_sum) for c in s.exec(select(Contact))}
        refresh_contacts(s, list(stored), now, settings.touches.half_life_days)
        s.commit()
        recount = {c.id: (c.last_touch_at, c.warmth_sum) for c in s.exec(select(Contact))}
    assert stored.keys() == recount.keys()
    for cid, (last, total) in stored.items():
        assert last == recount[cid][0]
        assert total == pytest.approx(recount[cid][1], rel=1e-9)
    assert all(total > 0 for _, total in stored.values())


def test_an_old_reminder_is_resolved_by_a_call_and_expires_unanswered(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    book, mail, settings = stores
    book.put("c", "contacts", "cleo", vcard("cleo", "Cleo Diaz", emails=(LEE,), categories=("top100",)))
    wrote = now - timedelta(days=27)
    mail.put("INBOX", "messages", "1", email("1@ana", ANA, (ME,), wrote))
    mail.put("INBOX", "messages", "2", email("2@lee", LEE, (ME,), wrote))
    sync(engine, settings, now - timedelta(days=20))
    assert len([m for m in inbound_moments(engine) if m.seen_at is None]) == 2
    later = now + timedelta(days=10)  # both emails are now older than the 30-day lookback
    with Session(engine) as s:
        log_touch(s, settings, find(s, "ana"), later - timedelta(hours=2), "call", "caught up")
        s.commit()
    sync(engine, settings, later)
    assert all(m.seen_at == later for m in inbound_moments(engine))  # answered, and expired
    plan, _ = service.make_plan(engine, settings, later, later.date())
    assert all("inbound" not in k.reasons for k in plan.calls)


def test_a_meeting_after_the_email_answers_it(
    stores: tuple[MemoryStore, MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    book, mail, settings = stores
    mail.put("INBOX", "messages", "1", email("1@ana", ANA, (ME,), now - timedelta(days=6)))
    book.put("cal", "events", "ev", vevent("ev", now - timedelta(days=5), attendees=(ANA,), summary="Lunch"))
    sync(engine, settings, now)
    assert inbound_moments(engine) == []
