"""Properties of sync over generated address books and calendars.

A sync applied twice changes nothing; whatever the source does, what the user
logged stays; the store always matches the source after a sync.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import config, service
from nudge.db import atomic
from nudge.models import Contact, SourceRecord, Touch
from nudge.people import log_touch
from nudge.sources.memory import MemorySource
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW

EMAILS = [f"p{i}@example.com" for i in range(8)]

cards = st.dictionaries(
    keys=st.sampled_from([f"c{i}" for i in range(8)]),
    values=st.tuples(
        st.lists(st.sampled_from(EMAILS), min_size=0, max_size=2),
        st.sampled_from([None, "Acme", "Bolt"]),
        st.sampled_from([(), ("top100",), ("partner",)]),
    ),
    max_size=8,
)
events = st.dictionaries(
    keys=st.sampled_from([f"e{i}" for i in range(10)]),
    values=st.tuples(
        st.integers(min_value=-400, max_value=30),  # days from now
        st.lists(st.sampled_from(EMAILS), min_size=1, max_size=4, unique=True),
        st.booleans(),  # weekly for five weeks
        st.booleans(),  # cancelled
    ),
    max_size=10,
)


def load(store_name: str, book: dict, cal: dict) -> None:  # type: ignore[type-arg]
    """Make the store hold exactly these objects, through edits a server would log."""
    store = MemorySource.store(store_name)
    for coll, wanted in (("book", book), ("cal", cal)):
        if coll in store.collections:
            for href in list(store.collections[coll].items):
                uid = href.split("/", 1)[1]
                if uid not in wanted:
                    store.delete(coll, uid)
    for uid, (emails, org, cats) in book.items():
        text = vcard(uid, f"Person {uid}", emails=tuple(emails), org=org, categories=cats)
        store.put("book", "contacts", uid, text)
    for uid, (days, who, weekly, cancelled) in cal.items():
        extra = ("RRULE:FREQ=WEEKLY;COUNT=5",) if weekly else ()
        extra += ("STATUS:CANCELLED",) if cancelled else ()
        store.put(
            "cal", "events", uid, vcalendar(vevent(uid, NOW + timedelta(days=days), tuple(who), extra=extra))
        )


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    tables = {
        "contact": "SELECT id, name, org, tier, archived_at IS NULL, last_touch_at, round(warmth_sum, 9) "
        "FROM contact",
        "identity": "SELECT kind, value, contact_id FROM identity",
        "touch": "SELECT id, contact_id, at, kind, round(weight, 9), external_id FROM touch",
        "planned": "SELECT contact_id, external_id, at FROM planned",
        "moment": "SELECT contact_id, kind, detail FROM moment",
        "sighting": "SELECT email, external_id FROM sighting",
    }
    with engine.connect() as conn:
        return {name: sorted(tuple(r) for r in conn.execute(sa.text(q))) for name, q in tables.items()}


def fresh(tmp: Path) -> tuple[config.Settings, Engine]:
    cfg = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp / 'p.db'}",
            "me": {"emails": [ME]},
            "sources": [{"type": "memory", "name": "m"}],
        }
    )
    return cfg, service.open_store(cfg)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=cards, cal=events)
def test_sync_applied_twice_changes_nothing(book: dict, cal: dict) -> None:  # type: ignore[type-arg]
    MemorySource.reset()
    with tempfile.TemporaryDirectory() as tmp:
        cfg, engine = fresh(Path(tmp))
        load("m", book, cal)
        first = service.sync_all(engine, cfg, NOW)
        assert first[0].ok
        before = snapshot(engine)
        second = service.sync_all(engine, cfg, NOW)
        assert (second[0].added, second[0].changed, second[0].archived, second[0].removed) == (0, 0, 0, 0)
        assert snapshot(engine) == before
        engine.dispose()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book1=cards, cal1=events, book2=cards, cal2=events)
def test_user_data_survives_any_change_at_the_source(
    book1: dict,  # type: ignore[type-arg]
    cal1: dict,  # type: ignore[type-arg]
    book2: dict,  # type: ignore[type-arg]
    cal2: dict,  # type: ignore[type-arg]
) -> None:
    MemorySource.reset()
    with tempfile.TemporaryDirectory() as tmp:
        cfg, engine = fresh(Path(tmp))
        load("m", book1, cal1)
        service.sync_all(engine, cfg, NOW)
        with atomic(engine) as s:
            contacts = list(s.exec(select(Contact)))
            for c in contacts:
                log_touch(s, cfg, c, NOW, "call", f"note for {c.id}")
        load("m", book2, cal2)
        service.sync_all(engine, cfg, NOW + timedelta(days=1))
        with Session(engine) as s:
            logged = s.exec(select(Touch).where(Touch.source == "cli")).all()
            assert sorted(t.note or "" for t in logged) == sorted(f"note for {c.id}" for c in contacts)
            assert len(s.exec(select(Contact)).all()) >= len(contacts)  # archived, never deleted
            records = s.exec(select(SourceRecord).where(SourceRecord.kind == "contact")).all()
            archived = {c.id for c in s.exec(select(Contact).where(col(Contact.archived_at).is_not(None)))}
        # Every card the source still has belongs to a live contact (cards that
        # shared an address were merged into one person, which is intended).
        assert {r.uid for r in records} == set(book2)
        assert all(r.contact_id not in archived for r in records)
        engine.dispose()
