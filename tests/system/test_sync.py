"""Sync end to end into SQLite on disk: merging, touches, archiving, moments, faults."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service, sync
from nudge.actions import find, log_touch
from nudge.config import Settings
from nudge.digest import facts as view
from nudge.errors import SourceError
from nudge.sources.base import BadItem, Collection, Item
from nudge.sources.memory import MemorySource, MemoryStore
from nudge.store.db import atomic
from nudge.store.models import Contact, Identity, Moment, Planned, Sighting, SyncState, Touch
from tests.builders import ME, vcalendar, vcard, vevent

pytestmark = pytest.mark.both_stores  # the dialect matters here: run on SQLite and PostgreSQL

ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"


@pytest.fixture
def book(make_settings: Callable[..., Settings]) -> tuple[MemoryStore, Settings]:
    settings = make_settings(sources=[{"type": "memory", "name": "book"}])
    return MemorySource.store("book"), settings


def run(engine: Engine, settings: Settings, now: datetime) -> list[sync.Report]:
    reports = service.sync_all(engine, settings, now)
    assert all(r.ok for r in reports), [r.line() for r in reports]
    return reports


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("contact", "identity", "touch", "planned", "moment", "sourcerecord", "sighting")
        }


def contact(engine: Engine, name: str) -> Contact:
    with Session(engine) as s:
        return find(s, name, include_archived=True)


def touches(engine: Engine, name: str) -> list[Touch]:
    cid = contact(engine, name).id
    with Session(engine) as s:
        return list(s.exec(select(Touch).where(Touch.contact_id == cid).order_by(col(Touch.at))))


def test_contacts_merge_across_sources_by_email_and_phone(
    make_settings: Callable[..., Settings], engine: Engine, now: datetime
) -> None:
    settings = make_settings(sources=[{"type": "memory", "name": "a"}, {"type": "memory", "name": "b"}])
    MemorySource.store("a").put("c", "contacts", "1", vcard("1", "Ana Ruiz", emails=(ANA.upper(),)))
    MemorySource.store("a").put("c", "contacts", "2", vcard("2", "Ben Ott", phones=("030 1234567",)))
    MemorySource.store("b").put("c", "contacts", "x", vcard("x", "Ana R.", emails=(ANA, "ana@work.example")))
    MemorySource.store("b").put("c", "contacts", "y", vcard("y", "Benjamin Ott", phones=("+49 30 1234567",)))
    run(engine, settings, now)
    with Session(engine) as s:
        assert len(s.exec(select(Contact)).all()) == 2
        ana = s.exec(select(Identity).where(Identity.value == ANA)).one()
        work = s.exec(select(Identity).where(Identity.value == "ana@work.example")).one()
        phone = s.exec(select(Identity).where(Identity.kind == "phone")).one()
    assert ana.contact_id == work.contact_id
    assert phone.value == "+49301234567"


def test_own_card_never_becomes_a_contact(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "me", vcard("me", "Me Myself", emails=(ME.upper(),)))
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA, ME)))
    run(engine, settings, now)
    with Session(engine) as s:
        names = [c.name for c in s.exec(select(Contact))]
        mine = s.exec(select(Identity).where(Identity.value == ME)).first()
    assert names == ["Ana Ruiz"]
    assert mine is None


def test_past_meetings_become_touches_shared_among_attendees(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put("c", "contacts", "ben", vcard("ben", "Ben Ott", emails=(BEN,)))
    store.put("cal", "events", "e1", vcalendar(vevent("e1", now - timedelta(days=10), (ANA,), "Coffee")))
    store.put("cal", "events", "e2", vcalendar(vevent("e2", now - timedelta(days=5), (ANA, BEN), "Lunch")))
    run(engine, settings, now)
    ana = touches(engine, "ana")
    assert [(t.summary, round(t.weight, 2), t.kind) for t in ana] == [
        ("Coffee", 1.0, "meeting"),
        ("Lunch", 0.5, "meeting"),
    ]
    assert contact(engine, "ana").last_touch_at == now - timedelta(days=5)
    assert contact(engine, "ben").warmth_sum > 0


def test_sync_twice_changes_nothing(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put(
        "c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,), org="Acme", categories=("top100",))
    )
    weekly = vevent("w", now - timedelta(days=60), (ANA,), "1:1", extra=("RRULE:FREQ=WEEKLY;COUNT=12",))
    store.put("cal", "events", "w", vcalendar(weekly))
    run(engine, settings, now)
    before = counts(engine)
    with Session(engine) as s:
        ids = sorted(t.id for t in s.exec(select(Touch)))
    again = run(engine, settings, now)
    assert counts(engine) == before
    assert (again[0].added, again[0].changed) == (0, 0)
    with Session(engine) as s:
        assert sorted(t.id for t in s.exec(select(Touch))) == ids
    assert before["touch"] == 9  # 12 weekly occurrences, 3 of them still ahead
    assert before["planned"] == 2  # the two within the next 14 days


def test_removed_contact_is_archived_with_its_history(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put("cal", "events", "e1", vcalendar(vevent("e1", now - timedelta(days=3), (ANA,))))
    run(engine, settings, now)
    with atomic(engine) as s:
        log_touch(s, settings, find(s, "ana"), now, "call", "moving to Berlin")
    store.delete("c", "ana")
    report = run(engine, settings, now)[0]
    assert report.archived == 1
    ana = contact(engine, "ana")
    assert ana.archived_at is not None
    assert {t.kind for t in touches(engine, "ana")} == {"meeting", "call"}
    store.put("c", "contacts", "ana2", vcard("ana2", "Ana Ruiz", emails=(ANA,)))
    run(engine, settings, now)
    assert contact(engine, "ana").archived_at is None
    assert contact(engine, "ana").id == ana.id


def test_removed_event_drops_its_touches_but_never_logged_ones(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put("cal", "events", "e1", vcalendar(vevent("e1", now - timedelta(days=3), (ANA,))))
    store.put("cal", "events", "e2", vcalendar(vevent("e2", now + timedelta(days=3), (ANA,))))
    run(engine, settings, now)
    with atomic(engine) as s:
        log_touch(s, settings, find(s, "ana"), now, "call", "note")
    assert counts(engine)["planned"] == 1
    store.delete("cal", "e1")
    store.delete("cal", "e2")
    report = run(engine, settings, now)[0]
    assert report.removed == 2
    assert [t.kind for t in touches(engine, "ana")] == ["call"]
    assert counts(engine)["planned"] == 0
    assert contact(engine, "ana").last_touch_at == now


def test_moved_event_updates_its_touch_in_place(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    """What the user attached to a synced meeting survives the meeting being edited."""
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    weekly = ("RRULE:FREQ=WEEKLY;COUNT=3",)
    store.put(
        "cal", "events", "w", vcalendar(vevent("w", now - timedelta(days=20), (ANA,), "Sync", extra=weekly))
    )
    run(engine, settings, now)
    first = touches(engine, "ana")[0]
    with atomic(engine) as s:
        t = s.get(Touch, first.id)
        assert t is not None
        t.outcome = "meeting"
        s.add(t)
    store.put(
        "cal", "events", "w", vcalendar(vevent("w", now - timedelta(days=20), (ANA,), "Sync!", extra=weekly))
    )
    run(engine, settings, now)
    after = touches(engine, "ana")
    assert after[0].id == first.id and after[0].outcome == "meeting" and after[0].summary == "Sync!"


def test_job_change_between_syncs_is_a_moment(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,), org="Acme", title="CTO"))
    run(engine, settings, now)
    assert counts(engine)["moment"] == 0  # a first reading is no change
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,), org="Bolt", title="CEO"))
    run(engine, settings, now)
    with Session(engine) as s:
        moment = s.exec(select(Moment)).one()
    assert (moment.kind, moment.detail) == ("job_change", "now CEO at Bolt")
    assert contact(engine, "ana").org == "Bolt"


def test_upcoming_meeting_turns_into_a_touch_once_past(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put("cal", "events", "e", vcalendar(vevent("e", now + timedelta(days=2), (ANA,), "Dinner")))
    run(engine, settings, now)
    assert (counts(engine)["planned"], counts(engine)["touch"]) == (1, 0)
    later = now + timedelta(days=3)
    run(engine, settings, later)  # nothing changed at the source
    assert (counts(engine)["planned"], counts(engine)["touch"]) == (0, 1)
    assert contact(engine, "ana").last_touch_at == now + timedelta(days=2)


def test_recurring_series_grows_new_touches_over_time(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    weekly = vevent("w", now - timedelta(days=13), (ANA,), "1:1", extra=("RRULE:FREQ=WEEKLY",))
    store.put("cal", "events", "w", vcalendar(weekly))
    run(engine, settings, now)
    assert len(touches(engine, "ana")) == 2
    run(engine, settings, now + timedelta(days=30))
    assert len(touches(engine, "ana")) == 7  # -13, -6, +1, +8, +15, +22, +29 days


def test_meetings_with_people_added_later_are_kept(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put(
        "cal", "events", "e", vcalendar(vevent("e", now - timedelta(days=40), (ANA,), "Conference chat"))
    )
    store.put("cal", "events", "f", vcalendar(vevent("f", now + timedelta(days=4), (ANA,), "Follow-up")))
    run(engine, settings, now)
    assert counts(engine)["sighting"] == 1
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    run(engine, settings, now)
    assert [t.summary for t in touches(engine, "ana")] == ["Conference chat"]
    assert counts(engine)["sighting"] == 0
    assert counts(engine)["planned"] == 1


def test_declined_cancelled_and_crowded_events_are_no_touch(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    crowd = tuple(f"p{i}@example.com" for i in range(9))
    day = now - timedelta(days=4)
    store.put("cal", "events", "a", vcalendar(vevent("a", day, (ANA,), extra=("STATUS:CANCELLED",))))
    store.put("cal", "events", "b", vcalendar(vevent("b", day, (ANA,), partstat={ANA: "DECLINED"})))
    store.put("cal", "events", "c", vcalendar(vevent("c", day, (ANA, *crowd))))
    run(engine, settings, now)
    assert touches(engine, "ana") == []


def test_tiers_from_categories_and_the_cli_wins(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    from nudge.actions import set_tier

    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,), categories=("Top 100",)))
    store.put(
        "c", "contacts", "ben", vcard("ben", "Ben Ott", emails=(BEN,), categories=("Referral Partner",))
    )
    run(engine, settings, now)
    assert (contact(engine, "ana").tier, contact(engine, "ben").tier) == ("top100", "partner")
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    run(engine, settings, now)
    assert contact(engine, "ana").tier is None
    with atomic(engine) as s:
        set_tier(s, settings, find(s, "ben"), "top100", now)
    store.put(
        "c", "contacts", "ben", vcard("ben", "Ben Ott", emails=(BEN,), org="New", categories=("partner",))
    )
    run(engine, settings, now)
    assert contact(engine, "ben").tier == "top100"


def test_malformed_objects_are_skipped_and_counted(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put("c", "contacts", "bad", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bad-1\r\nEND:VCARD\r\n")
    store.put("c", "contacts", "junk", "this is not a vcard at all")
    store.put(
        "cal",
        "events",
        "e",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:ev-9\r\nDTSTART:nope\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    report = service.sync_all(engine, settings, now)[0]
    assert report.ok and report.added == 1
    assert {s.uid for s in report.skipped} >= {"bad-1", "ev-9"}
    assert len(report.skipped) == 3
    assert "3 skipped" in report.line()


def test_a_failing_source_does_not_stop_the_others(
    make_settings: Callable[..., Settings], engine: Engine, now: datetime
) -> None:
    settings = make_settings(sources=[{"type": "memory", "name": "down"}, {"type": "memory", "name": "up"}])
    MemorySource.store("down").fail = "server said 503 Service Unavailable"
    MemorySource.store("up").put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    down, up = service.sync_all(engine, settings, now)
    assert not down.ok and "503" in down.line()
    assert up.ok and up.added == 1
    with Session(engine) as s:
        state = s.exec(select(SyncState).where(SyncState.source == "down", SyncState.collection == "")).one()
        assert state.last_error is not None and "503" in state.last_error
        assert view.failing_sources(s, settings) == (
            "Source down is failing: server said 503 Service Unavailable",
        )


def test_an_empty_source_never_archives_everything(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    run(engine, settings, now)
    store.collections.clear()
    report = service.sync_all(engine, settings, now)[0]
    assert not report.ok and "no collections" in report.errors[0]
    assert contact(engine, "ana").archived_at is None


def test_incremental_sync_uses_the_token(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    for i in range(5):
        store.put("c", "contacts", f"p{i}", vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)))
    run(engine, settings, now)
    with Session(engine) as s:
        assert s.exec(select(SyncState.token).where(SyncState.collection == "c")).one() == "5"
    store.put("c", "contacts", "p1", vcard("p1", "Person One", emails=("p1@example.com",)))
    store.delete("c", "p2")
    report = run(engine, settings, now)[0]
    assert (report.added, report.changed, report.archived) == (0, 1, 1)


def test_invalid_token_falls_back_to_a_full_listing(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    run(engine, settings, now)
    before = counts(engine)
    with atomic(engine) as s:
        state = s.exec(select(SyncState).where(SyncState.collection == "c")).one()
        state.token = "garbage"
        s.add(state)
    report = run(engine, settings, now)[0]
    assert (report.added, report.changed) == (0, 0)
    assert counts(engine) == before


class FlakySource(MemorySource):
    """Fails on the second fetch batch, once: a sync cut off halfway."""

    failures = 1

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        hrefs = list(hrefs)
        if hrefs[0].endswith("p2") and FlakySource.failures:
            FlakySource.failures -= 1
            raise SourceError("connection reset")
        yield from super().fetch(collection, hrefs)


def test_interrupted_sync_resumes_without_duplicates(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, settings = book
    for i in range(4):
        store.put("c", "contacts", f"p{i}", vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)))
    monkeypatch.setattr(sync, "BATCH", 2)
    monkeypatch.setattr(FlakySource, "failures", 1)  # once per run of the test (it runs on each store)
    ctx = service.ingest_context(settings, now)
    first = sync.sync_source(engine, FlakySource("book", FlakySource.options_model()), ctx)
    assert not first.ok and first.added == 2
    with Session(engine) as s:
        assert s.exec(select(SyncState.token).where(SyncState.collection == "c")).one_or_none() is None
    second = sync.sync_source(engine, FlakySource("book", FlakySource.options_model()), ctx)
    assert second.ok and second.added == 2
    assert counts(engine)["contact"] == 4


def test_files_source_end_to_end(
    make_settings: Callable[..., Settings], tmp_path: Path, now: datetime
) -> None:
    book = tmp_path / "contacts.vcf"
    cal = tmp_path / "calendar.ics"
    book.write_text(
        vcard("ana", "Ana Ruiz", emails=(ANA,))
        + "BEGIN:VCARD\r\nFN:broken\r\n"
        + vcard("ben", "Ben Ott", emails=(BEN,))
    )
    cal.write_text(vcalendar(vevent("e", now - timedelta(days=2), (ANA, BEN), "Workshop")))
    settings = make_settings(sources=[{"type": "files", "name": "f", "paths": [str(book), str(cal)]}])
    engine = service.open_store(settings)
    report = service.sync_all(engine, settings, now)[0]
    assert report.added == 3 and report.ok
    assert len(touches(engine, "ben")) == 1
    book.unlink()
    report = service.sync_all(engine, settings, now)[0]
    assert not report.ok and "no such file" in report.line()
    assert contact(engine, "ana").archived_at is None


def test_planned_rows_only_for_contacts(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime
) -> None:
    store, settings = book
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put(
        "cal", "events", "e", vcalendar(vevent("e", now + timedelta(days=1), (ANA, "stranger@example.com")))
    )
    run(engine, settings, now)
    with Session(engine) as s:
        rows = s.exec(select(Planned)).all()
        assert [r.contact_id for r in rows] == [contact(engine, "ana").id]
        assert s.exec(select(Sighting)).all() == []  # only past meetings are remembered for strangers


def test_progress_is_reported_per_source_as_batches_land(
    book: tuple[MemoryStore, Settings], engine: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, settings = book
    for i in range(5):
        store.put("c", "contacts", f"p{i}", vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)))
    monkeypatch.setattr(sync, "BATCH", 2)
    seen: list[tuple[str, int, int]] = []
    service.sync_all(engine, settings, now, progress=lambda *step: seen.append(step))
    assert seen == [("book", 2, 5), ("book", 4, 5), ("book", 5, 5)]
