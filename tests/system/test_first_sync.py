"""The first morning after the first sync of an old address book, through a real source and store.

A tier found at a source's first sync is as old as the person's history (issue 11.1): the most
overdue come first and nobody met within the cadence is picked while someone overdue waits. A
tier that appears later starts the newcomer ramp. Group names match however they are spelt
(11.3), and a person named for two tiers is followed as a partner (11.4).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from nudge import service
from nudge.actions import find
from nudge.config import Settings
from nudge.reports.contacts import detail, tier_line
from nudge.sources.memory import MemorySource, MemoryStore
from nudge.store import migrations
from nudge.store.db import make_engine, open_db
from tests.builders import group_card, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.system.test_sync import contact, run

# days since the last meeting with each top-100 member at the first sync
AGES = {"Ann": 44, "Bob": 42, "Cat": 40, "Dan": 38, "Eve": 36, "Fay": 20, "Gus": 12, "Hal": 10, "Ivy": 3}


@pytest.fixture
def book(make_settings: Callable[..., Settings]) -> tuple[MemoryStore, Settings]:
    cfg = make_settings(sources=[{"type": "memory", "name": "book"}])
    return MemorySource.store("book"), cfg


def old_book(store: MemoryStore, names: dict[str, int], categories: tuple[str, ...] = ("top100",)) -> None:
    """People in the top 100 since long ago, each last met `age` days before NOW (and twice before)."""
    events = []
    for name, age in names.items():
        mail = f"{name.lower()}@example.org"
        store.put("c", "contacts", name, vcard(name, f"{name} Old", (mail,), categories=categories))
        for n, back in enumerate((age, age + 70, age + 300)):
            events.append(vevent(f"{name}-{n}", NOW - timedelta(days=back), (mail,), "Coffee"))
    store.put("cal", "events", "history", vcalendar(*events))


def picks(engine: Engine, cfg: Settings, now: datetime = NOW) -> tuple[list[str], list[str]]:
    plan, _ = service.make_plan(engine, cfg, now, now.astimezone(cfg.tz).date())
    return [k.person.name.split()[0] for k in plan.calls], [k.person.name.split()[0] for k in plan.partners]


def test_the_first_morning_picks_the_most_overdue_not_whoever_the_hash_favours(
    book: tuple[MemoryStore, Settings], engine: Engine
) -> None:
    store, cfg = book
    old_book(store, AGES)
    run(engine, cfg, NOW)
    calls, _ = picks(engine, cfg)
    assert calls == ["Ann", "Bob", "Cat", "Dan", "Eve"]  # 44, 42, 40, 38 and 36 days: most overdue first
    assert all(contact(engine, name).tier_since is None for name in AGES)
    # the same an hour later, and the next morning (Ann .. Eve not called: they are still the most due)
    assert picks(engine, cfg, NOW + timedelta(hours=1))[0] == calls
    with Session(engine) as s:
        people = {p.name.split()[0]: p for p in service.load_people(s, cfg, NOW, NOW.date())}
    assert people["Gus"].joined_at is None and people["Gus"].last_touch_at is not None


def test_a_tier_that_appears_after_the_first_sync_starts_the_newcomer_ramp(
    book: tuple[MemoryStore, Settings], engine: Engine
) -> None:
    store, cfg = book
    old_book(store, {"Ann": 44, "Gus": 12})
    store.put("c", "contacts", "kim", vcard("kim", "Kim New", ("kim@example.org",)))
    run(engine, cfg, NOW)
    assert contact(engine, "kim").tier is None
    later = NOW + timedelta(days=1)
    store.put("c", "contacts", "kim", vcard("kim", "Kim New", ("kim@example.org",), categories=("Top 100",)))
    store.put("c", "contacts", "g", group_card("g", "top-100", ("Gus",)))  # Gus is already in it
    run(engine, cfg, later)
    assert contact(engine, "kim").tier_since == later
    assert contact(engine, "gus").tier_since is None  # unchanged: still as old as his history
    calls, _ = picks(engine, cfg, later)
    assert calls == ["Ann", "Kim"]  # Kim: new, never touched, due from the day she joined


def test_group_names_match_whatever_the_case_accents_spaces_hyphens_and_underscores(
    book: tuple[MemoryStore, Settings], engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    store, _ = book
    cfg = make_settings(
        sources=[{"type": "memory", "name": "book"}],
        tiers={
            "top100": {"cadence_days": 30, "groups": ["top 100"]},
            "partner": {"cadence_days": 21, "groups": ["Référral partner"], "slot": "partner"},
        },
    )
    spellings = {
        "a": ("Top_100",),
        "b": ("Top-100",),
        "c": ("TOP100",),
        "d": ("referral-partner",),
        "e": ("Referral_Partner",),
        "f": ("REFERRAL  PARTNER",),
        "g": ("Top 1000",),  # a different group
    }
    for uid, cats in spellings.items():
        store.put("c", "contacts", uid, vcard(uid, f"Person {uid}", (f"{uid}@example.com",), categories=cats))
    store.put("c", "contacts", "x", vcard("x", "Person x", ("x@example.com",)))
    store.put("c", "contacts", "grp", group_card("grp", "top–100", ("x",)))  # an en dash, from a Mac
    run(engine, cfg, NOW)
    tiers = {uid: contact(engine, f"Person {uid}").tier for uid in (*spellings, "x")}
    assert tiers == {
        "a": "top100",
        "b": "top100",
        "c": "top100",
        "d": "partner",
        "e": "partner",
        "f": "partner",
        "g": None,
        "x": "top100",
    }


def test_a_person_in_two_tiers_is_followed_as_a_partner_and_show_says_so(
    book: tuple[MemoryStore, Settings], engine: Engine
) -> None:
    store, cfg = book
    old_book(store, {"Ann": 44})
    store.put(
        "c",
        "contacts",
        "pia",
        vcard("pia", "Pia Two", ("pia@example.org",), categories=("top100", "partner")),
    )
    run(engine, cfg, NOW)
    pia = contact(engine, "pia")
    assert (pia.tier, pia.tier_source) == ("partner", "source:book")
    assert picks(engine, cfg) == (["Ann"], ["Pia"])  # one list a day: the partner block, not both
    with Session(engine) as s:
        info = detail(s, cfg, find(s, "pia"), NOW)
    assert info.tier_also == ["top100"]
    assert tier_line(info, cfg.tz) == (
        "partner (from the address book 'book'; since before nudge's first sync; "
        "also in top100 by the address book: followed as partner, one list a day)"
    )


def test_two_address_books_naming_two_tiers_agree_and_never_flip(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    cfg = make_settings(sources=[{"type": "memory", "name": "work"}, {"type": "memory", "name": "home"}])
    work, home = MemorySource.store("work"), MemorySource.store("home")
    work.put("c", "contacts", "pia", vcard("pia", "Pia Two", ("pia@example.org",), categories=("top100",)))
    home.put("c", "contacts", "pia", vcard("pia", "Pia Two", ("pia@example.org",), categories=("partner",)))
    run(engine, cfg, NOW)
    first = contact(engine, "pia")
    assert (first.tier, first.tier_source, first.tier_since) == ("partner", "source:home", None)
    for day in range(1, 4):  # each source changes the card in turn: the tier stays
        later = NOW + timedelta(days=day)
        work.put(
            "c",
            "contacts",
            "pia",
            vcard("pia", "Pia Two", ("pia@example.org",), org=f"W{day}", categories=("top100",)),
        )
        home.put(
            "c",
            "contacts",
            "pia",
            vcard("pia", "Pia Two", ("pia@example.org",), org=f"H{day}", categories=("partner",)),
        )
        run(engine, cfg, later)
        again = contact(engine, "pia")
        assert (again.tier, again.tier_source, again.tier_since) == ("partner", "source:home", None)
    home.put("c", "contacts", "pia", vcard("pia", "Pia Two", ("pia@example.org",)))  # home drops it
    run(engine, cfg, NOW + timedelta(days=5))
    dropped = contact(engine, "pia")
    assert (dropped.tier, dropped.tier_source) == ("top100", "source:work")
    assert dropped.tier_since == NOW + timedelta(days=5)  # a new tier for Pia from today


def test_migration_0009_dates_first_sync_tiers_back_and_keeps_later_ones(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    old = make_engine(url)
    migrations.migrate(old, upto="0006_group_tiers")
    first, second = "2026-01-05 06:00:00.000000", "2026-02-01 06:00:00.000000"
    rows = [
        # id, tier_source, tier_since, created_at, source of the card
        (1, "source:book", first, first, "book"),  # found at the first sync: dated back
        (2, "source:book", second, first, "book"),  # added to the group later: keeps its date
        (3, "source:book", second, second, "book"),  # a card that came later, already tiered: keeps
        (4, "cli", first, first, "book"),  # set by the user: keeps
        (5, "source:work", second, second, "work"),  # the first sync of a second address book ...
        (6, "source:work", second, first, "work"),  # ... one of whose people came from the first:
        # which sync was the work book's first is then unknown, so both keep their date (safe side)
        (8, "source:home", second, second, "home"),  # a second address book's first sync: dated back
        (9, "source:home", second, first, "book"),  # ... and its person known before (kept)
        (7, None, None, first, "book"),  # no tier at all
    ]
    with old.begin() as conn:
        for cid, origin, since, created, source in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO contact (id, name, tier, tier_source, tier_since, created_at, warmth_sum) "
                    "VALUES (:id, :name, :tier, :origin, :since, :created, 0)"
                ),
                {
                    "id": cid,
                    "name": f"P{cid}",
                    "tier": "top100" if origin else None,
                    "origin": origin,
                    "since": since,
                    "created": created,
                },
            )
            conn.execute(
                sa.text(
                    "INSERT INTO sourcerecord (source, collection, href, kind, uid, etag, contact_id, "
                    "raw_hash, format) VALUES (:source, 'c', :href, 'contact', :href, '', :id, '', '')"
                ),
                {"source": source, "href": f"p{cid}", "id": cid},
            )
    old.dispose()
    engine = open_db(url)
    with engine.connect() as conn:
        since = dict(conn.execute(sa.text("SELECT id, tier_since FROM contact ORDER BY id")).all())
    assert {cid for cid, value in since.items() if value is None} == {1, 7, 8}
