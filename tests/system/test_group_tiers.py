"""Group cards (KIND:group, Apple's X-ADDRESSBOOKSERVER-KIND) as tier markers, through the memory source.

A group whose name is one of a tier's groups gives its members that tier; taking a member
out, renaming or deleting the group takes it away again, whatever the order the cards come in.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import config, service, sync
from nudge.actions import find, set_tier
from nudge.config import Settings
from nudge.sources.memory import MemorySource, MemoryStore
from nudge.store.db import atomic
from nudge.store.models import Contact, SourceRecord
from tests.builders import ME, group_card, vcard
from tests.conftest import NOW
from tests.profiles import scaled
from tests.system.test_sync import contact, run


@pytest.fixture
def book(make_settings: Callable[..., Settings]) -> tuple[MemoryStore, Settings]:
    return MemorySource.store("book"), make_settings(sources=[{"type": "memory", "name": "book"}])


def person(store: MemoryStore, uid: str, categories: tuple[str, ...] = ()) -> None:
    store.put(
        "c", "contacts", uid, vcard(uid, f"Person {uid}", (f"{uid}@example.com",), categories=categories)
    )


def tiers(engine: Engine) -> dict[str, str | None]:
    with Session(engine) as s:
        return {c.name.split()[-1]: c.tier for c in s.exec(select(Contact))}


def test_a_group_before_its_members_and_members_before_their_group(
    book: tuple[MemoryStore, Settings], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, cfg = book
    monkeypatch.setattr(sync, "BATCH", 2)
    store.put("c", "contacts", "g1", group_card("g1", "Top 100", ("a", "b"), apple=True))
    person(store, "a")
    run(engine, cfg, NOW)
    assert tiers(engine) == {"a": "top100"}
    person(store, "b")  # a later sync, a later batch
    person(store, "c")
    store.put("c", "contacts", "g2", group_card("g2", "Referral Partner", ("c",)))
    reports = run(engine, cfg, NOW)
    assert tiers(engine) == {"a": "top100", "b": "top100", "c": "partner"}
    assert (reports[0].added, reports[0].skipped) == (2, [])  # group cards are neither
    assert contact(engine, "b").tier_source == "source:book"


def test_taking_a_member_out_renaming_or_deleting_the_group_takes_its_tier_away(
    book: tuple[MemoryStore, Settings], engine: Engine
) -> None:
    store, cfg = book
    for uid in "abcd":
        person(store, uid, categories=("top100",) if uid == "d" else ())
    store.put("c", "contacts", "g", group_card("g", "top 100", ("a", "b", "c", "d")))
    run(engine, cfg, NOW)
    assert set(tiers(engine).values()) == {"top100"}
    with atomic(engine) as s:
        set_tier(s, cfg, find(s, "Person c"), "top100", NOW)
    store.put("c", "contacts", "g", group_card("g", "top 100", ("b", "c", "d")))
    run(engine, cfg, NOW)
    assert tiers(engine) == {"a": None, "b": "top100", "c": "top100", "d": "top100"}
    store.put("c", "contacts", "g", group_card("g", "Friends", ("b", "c", "d")))
    run(engine, cfg, NOW)
    assert tiers(engine) == {"a": None, "b": None, "c": "top100", "d": "top100"}
    store.put("c", "contacts", "g", group_card("g", "Top 100", ("a", "b")))
    run(engine, cfg, NOW)
    assert tiers(engine) == {"a": "top100", "b": "top100", "c": "top100", "d": "top100"}
    store.delete("c", "g")
    report = run(engine, cfg, NOW)[0]
    assert report.archived == 0
    # c's tier is the user's, d's comes from its own CATEGORIES: both stay.
    assert tiers(engine) == {"a": None, "b": None, "c": "top100", "d": "top100"}
    assert contact(engine, "c").tier_source == "cli"


def test_a_card_that_turns_into_a_group_is_no_longer_a_person(
    book: tuple[MemoryStore, Settings], engine: Engine
) -> None:
    store, cfg = book
    person(store, "a")
    person(store, "x")
    run(engine, cfg, NOW)
    store.put("c", "contacts", "x", group_card("x", "Top 100", ("a",)))
    report = run(engine, cfg, NOW)[0]
    assert report.archived == 1
    assert tiers(engine) == {"a": "top100", "x": None}
    assert contact(engine, "x").archived_at is not None
    store.put("c", "contacts", "x", vcard("x", "Person x", ("x@example.com",)))
    run(engine, cfg, NOW)
    assert tiers(engine) == {"a": None, "x": None}
    assert contact(engine, "x").archived_at is None


def test_members_are_matched_by_uid_however_spelt(book: tuple[MemoryStore, Settings], engine: Engine) -> None:
    store, cfg = book
    store.put("c", "contacts", "a", vcard("urn:uuid:AB-12", "Person a", ("a@example.com",)))
    store.put("c", "contacts", "g", group_card("g", "Top 100", ("ab-12",)))
    run(engine, cfg, NOW)
    assert tiers(engine) == {"a": "top100"}


def apple_card(server_uid: str, abuid: str, name: str) -> str:
    """An Apple card as a server that gave it a UID of its own (Radicale, on import) serves it."""
    card = vcard(server_uid, name, (f"{name.rsplit(maxsplit=1)[-1]}@example.com",))
    return card.replace("END:VCARD", f"X-ABUID:{abuid}:ABPerson\r\nEND:VCARD")


def test_apple_groups_find_cards_by_x_abuid_when_the_server_set_the_uid(
    book: tuple[MemoryStore, Settings], engine: Engine
) -> None:
    """Apple's group cards name members by their X-ABUID, not by the UID a server assigned."""
    store, cfg = book
    store.put("c", "contacts", "a", apple_card("7f0c-radicale-1", "4509B688-6C7A-47DA", "Person a"))
    store.put("c", "contacts", "g", group_card("g", "Top 100", ("4509b688-6c7a-47da",), apple=True))
    run(engine, cfg, NOW)  # member and group in one sync
    assert tiers(engine) == {"a": "top100"}
    store.put("c", "contacts", "b", apple_card("7f0c-radicale-2", "0218BF35-582F-451E", "Person b"))
    run(engine, cfg, NOW)
    store.put("c", "contacts", "g2", group_card("g2", "Partner", ("0218bf35-582f-451e",), apple=True))
    run(engine, cfg, NOW)  # a group after its member, in a later sync
    assert tiers(engine) == {"a": "top100", "b": "partner"}


# --- order never matters --------------------------------------------------------------------

UIDS = ("a", "b", "c", "d")
GROUPS = ("Top 100", "Partner", "Family")
TIER = {"Top 100": "top100", "Partner": "partner"}

card_strategy = st.fixed_dictionaries(
    {
        "groups": st.dictionaries(
            st.sampled_from(("g1", "g2", "g3")),
            st.tuples(st.sampled_from(GROUPS), st.frozensets(st.sampled_from(UIDS))),
            max_size=3,
        ),
        "people": st.dictionaries(
            st.sampled_from(UIDS), st.sampled_from(((), ("partner",), ("top100",))), min_size=1
        ),
    }
)


def expected(state: dict) -> dict[str, str | None]:  # type: ignore[type-arg]
    """The tier each live person should have: a partner first (the partner slot), then top100."""
    out: dict[str, str | None] = {}
    for uid, cats in state["people"].items():
        named = set(cats)
        named |= {TIER[name] for name, members in state["groups"].values() if uid in members and name in TIER}
        out[uid] = "partner" if "partner" in named else "top100" if "top100" in named else None
    return out


def put_all(store: MemoryStore, state: dict, order: list[int]) -> None:  # type: ignore[type-arg]
    cards = [
        (uid, vcard(uid, f"Person {uid}", (f"{uid}@example.com",), categories=cats))
        for uid, cats in state["people"].items()
    ]
    cards += [(gid, group_card(gid, name, tuple(sorted(m)))) for gid, (name, m) in state["groups"].items()]
    for i in order:
        if i < len(cards):
            store.put("c", "contacts", *cards[i])
    for i, card in enumerate(cards):
        if i not in order:
            store.put("c", "contacts", *card)


@scaled(1 / 6)
@given(
    first=card_strategy,
    second=card_strategy,
    order=st.lists(st.integers(0, 7), unique=True),
    batch=st.integers(1, 4),
)
def test_tiers_follow_the_cards_whatever_the_order_and_the_batches(
    first: dict,
    second: dict,
    order: list[int],
    batch: int,  # type: ignore[type-arg]
) -> None:
    MemorySource.reset()
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(sync, "BATCH", batch)
        cfg = config.validate(
            {
                "timezone": "Europe/Berlin",
                "database_url": f"sqlite:///{Path(tmp) / 'g.db'}",
                "me": {"emails": [ME]},
                "sources": [{"type": "memory", "name": "m"}],
            }
        )
        engine = service.open_store(cfg)
        store = MemorySource.store("m")
        for state in (first, second):
            present = (
                {h.split("/", 1)[1] for h in store.collections["c"].items} if store.collections else set()
            )
            for uid in sorted(present - set(state["people"]) - set(state["groups"])):
                store.delete("c", uid)
            put_all(store, state, order)
            assert all(r.ok for r in service.sync_all(engine, cfg, NOW))
            with Session(engine) as s:
                live = {
                    c.name.split()[-1]: c.tier
                    for c in s.exec(select(Contact).where(Contact.archived_at == None))  # noqa: E711
                }
                groups = s.exec(select(SourceRecord).where(SourceRecord.kind == "group")).all()
            assert live == expected(state)
            assert {g.uid for g in groups} == set(state["groups"])
        engine.dispose()
