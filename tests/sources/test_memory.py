"""The in-memory source: the contract, plus failure injection and shared stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudge.errors import InvalidSyncToken, SourceError
from nudge.sources.base import Collection, Kind, Source
from nudge.sources.memory import MemoryOptions, MemorySource, MemoryStore
from tests.builders import vcalendar, vcard
from tests.sources.contract import (
    Backend,
    MalformedObjectTests,
    RemovableCollectionTests,
    TokenTests,
    sample,
)

Filled = tuple[MemoryStore, MemorySource, Collection]
COLLECTIONS: dict[Kind, str] = {"contacts": "addressbook", "events": "calendar"}


class MemoryBackend(Backend):
    def __init__(self, name: str) -> None:
        self.name = name
        self.store: MemoryStore = MemorySource.store(name)
        self.source = self.reopen()

    def put(self, kind: Kind, uid: str, text: str) -> None:
        self.store.put(COLLECTIONS[kind], kind, uid, text if kind == "contacts" else vcalendar(text))

    def delete(self, kind: Kind, uid: str) -> None:
        self.store.delete(COLLECTIONS[kind], uid)

    def reopen(self) -> Source:
        return MemorySource(self.name, MemoryOptions())

    def remove_collection(self, kind: Kind) -> None:
        del self.store.collections[COLLECTIONS[kind]]


class TestMemorySource(TokenTests, MalformedObjectTests, RemovableCollectionTests):
    def make(self, tmp_path: Path) -> Backend:
        return MemoryBackend(f"contract-{tmp_path.name}")  # a store of its own, whatever ran before


@pytest.fixture
def filled() -> Filled:
    store = MemorySource.store("m")
    store.put("ab", "contacts", "a", vcard("a", "Ana Ruiz"))
    source = MemorySource("m", MemoryOptions())
    return store, source, source.collections()[0]


def test_fail_makes_every_call_raise_source_error(filled: Filled) -> None:
    store, source, coll = filled
    store.fail = "server on fire"
    with pytest.raises(SourceError, match="server on fire"):
        source.collections()
    with pytest.raises(SourceError, match="server on fire"):
        source.list(coll)
    with pytest.raises(SourceError, match="server on fire"):
        source.changes(coll, None)
    with pytest.raises(SourceError, match="server on fire"):
        source.changes(coll, "0")
    with pytest.raises(SourceError, match="server on fire"):
        list(source.fetch(coll, ["ab/a"]))


def test_clearing_fail_makes_the_source_work_again(filled: Filled) -> None:
    store, source, coll = filled
    store.fail = "down"
    with pytest.raises(SourceError):
        source.list(coll)
    store.fail = None
    assert list(source.list(coll)) == ["ab/a"]


def test_sources_with_the_same_name_share_a_store() -> None:
    MemorySource.store("shared").put("ab", "contacts", "a", vcard("a", "Ana"))
    first, second = MemorySource("shared", MemoryOptions()), MemorySource("shared", MemoryOptions())
    assert first.collections() == second.collections()
    assert MemorySource("other", MemoryOptions()).collections() == []


def test_reset_forgets_every_store() -> None:
    MemorySource.store("x").put("ab", "contacts", "a", vcard("a", "Ana"))
    MemorySource.reset()
    assert MemorySource("x", MemoryOptions()).collections() == []


def test_put_derives_href_format_and_etag() -> None:
    store = MemorySource.store("m")
    href = store.put("cal", "events", "e1", vcalendar(sample("events", "e1")))
    source = MemorySource("m", MemoryOptions())
    [coll] = source.collections()
    assert (href, coll) == ("cal/e1", Collection("cal", "events", "cal"))
    [item] = source.fetch(coll, [href])
    assert item.format == "ical"


@pytest.mark.parametrize("token", ["-1", "1.5", "", "99"])
def test_tokens_it_never_gave_are_invalid(filled: Filled, token: str) -> None:
    _, source, coll = filled
    with pytest.raises(InvalidSyncToken, match="memory:m"):
        source.changes(coll, token)


def test_put_and_delete_since_a_token_is_reported_as_deleted(
    filled: Filled,
) -> None:
    """An object added and removed between two syncs: sync just finds nothing to delete."""
    store, source, coll = filled
    token = source.changes(coll, None).token
    store.put("ab", "contacts", "tmp", vcard("tmp", "Temp"))
    store.delete("ab", "tmp")
    changes = source.changes(coll, token)
    assert (changes.changed, changes.deleted) == ({}, {"ab/tmp"})
