"""Local files: vCard (.vcf) address books and iCalendar (.ics) calendars.

Each file is a collection; each card, or each UID's events, is an object whose
etag is the hash of its text. A missing or unreadable file is a SourceError,
so a file that is briefly away never archives its contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import Field, field_validator

from nudge.errors import SourceError
from nudge.parse import block_uid, content_hash, split_calendar, split_components
from nudge.sources.base import BadItem, Collection, Item, Source, SourceOptions

SUFFIXES = {".vcf": "contacts", ".vcard": "contacts", ".ics": "events", ".ical": "events"}


class FilesOptions(SourceOptions):
    paths: list[str] = Field(
        description="Files (.vcf, .ics) or folders to scan for them; ~ is expanded.",
        min_length=1,
    )

    @field_validator("paths")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for p in v:
            path = Path(p).expanduser()
            if path.suffix and path.suffix.lower() not in SUFFIXES and not path.is_dir():
                raise ValueError(f"{p}: use .vcf or .ics files, or a folder of them")
        return v


class FilesSource(Source):
    type_name = "files"
    options_model = FilesOptions

    def __init__(self, name: str, options: SourceOptions) -> None:
        super().__init__(name, options)
        assert isinstance(options, FilesOptions)
        self.paths = options.paths
        self._cache: dict[str, tuple[tuple[int, int], dict[str, Item | BadItem]]] = {}

    def collections(self) -> list[Collection]:
        # Called once per sync: start afresh, so a rewrite that kept the file's
        # size and mtime (coarse timestamps, copies that keep them) is still seen.
        self._cache.clear()
        found: list[Collection] = []
        for raw in self.paths:
            path = Path(raw).expanduser()
            if path.is_dir():
                files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            elif path.exists():
                files = [path]
            else:
                raise SourceError(f"{path}: no such file or folder")
            for f in files:
                found.append(Collection(id=str(f.resolve()), kind=SUFFIXES[f.suffix.lower()], name=f.name))  # type: ignore[arg-type]
        return found

    def _objects(self, collection: Collection) -> dict[str, Item | BadItem]:
        path = Path(collection.id)
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(collection.id)
            if cached and cached[0] == key:
                return cached[1]
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise SourceError(f"{path}: {e.strerror}") from e
        objects: dict[str, Item | BadItem] = {}
        if collection.kind == "contacts":
            pairs = [(block_uid(b), b) for b in split_components(text, "VCARD")]
            fmt = "vcard"
        else:
            pairs = split_calendar(text)
            fmt = "ical"
        for i, (uid, data) in enumerate(pairs):
            href = f"{path}#{uid}" if uid else f"{path}#object-{i + 1}"
            while href in objects:  # the same UID twice in one file
                href += "+"
            if not uid or uid.startswith("#missing-uid"):
                objects[href] = BadItem(href, "no UID")
            else:
                objects[href] = Item(href, content_hash(data), fmt, data)  # type: ignore[arg-type]
        self._cache[collection.id] = (key, objects)
        return objects

    def list(self, collection: Collection) -> dict[str, str]:
        return {
            href: obj.etag if isinstance(obj, Item) else "bad"
            for href, obj in self._objects(collection).items()
        }

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        objects = self._objects(collection)
        for href in hrefs:
            if href in objects:
                yield objects[href]
