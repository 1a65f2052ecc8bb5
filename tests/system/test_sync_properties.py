"""Properties of sync over generated address books and calendars.

A sync applied twice changes nothing; whatever the source does, what the user
logged stays; the store always matches the source after a sync.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import config, service
from nudge.actions import log_touch
from nudge.sources.memory import MemorySource
from nudge.store.db import atomic
from nudge.store.models import Contact, SourceRecord, Touch
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.profiles import scaled

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


@scaled(2 / 15)
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


@scaled(2 / 15)
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


# --- exports as they come: no UIDs, odd encodings, glued cards, runaway series, broken zones ---------

PHONES = ["030 1234567", "+49 30 1234567", "ask reception", "+1 202 555 0143", "tel:+44 20 7946 0000"]
CARD_NAMES = ["Ana Ruiz", "Zoë Çelik", "Ben\\nOtt", "Cem\x1b Kaya", "Dana Weiß"]
export_cards = st.lists(
    st.tuples(
        st.sampled_from(["", "u1", "u2", "X-ABUID:AB-1:ABPerson"]),  # "": no UID at all
        st.sampled_from(CARD_NAMES),
        st.lists(st.sampled_from(EMAILS[:4]), max_size=2, unique=True),
        st.lists(st.sampled_from(PHONES), max_size=2, unique=True),
        st.booleans(),  # glued to junk before BEGIN:VCARD
    ),
    max_size=6,
)
RISKY_RULES = [
    "",
    "RRULE:FREQ=WEEKLY",
    "RRULE:FREQ=SECONDLY",
    "RRULE:FREQ=MINUTELY",
    "RRULE:FREQ=HOURLY",
    "RRULE:FREQ=DAILY;INTERVAL=0",
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=DAILY;COUNT=100000",
]
ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
    "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
BROKEN_ZONE = ZONE.replace("Office Time", "Broken Time").replace("19700101T000000", "garbage")
export_events = st.lists(
    st.tuples(
        st.sampled_from(["", "e1", "e2", "e3"]),
        st.sampled_from([-36500, -9000, -400, -30, -1, 5]),  # days from now: 1926 to next week
        st.sampled_from(RISKY_RULES),
        st.sampled_from(["", "Office Time", "Broken Time"]),
        st.lists(st.sampled_from(EMAILS[:4]), min_size=1, max_size=2, unique=True),
    ),
    max_size=5,
)


def export_text(cards: list, events: list) -> tuple[str, str]:  # type: ignore[type-arg]
    book = ""
    for uid, name, emails, phones, glued in cards:
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}"]
        lines += [uid if uid.startswith("X-") else f"UID:{uid}"] if uid else []
        lines += [f"EMAIL:{e}" for e in emails] + [f"TEL:{p}" for p in phones] + ["END:VCARD"]
        book += ("junk " if glued else "") + "\r\n".join(lines) + "\r\n"
    blocks = []
    for uid, days, rule, zone, who in events:
        start = NOW + timedelta(days=days)
        block = vevent(uid or "x", start, tuple(who), extra=(rule,) if rule else ())
        if not uid:
            block = block.replace("UID:x\r\n", "")
        if zone:
            local = f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}"
            block = block.replace(f"DTSTART:{start:%Y%m%dT%H%M%SZ}", local)
        blocks.append(block)
    return book, vcalendar(ZONE, BROKEN_ZONE, *blocks)


@scaled(1 / 6)
@given(
    cards=export_cards,
    events=export_events,
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]),
)
def test_any_export_syncs_counts_what_it_skips_and_a_second_sync_changes_nothing(
    cards: list,  # type: ignore[type-arg]
    events: list,  # type: ignore[type-arg]
    encoding: str,
) -> None:
    from nudge.sources.files import FilesOptions, FilesSource

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book, calendar = export_text(cards, events)
        (folder / "contacts.vcf").write_bytes(book.encode(encoding, errors="replace"))
        (folder / "calendar.ics").write_bytes(calendar.encode(encoding, errors="replace"))
        cfg = config.validate(
            {
                "timezone": "Europe/Berlin",
                "database_url": f"sqlite:///{folder / 'p.db'}",
                "me": {"emails": [ME]},
                "sources": [{"type": "files", "name": "f", "paths": [str(folder)]}],
            }
        )
        engine = service.open_store(cfg)
        [first] = service.sync_all(engine, cfg, NOW)
        assert first.ok, first.line()
        src = FilesSource("f", FilesOptions(paths=[str(folder)]))
        listed = sum(len(src.list(c)) for c in src.collections())
        assert first.added + len(first.skipped) == listed  # every object applied or counted
        assert all(sk.reason for sk in first.skipped)
        before = snapshot(engine)
        [second] = service.sync_all(engine, cfg, NOW)
        assert (second.added, second.changed, second.archived, second.removed) == (0, 0, 0, 0)
        assert snapshot(engine) == before
        engine.dispose()
