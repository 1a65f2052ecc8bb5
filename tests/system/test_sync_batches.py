"""The batch paths of sync give the same store however the objects fall into batches.

New contacts and events nothing knows yet are collected and inserted per batch;
everything else goes through the ORM. Splitting the same objects into batches of
any size moves work between those paths, so comparing with one big batch checks
them against each other (merges by email and phone, events seen twice, sightings).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from nudge import config, service, sync
from nudge.config import Settings
from nudge.sources.memory import MemorySource
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.profiles import scaled

EMAILS = [f"p{i}@example.com" for i in range(6)] + [ME]
PHONES = ["+49 30 1111111", "030 1111111", "+49 30 2222222"]

people = st.lists(
    st.tuples(
        st.lists(st.sampled_from(EMAILS), max_size=2),
        st.lists(st.sampled_from(PHONES), max_size=1),
        st.sampled_from([None, "Acme", "Bolt"]),
        st.sampled_from([(), ("top100",)]),
    ),
    max_size=8,
)
meetings = st.lists(
    st.tuples(
        st.sampled_from([f"e{i}" for i in range(6)]),  # repeated UIDs: one event in two objects
        st.integers(min_value=-60, max_value=10),
        st.lists(st.sampled_from(EMAILS), min_size=1, max_size=3, unique=True),
    ),
    max_size=8,
)


def store_state(engine: Engine) -> list[tuple[object, ...]]:
    """The store without its ids: each contact by its identities, with its fields and touches."""
    with engine.connect() as conn:
        keys: dict[int, list[str]] = {}
        for cid, kind, value in conn.execute(sa.text("SELECT contact_id, kind, value FROM identity")):
            keys.setdefault(cid, []).append(f"{kind}:{value}")
        touches: dict[int, list[tuple[object, ...]]] = {}
        for cid, ext, weight in conn.execute(sa.text("SELECT contact_id, external_id, weight FROM touch")):
            touches.setdefault(cid, []).append((ext, round(weight, 9)))
        planned: dict[int, list[str]] = {}
        for cid, ext in conn.execute(sa.text("SELECT contact_id, external_id FROM planned")):
            planned.setdefault(cid, []).append(ext)
        rows = conn.execute(
            sa.text("SELECT id, name, org, tier, archived_at IS NULL, last_touch_at, warmth_sum FROM contact")
        )
        state = [
            (
                tuple(sorted(keys.get(r[0], []))),
                *r[1:6],
                round(r[6], 9),
                sorted(touches.get(r[0], [])),
                sorted(planned.get(r[0], [])),
            )
            for r in rows
        ]
        sightings = sorted(conn.execute(sa.text("SELECT email, external_id FROM sighting")).all())
        records = sorted(conn.execute(sa.text("SELECT href, kind, uid, tier FROM sourcerecord")).all())
    return [
        *sorted(state, key=repr),
        ("sightings", *map(tuple, sightings)),
        ("records", *map(tuple, records)),
    ]


def synced(cards: list, events: list, batch: int) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    MemorySource.reset()
    store = MemorySource.store("m")
    for i, (emails, phones, org, cats) in enumerate(cards):
        store.put(
            "book",
            "contacts",
            f"c{i}",
            vcard(f"c{i}", f"Person {i}", tuple(emails), tuple(phones), org, categories=cats),
        )
    for i, (uid, days, who) in enumerate(events):
        text = vcalendar(vevent(uid, NOW + timedelta(days=days), tuple(who), f"Meeting {i}"))
        store.put("cal", "events", f"o{i}", text)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(sync, "BATCH", batch)
        cfg = config.validate(
            {
                "timezone": "Europe/Berlin",
                "database_url": f"sqlite:///{Path(tmp) / 'b.db'}",
                "me": {"emails": [ME], "region": "DE"},
                "sources": [{"type": "memory", "name": "m"}],
            }
        )
        engine = service.open_store(cfg)
        assert all(r.ok for r in service.sync_all(engine, cfg, NOW))
        state = store_state(engine)
        engine.dispose()
    return state


@scaled(1 / 2)  # each example is two whole syncs into two stores
@given(cards=people, events=meetings, batch=st.integers(1, 3))
@example(  # batch 2: a new person, then a card of an older contact that also has the new one's address
    cards=[
        (["p0@example.com"], [], None, ()),
        ([], [], None, ()),
        (["p1@example.com"], [], None, ()),
        (["p0@example.com", "p1@example.com"], [], "Acme", ()),
    ],
    events=[("e0", -3, ["p1@example.com"])],
    batch=2,
)
def test_any_batch_size_gives_the_store_one_batch_gives(cards: list, events: list, batch: int) -> None:  # type: ignore[type-arg]
    assert synced(cards, events, batch) == synced(cards, events, 10_000)


def test_a_first_sync_does_not_look_again_at_the_events_it_just_applied(
    make_settings: Callable[..., Settings], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They were applied with every contact already there; a later new contact makes it look."""
    settings = make_settings(sources=[{"type": "memory", "name": "m"}])
    store = MemorySource.store("m")
    store.put("book", "contacts", "ana", vcard("ana", "Ana Ruiz", ("ana@example.org",)))
    weekly = vevent(
        "w", NOW - timedelta(days=20), ("ana@example.org", "ben@example.net"), extra=("RRULE:FREQ=WEEKLY",)
    )
    store.put("cal", "events", "w", vcalendar(weekly))
    store.put("cal", "events", "f", vcalendar(vevent("f", NOW + timedelta(days=3), ("ben@example.net",))))
    looked: list[int] = []
    real = service.refresh_events

    def counting(*args: Any, **kwargs: Any) -> int:
        looked.append(real(*args, **kwargs))
        return looked[-1]

    monkeypatch.setattr(service, "refresh_events", counting)
    service.sync_all(engine, settings, NOW)
    assert looked == [0]
    store.put("book", "contacts", "ben", vcard("ben", "Ben Ott", ("ben@example.net",)))
    service.sync_all(engine, settings, NOW)
    assert looked == [0, 2]  # the series and the upcoming meeting, now with Ben as a contact
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM planned")).scalar_one() == 5
        )  # the next two of the series with each, and f
