"""The Source contract as tests: one suite every backend subclasses.

Modelled on vdirsyncer's `tests/storage/__init__.py` (`StorageTests`). The
suite only talks to `nudge.sources.base.Source` and to a `Backend`, a small
writer that puts data into whatever the source reads (a memory store, files, a
CardDAV/CalDAV server, a mocked Google API). To run the contract against a new
backend:

    class TestRadicaleSource(TokenTests, RemovableCollectionTests):

        def make(self, tmp_path: Path) -> Backend:
            return RadicaleBackend(...)  # start the server, return source + writer

Assumptions the suite makes, which every `Backend` must meet:

- There is exactly one collection of each kind ("contacts", "events") once an
  object of that kind has been put; the suite finds it by kind.
- `put()` adds or replaces the object with that UID; `delete()` removes it.
  Objects are identified by UID here, never by href: hrefs are the source's
  business, and the suite learns them from `list()` and `fetch()`.
- Event objects are passed as VEVENT blocks (no VCALENDAR around them); the
  backend wraps and stores them however its storage wants.

`SourceTests` is what every source meets. Optional parts are mixins a backend's
suite opts into, so nothing is skipped at run time: `TokenTests` (sync tokens),
`MalformedObjectTests` (can hold an unparsable object) and
`RemovableCollectionTests` (a collection can vanish).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nudge.errors import InvalidSyncToken, SourceError
from nudge.parse import ParseError
from nudge.parse.ical import parse_ical
from nudge.parse.vcard import parse_vcard
from nudge.sources.base import BadItem, Changes, Collection, Item, Kind, Source, SourceOptions
from tests.builders import vcard, vevent

KINDS: tuple[Kind, ...] = ("contacts", "events")
FORMATS = {"contacts": "vcard", "events": "ical"}
EVENT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Every event the suite writes falls inside this window.
WINDOW = (EVENT_START - timedelta(days=30), EVENT_START + timedelta(days=60))


class Backend(ABC):
    """A source under test plus a writer into the data it reads."""

    source: Source

    @abstractmethod
    def put(self, kind: Kind, uid: str, text: str) -> None:
        """Add or replace the object `uid` of `kind`.

        `text` is a whole vCard for contacts, and one or more VEVENT blocks of
        that UID for events.
        """

    @abstractmethod
    def delete(self, kind: Kind, uid: str) -> None:
        """Remove the object `uid` of `kind`."""

    @abstractmethod
    def reopen(self) -> Source:
        """A new source instance on the same data, as the next sync would build it."""

    def remove_collection(self, kind: Kind) -> None:
        """Make the collection of `kind` disappear (an address book deleted at the server).

        Only backends whose suite includes `RemovableCollectionTests` need this.
        """
        raise NotImplementedError


class CombinedSource(Source):
    """A contacts source and a calendar source of one account, seen as one source.

    The suite puts both kinds into one backend; in a config they are two
    sources (carddav + caldav, google_contacts + google_calendar). Every call
    goes to the source of the collection's kind.
    """

    type_name = "combined"
    options_model = SourceOptions

    def __init__(self, contacts: Source, events: Source) -> None:
        super().__init__(contacts.name, contacts.options)
        self.parts: dict[str, Source] = {"contacts": contacts, "events": events}

    def collections(self) -> list[Collection]:
        return [c for part in self.parts.values() for c in part.collections()]

    def list(self, collection: Collection) -> dict[str, str]:
        return self.parts[collection.kind].list(collection)

    def changes(self, collection: Collection, token: str | None) -> Changes:
        return self.parts[collection.kind].changes(collection, token)

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        return self.parts[collection.kind].fetch(collection, hrefs)

    def close(self) -> None:
        for part in self.parts.values():
            part.close()


def sample(kind: Kind, uid: str, version: int = 0) -> str:
    """An object of `kind` whose content depends on `version`."""
    if kind == "contacts":
        return vcard(uid, f"Person {uid}", emails=(f"{uid}@example.com",), title=f"Title v{version}")
    return vevent(
        uid,
        EVENT_START + timedelta(days=version),
        attendees=(f"{uid}@example.com",),
        summary=f"Meeting {uid} v{version}",
    )


def malformed(kind: Kind, uid: str) -> str:
    """An object with a UID that the parser must refuse."""
    if kind == "contacts":
        return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nNOTE:no name and no email\r\nEND:VCARD\r\n"
    return vevent(uid, EVENT_START).replace(f"DTSTART:{EVENT_START:%Y%m%dT%H%M%SZ}", "DTSTART:notadate")


def parse_uid(item: Item) -> str:
    """The UID of a fetched item, through the same parsers sync uses."""
    if item.format == "vcard":
        return parse_vcard(item.data).uid
    return parse_ical(item.data, UTC, *WINDOW).uid


class SourceTests:
    """The contract every source meets. Subclass as `Test<Name>Source` and implement `make`."""

    #: False for backends that cannot store an object the parser refuses
    #: (servers that validate uploads); the malformed-object tests are skipped.

    def make(self, tmp_path: Path) -> Backend:
        raise NotImplementedError

    # --- fixtures and helpers ------------------------------------------------------

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        backend = self.make(tmp_path)
        yield backend
        backend.source.close()

    @pytest.fixture(params=KINDS)
    def kind(self, request: pytest.FixtureRequest) -> Kind:
        kind: Kind = request.param
        return kind

    @staticmethod
    def collection(source: Source, kind: Kind) -> Collection:
        found = [c for c in source.collections() if c.kind == kind]
        assert len(found) == 1, f"expected one {kind} collection, got {found}"
        return found[0]

    @staticmethod
    def fetch_all(source: Source, coll: Collection) -> list[Item | BadItem]:
        return list(source.fetch(coll, list(source.list(coll))))

    def hrefs_by_uid(self, source: Source, coll: Collection) -> dict[str, str]:
        """uid -> href of every object in the collection."""
        found = {}
        for item in self.fetch_all(source, coll):
            assert isinstance(item, Item), item
            found[parse_uid(item)] = item.href
        return found

    def filled(self, backend: Backend, kind: Kind, uids: tuple[str, ...] = ("a", "b", "c")) -> Collection:
        for uid in uids:
            backend.put(kind, uid, sample(kind, uid))
        return self.collection(backend.source, kind)

    # --- collections ---------------------------------------------------------------

    def test_collections_have_the_kinds_of_their_objects(self, backend: Backend) -> None:
        backend.put("contacts", "a", sample("contacts", "a"))
        backend.put("events", "e", sample("events", "e"))
        colls = backend.source.collections()
        assert {c.kind for c in colls} == {"contacts", "events"}
        assert len({c.id for c in colls}) == len(colls)
        assert self.collection(backend.source, "contacts") != self.collection(backend.source, "events")

    def test_collection_ids_are_stable(self, backend: Backend) -> None:
        backend.put("contacts", "a", sample("contacts", "a"))
        backend.put("events", "e", sample("events", "e"))
        first = backend.source.collections()
        assert backend.reopen().collections() == first
        assert backend.source.collections() == first

    # --- list ------------------------------------------------------------------------

    def test_list_gives_every_object(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind, ("a", "b", "c", "d"))
        listing = backend.source.list(coll)
        assert len(listing) == 4
        assert all(isinstance(etag, str) and etag for etag in listing.values())
        assert set(self.hrefs_by_uid(backend.source, coll)) == {"a", "b", "c", "d"}

    def test_list_holds_only_its_collections_objects(self, backend: Backend) -> None:
        contacts = self.filled(backend, "contacts", ("a", "b"))
        events = self.filled(backend, "events", ("e",))
        assert set(backend.source.list(contacts)).isdisjoint(backend.source.list(events))
        assert len(backend.source.list(events)) == 1

    def test_etags_stay_the_same_without_a_change(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        first = backend.source.list(coll)
        assert backend.source.list(coll) == first
        assert backend.reopen().list(coll) == first

    def test_etag_changes_when_the_object_changes_and_only_then(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        hrefs = self.hrefs_by_uid(backend.source, coll)
        before = backend.source.list(coll)
        backend.put(kind, "b", sample(kind, "b", version=1))
        after = backend.source.list(coll)
        assert set(after) == set(before)
        assert after[hrefs["b"]] != before[hrefs["b"]]
        assert after[hrefs["a"]] == before[hrefs["a"]]
        assert after[hrefs["c"]] == before[hrefs["c"]]

    def test_a_new_object_is_listed_and_the_others_keep_their_etags(
        self, backend: Backend, kind: Kind
    ) -> None:
        coll = self.filled(backend, kind)
        before = backend.source.list(coll)
        backend.put(kind, "new", sample(kind, "new"))
        after = backend.source.list(coll)
        new = set(after) - set(before)
        assert len(new) == 1
        assert {h: after[h] for h in before} == before
        [href] = new
        assert self.hrefs_by_uid(backend.source, coll)["new"] == href

    def test_deleted_object_disappears_from_the_listing(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        hrefs = self.hrefs_by_uid(backend.source, coll)
        before = backend.source.list(coll)
        backend.delete(kind, "b")
        after = backend.source.list(coll)
        assert set(after) == set(before) - {hrefs["b"]}
        assert all(after[h] == before[h] for h in after)

    # --- fetch ----------------------------------------------------------------------

    def test_fetch_gives_items_that_parse_and_match_the_listing(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        listing = backend.source.list(coll)
        items = list(backend.source.fetch(coll, list(listing)))
        assert len(items) == len(listing)
        uids = set()
        for item in items:
            assert isinstance(item, Item)
            assert item.format == FORMATS[kind]
            assert listing[item.href] == item.etag
            uids.add(parse_uid(item))
        assert uids == {"a", "b", "c"}

    def test_fetch_of_a_subset_gives_just_that(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        hrefs = self.hrefs_by_uid(backend.source, coll)
        items = list(backend.source.fetch(coll, [hrefs["c"]]))
        assert [i.href for i in items] == [hrefs["c"]]
        assert isinstance(items[0], Item)
        assert parse_uid(items[0]) == "c"

    def test_fetch_accepts_any_iterable_in_any_order(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        listing = backend.source.list(coll)
        items = list(backend.source.fetch(coll, (h for h in sorted(listing, reverse=True))))
        assert sorted(i.href for i in items) == sorted(listing)

    def test_fetch_of_an_unknown_href_yields_nothing(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        known = next(iter(backend.source.list(coll)))
        assert list(backend.source.fetch(coll, [known + "-missing"])) == []
        items = list(backend.source.fetch(coll, [known + "-missing", known]))
        assert [i.href for i in items] == [known]

    def test_fetch_of_a_deleted_href_yields_nothing(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        gone = self.hrefs_by_uid(backend.source, coll)["b"]
        backend.delete(kind, "b")
        assert list(backend.source.fetch(coll, [gone])) == []

    def test_fetch_gives_the_new_content_after_a_change(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        href = self.hrefs_by_uid(backend.source, coll)["b"]
        backend.put(kind, "b", sample(kind, "b", version=1))
        [item] = backend.source.fetch(coll, [href])
        assert isinstance(item, Item)
        assert item.etag == backend.source.list(coll)[href]
        if kind == "contacts":
            assert parse_vcard(item.data).title == "Title v1"
        else:
            assert parse_ical(item.data, UTC, *WINDOW).occurrences[0].summary == "Meeting b v1"

    def test_non_ascii_text_survives(self, backend: Backend) -> None:
        name = "Zoë Ñúñez-Łukasiewicz 李小龍"
        backend.put("contacts", "z", vcard("z", name, org="Café Müller"))
        coll = self.collection(backend.source, "contacts")
        [item] = self.fetch_all(backend.source, coll)
        assert isinstance(item, Item)
        rec = parse_vcard(item.data)
        assert (rec.name, rec.org) == (name, "Café Müller")

    # --- malformed objects ---------------------------------------------------------------

    # --- changes and sync tokens ------------------------------------------------------------

    def test_changes_without_a_token_is_the_full_listing(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        changes = backend.source.changes(coll, None)
        assert changes.complete
        assert changes.changed == backend.source.list(coll)
        assert changes.deleted == set()


class TokenTests(SourceTests):
    """For sources with sync tokens (RFC 6578, Google syncToken, the memory source)."""

    def token(self, backend: Backend, coll: Collection) -> str:
        token = backend.source.changes(coll, None).token
        assert token is not None, "a source that runs TokenTests must give sync tokens"
        return token

    def test_changes_since_a_token_is_empty_without_a_change(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        changes = backend.source.changes(coll, self.token(backend, coll))
        assert (changes.changed, changes.deleted, changes.complete) == ({}, set(), False)

    def test_changes_since_a_token_reports_exactly_the_change(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        token = self.token(backend, coll)
        backend.put(kind, "b", sample(kind, "b", version=1))
        changes = backend.source.changes(coll, token)
        href = self.hrefs_by_uid(backend.source, coll)["b"]
        assert not changes.complete
        assert changes.changed == {href: backend.source.list(coll)[href]}
        assert changes.deleted == set()

    def test_changes_since_a_token_reports_an_addition(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        token = self.token(backend, coll)
        backend.put(kind, "new", sample(kind, "new"))
        changes = backend.source.changes(coll, token)
        href = self.hrefs_by_uid(backend.source, coll)["new"]
        assert changes.changed == {href: backend.source.list(coll)[href]}
        assert changes.deleted == set()

    def test_changes_since_a_token_reports_exactly_the_deletion(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        href = self.hrefs_by_uid(backend.source, coll)["b"]
        token = self.token(backend, coll)
        backend.delete(kind, "b")
        changes = backend.source.changes(coll, token)
        assert not changes.complete
        assert changes.changed == {}
        assert changes.deleted == {href}

    def test_the_new_token_starts_after_the_reported_changes(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        token = self.token(backend, coll)
        backend.put(kind, "b", sample(kind, "b", version=1))
        first = backend.source.changes(coll, token)
        assert first.token is not None
        again = backend.source.changes(coll, first.token)
        assert (again.changed, again.deleted) == ({}, set())

    def test_a_token_survives_a_new_source_instance(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        token = self.token(backend, coll)
        backend.delete(kind, "a")
        assert len(backend.reopen().changes(coll, token).deleted) == 1

    def test_changes_in_another_collection_are_not_reported(self, backend: Backend) -> None:
        contacts = self.filled(backend, "contacts")
        self.filled(backend, "events")
        token = self.token(backend, contacts)
        backend.put("events", "b", sample("events", "b", version=1))
        backend.delete("events", "c")
        changes = backend.source.changes(contacts, token)
        assert (changes.changed, changes.deleted) == ({}, set())

    def test_a_garbage_token_raises_invalid_sync_token(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        self.token(backend, coll)
        with pytest.raises(InvalidSyncToken):
            backend.source.changes(coll, "garbage, not a token")


class MalformedObjectTests(SourceTests):
    """For backends that can hold an object that does not parse (files, memory, lax servers)."""

    def test_malformed_object_is_reported_not_raised(self, backend: Backend, kind: Kind) -> None:
        backend.put(kind, "good", sample(kind, "good"))
        backend.put(kind, "broken", malformed(kind, "broken"))
        coll = self.collection(backend.source, kind)
        listing = backend.source.list(coll)
        good, bad = [], []
        for item in backend.source.fetch(coll, list(listing)):
            assert item.href in listing
            if isinstance(item, BadItem):
                bad.append(item.href)
                continue
            try:
                good.append(parse_uid(item))
            except ParseError:
                bad.append(item.href)
        assert good == ["good"]
        assert len(bad) == 1


class RemovableCollectionTests(SourceTests):
    """For backends where a whole collection can disappear (a deleted address book or file)."""

    def test_removed_collection_raises_source_error(self, backend: Backend, kind: Kind) -> None:
        coll = self.filled(backend, kind)
        backend.remove_collection(kind)
        with pytest.raises(SourceError):
            backend.source.list(coll)
