"""What the user adds to a calendar meeting survives every sync (files source; Radicale in test_dav_sync).

Ana and Ben meet the user; Ana's touch carries an outcome and a note, Ben's
nothing. Then the event is moved, cancelled, deleted, declined, ... and synced
again. Ana's outcome and note are always still there: on the meeting's touch
if the meeting still is one for her, else on a touch of her own with its date
("calendar event since removed"). Ben's touch follows the event: it goes when
the event is no touch for him any more.

`World` is the calendar the scenarios act on; `FilesWorld` is .ics files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
import sqlalchemy as sa
import time_machine
from hypothesis import given
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service
from nudge.actions import find
from nudge.config import Settings
from nudge.reports.contacts import timeline
from nudge.sources.memory import MemorySource
from nudge.store.db import atomic
from nudge.store.models import Sighting, Touch
from nudge.store.owner import every_owner
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.profiles import scaled
from tests.system.test_cli import nudge
from tests.system.test_sync_properties import cards, events, fresh, load, snapshot

pytestmark = pytest.mark.both_stores  # the dialect matters here: run on SQLite and PostgreSQL

ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"
T0 = NOW - timedelta(days=10)  # when Ana, Ben and the user had coffee
OUTCOME, NOTE = "meeting", "wants an intro to a CFO"
GONE_LINE = "calendar event since removed (was in cal)"


class World(Protocol):
    """A calendar source "cal" (and, for one scenario, a second one "cal2") beside an address book."""

    engine: Engine

    def put(self, name: str, vevents: str) -> None:
        """Write the calendar object `name` of "cal" (a new one, or over the old one)."""

    def delete(self, name: str) -> None: ...

    def put_elsewhere(self, name: str, vevents: str) -> None:
        """The same object in a second calendar source, "cal2", synced after "cal"."""

    def drop_calendar(self) -> None:
        """The calendar holding the objects leaves the source (file out of `paths`, collection deleted)."""

    def drop_source(self) -> None:
        """The source "cal" is taken out of the config."""

    def sync(self, now: datetime) -> None: ...


def coffee(
    start: datetime = T0,
    uid: str = "e1",
    attendees: tuple[str, ...] = (ANA, BEN),
    extra: tuple[str, ...] = (),
    partstat: dict[str, str] | None = None,
    organizer: str = ME,
) -> str:
    return vevent(uid, start, attendees, "Coffee", organizer=organizer, extra=extra, partstat=partstat)


WEEKLY = ("RRULE:FREQ=WEEKLY;COUNT=3",)
SERIES = coffee(T0 - timedelta(days=14), extra=WEEKLY)  # -24, -17 and -10 days: the last is T0


@dataclass(frozen=True)
class Synced:
    """A touch of the event: from `source`, at `at`."""

    at: datetime
    source: str = "cal"


@dataclass(frozen=True)
class Kept:
    """Ana's touch with her outcome and note is hers now, at its old time."""

    at: datetime = T0


GONE = None  # Ben's touch at T0 is gone


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[World], None]
    ana: Synced | Kept
    ben: Synced | None
    base: str = coffee()
    elsewhere: bool = False  # the same event in "cal2" too


def _user_declined(w: World) -> None:
    declined = coffee(organizer=BEN).replace(
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}", f"ATTENDEE;PARTSTAT=DECLINED:mailto:{ME}"
    )
    w.put("e1", declined)


CASES = [
    Case(
        "moved 30 minutes",
        lambda w: w.put("e1", coffee(T0 + timedelta(minutes=30))),
        Synced(T0 + timedelta(minutes=30)),
        Synced(T0 + timedelta(minutes=30)),
    ),
    Case(
        "moved to another day",
        lambda w: w.put("e1", coffee(T0 - timedelta(days=1))),
        Synced(T0 - timedelta(days=1)),
        Synced(T0 - timedelta(days=1)),
    ),
    Case("cancelled", lambda w: w.put("e1", coffee(extra=("STATUS:CANCELLED",))), Kept(), GONE),
    Case("deleted at the source", lambda w: w.delete("e1"), Kept(), GONE),
    Case("attendee removed", lambda w: w.put("e1", coffee(attendees=(BEN,))), Kept(), Synced(T0)),
    Case("attendee declined", lambda w: w.put("e1", coffee(partstat={ANA: "DECLINED"})), Kept(), Synced(T0)),
    Case("user declined", _user_declined, Kept(), GONE),
    Case("calendar left the source", lambda w: w.drop_calendar(), Kept(), GONE),
    Case("source removed from config", lambda w: w.drop_source(), Synced(T0), Synced(T0)),
    Case("turned recurring", lambda w: w.put("e1", coffee(extra=WEEKLY)), Synced(T0), Synced(T0)),
    Case(
        "turned recurring an hour later",
        lambda w: w.put("e1", coffee(T0 + timedelta(hours=1), extra=WEEKLY)),
        Synced(T0 + timedelta(hours=1)),
        Synced(T0 + timedelta(hours=1)),
    ),
    Case(
        "series shortened", lambda w: w.put("e1", SERIES.replace("COUNT=3", "COUNT=2")), Kept(), GONE, SERIES
    ),
    Case("UID changed", lambda w: w.put("e1", coffee(uid="e1-new")), Synced(T0), Synced(T0)),
    Case(
        "two sources, one deletes",
        lambda w: w.delete("e1"),
        Synced(T0, "cal2"),
        Synced(T0, "cal2"),
        elsewhere=True,
    ),
]


def touches_of(engine: Engine, name: str) -> list[Touch]:
    with Session(engine) as s:
        cid = find(s, name, include_archived=True).id
        return list(s.exec(select(Touch).where(Touch.contact_id == cid).order_by(col(Touch.at))))


def attach(engine: Engine, at: datetime = T0) -> int:
    """An outcome and a note on Ana's touch at `at`, as `nudge outcome` (and a note) leave them."""
    with atomic(engine) as s:
        ana = find(s, "ana")
        touch = s.exec(select(Touch).where(Touch.contact_id == ana.id, Touch.at == at)).one()
        touch.outcome, touch.note = OUTCOME, NOTE
        s.add(touch)
        assert touch.id is not None
        return touch.id


def play(world: World, case: Case, now: datetime) -> None:
    """Sync, attach to Ana's touch, change the calendar, sync; then check both touches."""
    world.put("e1", case.base)
    if case.elsewhere:
        world.put_elsewhere("e1", case.base)
    world.sync(now)
    attach(world.engine)
    case.change(world)
    world.sync(now)
    check(world.engine, case.ana, case.ben)


def check(engine: Engine, ana: Synced | Kept, ben: Synced | None) -> None:
    mine = touches_of(engine, "ana")
    [touch] = [t for t in mine if t.outcome == OUTCOME]
    assert (touch.note, touch.kind, touch.at) == (NOTE, "meeting", ana.at)
    assert [t.at for t in mine].count(ana.at) == 1  # one touch per meeting, never two
    if isinstance(ana, Kept):
        assert (touch.source, touch.origin, touch.weight) == ("cli", "cal", 0.5)
        [line] = [e.what for e in timeline(mine, [], [], []) if e.at == ana.at]
        assert line == f"meeting (out): {NOTE} → {OUTCOME} — {GONE_LINE}"  # what `nudge show` prints
    else:
        assert (touch.source, touch.origin) == (ana.source, None)
    theirs = [t for t in touches_of(engine, "ben") if t.at in (T0, getattr(ben, "at", T0))]
    if ben is None:
        assert theirs == []
    else:
        assert [(t.at, t.source, t.outcome, t.origin) for t in theirs] == [(ben.at, ben.source, None, None)]


# --- the files source -------------------------------------------------------------------------


class FilesWorld:
    """contacts.vcf in source "book"; cal.ics (the objects) and home.ics in "cal"; cal2.ics in "cal2"."""

    def __init__(self, tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine) -> None:
        self.dir, self.make_settings, self.engine = tmp_path, make_settings, engine
        people_ = vcard("ana", "Ana Ruiz", emails=(ANA,)) + vcard("ben", "Ben Ott", emails=(BEN,))
        (tmp_path / "contacts.vcf").write_text(people_)
        (tmp_path / "home.ics").write_text(vcalendar(vevent("dentist", T0, (), "Dentist")))
        self.objects: dict[str, str] = {}
        self.elsewhere: dict[str, str] = {}
        self.calendars = ["cal.ics", "home.ics"]
        self.sources = ["book", "cal", "cal2"]

    def put(self, name: str, vevents: str) -> None:
        self.objects[name] = vevents

    def delete(self, name: str) -> None:
        del self.objects[name]

    def put_elsewhere(self, name: str, vevents: str) -> None:
        self.elsewhere[name] = vevents

    def drop_calendar(self) -> None:
        self.calendars.remove("cal.ics")

    def drop_source(self) -> None:
        self.sources.remove("cal")

    def settings(self) -> Settings:
        paths = {
            "book": ["contacts.vcf"],
            "cal": self.calendars,
            "cal2": ["cal2.ics"] if self.elsewhere else [],
        }
        return self.make_settings(
            sources=[
                {"type": "files", "name": name, "paths": [str(self.dir / p) for p in paths[name]]}
                for name in self.sources
                if paths[name]
            ]
        )

    def sync(self, now: datetime) -> None:
        (self.dir / "cal.ics").write_text(vcalendar(*self.objects.values()))
        (self.dir / "cal2.ics").write_text(vcalendar(*self.elsewhere.values()))
        reports = service.sync_all(self.engine, self.settings(), now)
        assert all(r.ok for r in reports), [r.line() for r in reports]


@pytest.fixture
def files(tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine) -> FilesWorld:
    return FilesWorld(tmp_path, make_settings, engine)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_user_data_on_a_meeting_survives_every_change_to_its_event(
    files: FilesWorld, case: Case, now: datetime
) -> None:
    play(files, case, now)


def test_a_meeting_without_user_data_goes_with_its_event_and_warmth_follows(
    files: FilesWorld, now: datetime
) -> None:
    """A cancelled meeting was no touch: without anything the user added, it is not kept."""
    files.put("e1", coffee())
    files.sync(now)
    files.put("e1", coffee(extra=("STATUS:CANCELLED",)))
    files.sync(now)
    assert touches_of(files.engine, "ana") == [] == touches_of(files.engine, "ben")
    with Session(files.engine) as s:
        assert find(s, "ana").last_touch_at is None


def test_a_kept_meeting_returns_to_its_event_when_the_event_comes_back(
    files: FilesWorld, now: datetime
) -> None:
    files.put("e1", coffee())
    files.sync(now)
    kept = attach(files.engine)
    files.put("e1", coffee(extra=("STATUS:CANCELLED",)))
    files.sync(now)
    files.put("e1", coffee(T0 + timedelta(hours=1)))  # restored, an hour later
    files.sync(now)
    check(files.engine, Synced(T0 + timedelta(hours=1)), Synced(T0 + timedelta(hours=1)))
    assert [t.id for t in touches_of(files.engine, "ana")] == [kept]


def test_a_meeting_moved_into_the_future_takes_the_outcome_along_once_it_happens(
    files: FilesWorld, now: datetime
) -> None:
    files.put("e1", coffee())
    files.sync(now)
    attach(files.engine)
    later = now + timedelta(days=2)
    files.put("e1", coffee(later))
    files.sync(now)
    check(files.engine, Kept(), GONE)  # not a touch yet: the outcome is kept at its date
    files.sync(now + timedelta(days=3))
    check(files.engine, Synced(later), Synced(later))


def test_touches_stored_with_the_old_one_off_key_are_matched_not_lost(
    files: FilesWorld, make_settings: Callable[..., Settings], now: datetime
) -> None:
    """Stores from before this version keyed a one-off `UID|<its start>`; moving it kept nothing then."""
    files.put("e1", coffee())
    files.sync(now)
    attach(files.engine)
    with every_owner(files.engine).begin() as conn:  # rewritten as an old store holds them
        old_key = f"e1|{T0:%Y%m%dT%H%M%SZ}"
        assert conn.execute(sa.update(Touch).values(external_id=old_key)).rowcount == 2
    files.put("e1", coffee(T0 + timedelta(minutes=30)))
    files.sync(now)
    check(files.engine, Synced(T0 + timedelta(minutes=30)), Synced(T0 + timedelta(minutes=30)))
    with Session(files.engine) as s:
        assert set(s.exec(select(Touch.external_id))) == {"e1|"}


def test_the_old_key_in_one_source_and_the_new_in_another_still_count_once(
    files: FilesWorld, now: datetime
) -> None:
    files.put("e1", coffee())
    files.sync(now)
    with every_owner(files.engine).begin() as conn:  # rewritten as an old store holds them
        conn.execute(sa.update(Touch).values(external_id=f"e1|{T0:%Y%m%dT%H%M%SZ}"))
    files.put_elsewhere("e1", coffee())
    files.sync(now)
    assert len(touches_of(files.engine, "ana")) == 1
    assert len(touches_of(files.engine, "ben")) == 1


def test_show_says_the_calendar_event_is_gone(tmp_path: Path) -> None:
    """`nudge outcome` on a synced meeting, the meeting deleted, `nudge show`: the CLI end to end."""
    (tmp_path / "contacts.vcf").write_text(vcard("ana", "Ana Ruiz", emails=(ANA,)))
    calendar = tmp_path / "calendar.ics"
    calendar.write_text(vcalendar(coffee(attendees=(ANA,))))
    config = tmp_path / "config.toml"
    config.write_text(
        f"""timezone = "Europe/Berlin"
database_url = "sqlite:///{tmp_path / "nudge.db"}"
maildir = "{tmp_path / "Maildir"}"
[me]
emails = ["{ME}"]
[[sources]]
type = "files"
name = "cal"
paths = ["{tmp_path / "contacts.vcf"}", "{calendar}"]
"""
    )
    with time_machine.travel(NOW, tick=False):
        assert nudge("sync", config=config)[0] == 0
        code, out = nudge("outcome", "ana", "referral", config=config)
        assert code == 0, out
        calendar.write_text(vcalendar(vevent("other", T0 - timedelta(days=3), (), "Dentist")))
        assert nudge("sync", config=config)[0] == 0
        code, out = nudge("show", "ana", config=config)
    assert code == 0, out
    day = T0.date().isoformat()  # `show` prints the UTC date
    assert f"{day}  meeting (out): Coffee → referral — {GONE_LINE}" in out


def test_the_same_event_in_two_sources_with_a_stranger_on_it_syncs_in_both(
    files: FilesWorld, now: datetime
) -> None:
    """Both sources remember the stranger's meeting once; the second used to fail on a UNIQUE clash."""
    stranger = "zed@example.com"
    files.put("e1", coffee(attendees=(ANA, stranger)))
    files.put_elsewhere("e1", coffee(attendees=(ANA, stranger)))
    files.sync(now)  # asserts every source synced
    with Session(files.engine) as s:
        assert len(s.exec(select(Sighting)).all()) == 1
    (files.dir / "contacts.vcf").write_text(vcard("zed", "Zed Ulm", emails=(stranger,)))
    files.sync(now)
    assert len(touches_of(files.engine, "zed")) == 1


@scaled(1 / 6)
@given(book1=cards, cal1=events, book2=cards, cal2=events)
def test_no_change_at_the_source_loses_an_outcome_or_a_note(
    book1: dict,  # type: ignore[type-arg]
    cal1: dict,  # type: ignore[type-arg]
    book2: dict,  # type: ignore[type-arg]
    cal2: dict,  # type: ignore[type-arg]
) -> None:
    """Whatever happens to the address book and calendar, every outcome and note stays with its person."""
    MemorySource.reset()
    with tempfile.TemporaryDirectory() as tmp:
        cfg, engine = fresh(Path(tmp))
        load("m", book1, cal1)
        service.sync_all(engine, cfg, NOW)
        with atomic(engine) as s:
            attached = []
            for t in s.exec(select(Touch).where(Touch.kind == "meeting")):
                t.note, t.outcome = f"note {t.id}", "conversation"
                s.add(t)
                attached.append((t.contact_id, t.note))
        load("m", book2, cal2)
        service.sync_all(engine, cfg, NOW + timedelta(days=1))
        after = snapshot(engine)
        with Session(engine) as s:
            kept = [
                (t.contact_id, t.note) for t in s.exec(select(Touch).where(Touch.outcome == "conversation"))
            ]
            assert all(t.source == "cli" for t in s.exec(select(Touch).where(col(Touch.origin).is_not(None))))
        assert sorted(kept) == sorted(attached)
        service.sync_all(engine, cfg, NOW + timedelta(days=1))
        assert snapshot(engine) == after  # and a sync applied twice still changes nothing
        engine.dispose()


@pytest.mark.parametrize("start, end", [("work", "home"), ("home", "work")])
def test_an_event_moved_to_another_calendar_of_the_source_keeps_its_touches(
    make_settings: Callable[..., Settings], engine: Engine, now: datetime, start: str, end: str
) -> None:
    """Deleted from one collection, created in another: whichever of the two sync sees first."""
    settings = make_settings(sources=[{"type": "memory", "name": "cal"}])
    store = MemorySource.store("cal")
    store.put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    store.put("c", "contacts", "ben", vcard("ben", "Ben Ott", emails=(BEN,)))
    store.put("work", "events", "x", vcalendar(vevent("x", T0, (), "Dentist")))  # work is listed first
    store.put("home", "events", "y", vcalendar(vevent("y", T0, (), "Gym")))
    store.put(start, "events", "e1", vcalendar(coffee()))
    assert all(r.ok for r in service.sync_all(engine, settings, now))
    attach(engine)
    store.delete(start, "e1")
    store.put(end, "events", "e1", vcalendar(coffee()))
    assert all(r.ok for r in service.sync_all(engine, settings, now))
    check(engine, Synced(T0), Synced(T0))
