"""Google Contacts and Calendar through the real sync into SQLite, against the fake Google."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service
from nudge.config import Settings
from nudge.digest import facts as view
from nudge.sources.base import Source
from nudge.sources.memory import MemorySource
from nudge.store.db import atomic
from nudge.store.models import Contact, Moment, SyncState, Touch
from tests.builders import ME, vcard
from tests.sources.test_google import (
    CAL,
    FakeGoogle,
    calendar_source,
    contacts_source,
    event,
    person,
    store_token,
)

ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"


@pytest.fixture
def google() -> FakeGoogle:
    store_token()
    fake = FakeGoogle()
    fake.label("a1b2c3", "Top 100")
    fake.label("d4e5f6", "Referral partner")
    return fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        sources=[
            {"type": "google_contacts", "name": "gc"},
            {"type": "google_calendar", "name": "gcal"},
            {"type": "memory", "name": "book"},
        ]
    )


def sources(fake: FakeGoogle) -> list[Source]:
    return [contacts_source(fake), calendar_source(fake)]


def run(engine: Engine, settings: Settings, now: datetime, fake: FakeGoogle) -> list[service.Report]:
    reports = service.sync_all(engine, settings, now, sources(fake))
    assert all(r.ok for r in reports), [r.line() for r in reports]
    return reports


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("contact", "identity", "touch", "planned", "moment", "sourcerecord")
        }


def contact(engine: Engine, email_name: str) -> Contact:
    with Session(engine) as s:
        return s.exec(select(Contact).where(col(Contact.name) == email_name)).one()


def fill(fake: FakeGoogle, now: datetime) -> None:
    fake.put_person(person("c1", "Ana Ruiz", [ANA], org="Acme", title="CTO", labels=["a1b2c3"]))
    fake.put_person(person("c2", "Ben Ott", [BEN], phones=["+49 30 1234567"], labels=["d4e5f6"]))
    fake.put_event(event("past", now - timedelta(days=10), [ANA], "Coffee"))
    fake.put_event(event("soon", now + timedelta(days=3), [BEN], "Lunch"))
    weekly = event("w", now - timedelta(days=20), [ANA], "1:1", recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"])
    fake.put_event(weekly)


def test_first_sync_brings_contacts_tiers_touches_and_plans(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    gc, gcal = run(engine, settings, now, google)
    assert (gc.added, gcal.added) == (2, 3)
    ana, ben = contact(engine, "Ana Ruiz"), contact(engine, "Ben Ott")
    assert (ana.tier, ben.tier) == ("top100", "partner")
    assert (ana.org, ana.title) == ("Acme", "CTO")
    with Session(engine) as s:
        summaries = sorted(t.summary for t in s.exec(select(Touch).where(Touch.contact_id == ana.id)))
    assert summaries == ["1:1", "1:1", "1:1", "Coffee"]  # -20, -13, -6 days and the one ahead is planned
    assert counts(engine)["planned"] == 2
    assert ana.last_touch_at is not None


def test_a_resync_without_changes_costs_one_request_per_list_and_changes_nothing(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    run(engine, settings, now, google)
    before = counts(engine)
    google.log.clear()
    gc, gcal = run(engine, settings, now, google)
    assert (gc.added, gc.changed, gcal.added, gcal.changed) == (0, 0, 0, 0)
    assert counts(engine) == before
    assert len(google.log) == 4  # labels + connections, calendarList + events


def test_job_change_between_syncs_is_a_moment(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    run(engine, settings, now, google)
    assert counts(engine)["moment"] == 0
    google.put_person(person("c1", "Ana Ruiz", [ANA], org="Bolt", title="CEO", labels=["a1b2c3"]))
    gc, _ = run(engine, settings, now + timedelta(days=1), google)
    assert gc.changed == 1
    with Session(engine) as s:
        moment = s.exec(select(Moment)).one()
    assert (moment.kind, moment.detail) == ("job_change", "now CEO at Bolt")
    assert contact(engine, "Ana Ruiz").org == "Bolt"


def test_increments_add_change_and_delete(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    run(engine, settings, now, google)
    google.put_person(person("c3", "Cleo Park", ["cleo@example.com"]))
    google.put_person(person("c1", "Ana Ruiz", [ANA], org="Acme", title="CTO"))  # left "Top 100"
    google.delete_person("people/c2")
    google.delete_event("past")
    google.put_event(event("new", now - timedelta(days=2), ["cleo@example.com"], "Intro"))
    gc, gcal = run(engine, settings, now, google)
    assert (gc.added, gc.changed, gc.archived) == (1, 1, 1)
    assert (gcal.added, gcal.removed) == (1, 1)
    assert contact(engine, "Ana Ruiz").tier is None
    assert contact(engine, "Ben Ott").archived_at is not None
    with Session(engine) as s:
        summaries = {t.summary for t in s.exec(select(Touch))}
    assert "Coffee" not in summaries and "Intro" in summaries


def test_expired_tokens_on_both_apis_resync_without_duplicates(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    run(engine, settings, now, google)
    before = counts(engine)
    google.expired_before = google.seq + 1
    google.log.clear()
    gc, gcal = run(engine, settings, now, google)
    assert (gc.added, gc.changed, gcal.added, gcal.changed) == (0, 0, 0, 0)
    assert counts(engine) == before
    assert sum("syncToken=" in line for line in google.log) == 2  # refused once each, then listed whole
    with Session(engine) as s:
        tokens = s.exec(select(SyncState.token).where(SyncState.collection != "")).all()
    assert all(t and t.endswith(f"tok{google.seq}") for t in tokens)


def test_rate_limit_is_waited_out(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    google.faults = [("connections", 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})]
    gc, _ = run(engine, settings, now, google)
    assert gc.added == 2


def test_a_revoked_grant_fails_only_its_sources(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    store_token(expired=True)
    google.refresh_error = "invalid_grant"
    MemorySource.store("book").put("c", "contacts", "x", vcard("x", "Xenia", emails=("x@example.com",)))
    book = MemorySource("book", MemorySource.options_model())
    gc, gcal, mem = service.sync_all(engine, settings, now, [*sources(google), book])
    assert not gc.ok and not gcal.ok
    assert "run `nudge auth google --account default`" in gc.line()
    assert mem.ok and mem.added == 1
    with Session(engine) as s:
        failing = view.failing_sources(s, settings)
    assert len(failing) == 2 and all("nudge auth google --account default" in f for f in failing)
    assert all("refresh-secret" not in f for f in failing)


def test_own_address_from_google_is_never_a_contact(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    google.put_person(person("me", "Me Myself", [ME]))
    fill(google, now)
    run(engine, settings, now, google)
    with Session(engine) as s:
        assert sorted(c.name for c in s.exec(select(Contact))) == ["Ana Ruiz", "Ben Ott"]


def test_cancelled_instance_of_a_series_drops_its_touch(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    run(engine, settings, now, google)
    start = now - timedelta(days=13)
    google.put_event(
        {
            "kind": "calendar#event",
            "id": f"w_{start:%Y%m%dT%H%M%SZ}",
            "status": "cancelled",
            "recurringEventId": "w",
            "originalStartTime": {"dateTime": start.isoformat()},
        },
        CAL,
    )
    _, gcal = run(engine, settings, now, google)
    assert gcal.changed == 1
    with Session(engine) as s:
        ana = contact(engine, "Ana Ruiz")
        series = s.exec(select(Touch).where(Touch.contact_id == ana.id, Touch.summary == "1:1")).all()
    assert len(series) == 2


def test_user_edits_on_a_synced_meeting_survive(
    engine: Engine, settings: Settings, now: datetime, google: FakeGoogle
) -> None:
    fill(google, now)
    run(engine, settings, now, google)
    with atomic(engine) as s:
        touch = s.exec(select(Touch).where(Touch.summary == "Coffee")).one()
        touch.outcome = "meeting"
        s.add(touch)
    google.put_event(event("past", now - timedelta(days=10), [ANA], "Coffee at Bonanza"))
    run(engine, settings, now, google)
    with Session(engine) as s:
        again = s.exec(select(Touch).where(Touch.id == touch.id)).one()
    assert (again.summary, again.outcome) == ("Coffee at Bonanza", "meeting")
