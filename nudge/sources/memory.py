"""An in-memory source with sync tokens: a real backend for tests and scripts.

Stores live in a process-wide table by name, so a config entry
`{type = "memory", name = "x"}` and a test that calls `MemorySource.store("x")`
see the same data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nudge.errors import InvalidSyncToken, SourceError
from nudge.parse import content_hash
from nudge.sources.base import BadItem, Changes, Collection, Format, Item, Kind, Source, SourceOptions

FORMATS: dict[Kind, Format] = {"contacts": "vcard", "events": "ical", "messages": "email"}


@dataclass
class _Collection:
    kind: Kind
    items: dict[str, Item] = field(default_factory=dict)


@dataclass
class MemoryStore:
    collections: dict[str, _Collection] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)  # (collection, href) per change
    fail: str | None = None  # when set, every call raises SourceError(fail)

    def put(self, collection: str, kind: Kind, uid: str, data: str, fmt: Format | None = None) -> str:
        coll = self.collections.setdefault(collection, _Collection(kind))
        href = f"{collection}/{uid}"
        fmt = fmt or FORMATS[kind]
        coll.items[href] = Item(href, content_hash(data), fmt, data)
        self.log.append((collection, href))
        return href

    def delete(self, collection: str, uid: str) -> None:
        href = f"{collection}/{uid}"
        del self.collections[collection].items[href]
        self.log.append((collection, href))


_STORES: dict[str, MemoryStore] = {}


class MemoryOptions(SourceOptions):
    pass


class MemorySource(Source):
    type_name = "memory"
    options_model = MemoryOptions

    @staticmethod
    def store(name: str) -> MemoryStore:
        return _STORES.setdefault(name, MemoryStore())

    @staticmethod
    def reset() -> None:
        _STORES.clear()

    @property
    def data(self) -> MemoryStore:
        store = self.store(self.name)
        if store.fail:
            raise SourceError(store.fail)
        return store

    def collections(self) -> list[Collection]:
        return [Collection(cid, c.kind, cid) for cid, c in self.data.collections.items()]

    def _items(self, collection: Collection) -> dict[str, Item]:
        try:
            return self.data.collections[collection.id].items
        except KeyError:
            raise SourceError(f"memory:{self.name}: no collection {collection.id!r}") from None

    def list(self, collection: Collection) -> dict[str, str]:
        return {h: i.etag for h, i in self._items(collection).items()}

    def changes(self, collection: Collection, token: str | None) -> Changes:
        store = self.data
        now = str(len(store.log))
        if token is None:
            return Changes(changed=self.list(collection), token=now, complete=True)
        if not token.isdigit() or int(token) > len(store.log):
            raise InvalidSyncToken(f"memory:{self.name}: invalid sync token {token!r}")
        items = self._items(collection)
        touched = {h for c, h in store.log[int(token) :] if c == collection.id}
        return Changes(
            changed={h: items[h].etag for h in touched if h in items},
            deleted={h for h in touched if h not in items},
            token=now,
        )

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        items = self._items(collection)
        for href in hrefs:
            if href in items:
                yield items[href]
