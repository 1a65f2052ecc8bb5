"""Local files: vCard (.vcf) address books, iCalendar (.ics) calendars and contacts CSVs (.csv).

A file listed in `paths`, or found directly in a listed folder, is a
collection (an export). A sub-folder (any depth, hidden ones skipped) is one
collection per kind, as vdirsyncer, khal and khard store them: one item per
file, the folder the address book or calendar. A listed folder is one too when
it has vdirsyncer's `displayname` or `color` metadata, or when its files hold
one object each (khard pointed at one address book). Each card, or each UID's events, is an object
whose etag is the hash of its text; objects without UID are keyed by
`parse.text.card_key` / `parse.text.event_key`. A missing or unreadable file is a
SourceError, so a file that is briefly away never archives its contacts.

Files are decoded by their BOM (UTF-8, UTF-16, UTF-32), as UTF-16 when they
look like it without one, else as UTF-8 with Windows-1252 for the lines that
are not (with a note). A path that yields no object at all is a `Notice`.

A `.csv` is read as the contacts CSV dialect its header row says (LinkedIn, Google, Outlook;
`parse.csv_contacts`), or only as the one `format` names; a `.csv` no dialect recognises is
left out with a notice naming it, its first columns and the dialects nudge knows.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from nudge.errors import SourceError
from nudge.parse import FORMATS, Format, by_suffix, content_hash, for_file
from nudge.sources.base import BadItem, Collection, Item, Kind, Notice, Source, SourceOptions

METADATA = ("displayname", "color")  # vdirsyncer's collection metadata files


def _file_formats() -> list[Format]:
    """The registered formats that come in files (`nudge.parse`), in registry order."""
    return [f for f in FORMATS.values() if f.suffixes]


def _named() -> str:
    """'.vcf, .ics or .csv': the suffixes for messages, one per format."""
    names = list(dict.fromkeys(f.suffixes[0] for f in _file_formats()))
    return " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]


def _glob(kind: Kind) -> str:
    """The name part of a folder collection's id: `*.vcf` (the first suffix of the kind's first format)."""
    return "*" + next(f.suffixes[0] for f in _file_formats() if f.kind == kind)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class FilesOptions(SourceOptions):
    paths: list[str] = Field(
        description="Files (.vcf, .ics, .csv) or folders to scan for them, sub-folders (vdirsyncer, khal, "
        "khard storage) included; ~ is expanded.",
        min_length=1,
    )
    format: Literal["linkedin", "google", "outlook"] | None = Field(
        default=None,
        description='Read every .csv as this contacts CSV dialect ("linkedin", "google" or "outlook") '
        "instead of telling it by its header row; a .csv whose header lacks that dialect's columns "
        "is left out with a notice.",
    )

    @field_validator("paths")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for p in v:
            path = Path(p).expanduser()
            if path.suffix and not by_suffix(path.suffix) and not path.is_dir():
                raise ValueError(f"{p}: use {_named()} files, or a folder of them")
            if path.is_file() and not by_suffix(path.suffix):
                raise ValueError(f"{p}: a file without a {_named()} suffix; rename it or list its folder")
        return v


def decode(data: bytes) -> tuple[str, str]:
    """The text of a file, and a note when part of it had to be read as Windows-1252."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace"), ""
    head = data[:400]
    if head.count(b"\x00") * 3 > len(head):  # UTF-16 without BOM: every other byte is 0
        even = head[0::2].count(b"\x00")
        return data.decode("utf-16-be" if even > len(head) // 4 else "utf-16-le", errors="replace"), ""
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        pass
    lines, fallback = [], 0
    for line in data.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252", errors="replace"))
            fallback += 1
    return "\n".join(lines), f"{fallback} line{'s' if fallback > 1 else ''} not UTF-8, read as Windows-1252"


@dataclass
class _File:
    """What one file holds, for the length of one sync."""

    objects: dict[str, Item | BadItem]
    notices: list[Notice] = field(default_factory=list)


@dataclass
class _Entry:
    """One `paths` entry and the collections it gave."""

    raw: str
    collections: list[Collection]


class FilesSource(Source):
    type_name = "files"
    options_model = FilesOptions

    def __init__(self, name: str, options: SourceOptions) -> None:
        super().__init__(name, options)
        assert isinstance(options, FilesOptions)
        self.paths = options.paths
        self._cache: dict[Path, tuple[tuple[int, int], _File]] = {}
        self._members: dict[str, list[Path]] = {}  # folder collection -> its item files
        self._entries: list[_Entry] = []
        self._formats: dict[
            Path, Format | None
        ] = {}  # None: a file no format claims (a .csv of other columns)
        self.csv_format = options.format  # the contacts CSV dialect every .csv is read as, if set

    def collections(self) -> list[Collection]:
        # Called once per sync: start afresh, so a rewrite that kept the file's
        # size and mtime (coarse timestamps, copies that keep them) is still seen.
        self._cache.clear()
        self._members.clear()
        self._entries = []
        self._formats.clear()
        found: dict[str, Collection] = {}
        for raw in self.paths:
            path = Path(raw).expanduser()
            if path.is_dir():
                colls = self._folder(path)
            elif path.exists():
                if not by_suffix(path.suffix):
                    raise SourceError(
                        f"{path}: not a {_named()} file; rename it, or list the folder it is in"
                    )
                fmt = self._format(path)
                colls = [] if fmt is None else [Collection(str(path.resolve()), fmt.kind, path.name)]
            else:
                raise SourceError(f"{path}: no such file or folder")
            self._entries.append(_Entry(raw, colls))
            for coll in colls:
                found.setdefault(coll.id, coll)
        return list(found.values())

    def _folder(self, top: Path) -> list[Collection]:
        """The collections under a listed folder: its own files one each, every sub-folder one per kind."""
        colls: list[Collection] = []
        for here, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            folder = Path(here)
            items = sorted(
                (
                    folder / n
                    for n in names
                    if not n.startswith(".") and by_suffix(Path(n).suffix) and self._format(folder / n)
                ),
                key=lambda p: p.name,
            )
            if not items:
                continue
            vdir = folder != top or any((folder / m).is_file() for m in METADATA)
            for kind in dict.fromkeys(f.kind for f in _file_formats()):
                members = [p.resolve() for p in items if self._known(p).kind == kind]
                if not members:
                    continue
                if vdir or self._one_each(members):
                    csv_only = all(p.suffix.lower() == ".csv" for p in members)  # an export's folder
                    glob = "*.csv" if csv_only else _glob(kind)
                    cid = f"{folder.resolve()}{os.sep}{glob}"
                    self._members[cid] = members
                    colls.append(Collection(cid, kind, _display_name(folder)))
                else:
                    colls += [Collection(str(p), kind, p.name) for p in members]
        return colls

    def _format(self, path: Path) -> Format | None:
        """The format a file holds (by suffix, then by its first lines), or None when none claims it."""
        key = path.resolve()
        if key not in self._formats:
            if self.csv_format and path.suffix.lower() == ".csv":
                forced = FORMATS[f"{self.csv_format}_csv"]
                self._formats[key] = forced if forced.claims(_head(path)) else None
            else:
                self._formats[key] = for_file(path.suffix, lambda: _head(path))
        return self._formats[key]

    def _known(self, path: Path) -> Format:
        """The format of a file already found to hold one (only such files are ever read)."""
        fmt = self._format(path)
        assert fmt is not None, path
        return fmt

    def _one_each(self, files: list[Path]) -> bool:
        """Whether these files (more than one) each hold one object, as a vdir's items do.

        khard is often pointed at one address book's folder; read as a collection per
        file, its thousands of items would cost a sync thousands of collections.
        """
        try:
            return len(files) > 1 and all(len(self._read(p, False).objects) <= 1 for p in files)
        except SourceError:  # an unreadable file: each its own collection, and its own error
            return False

    def _objects(self, collection: Collection) -> dict[str, Item | BadItem]:
        members = self._members.get(collection.id)
        if members is None:
            return self._read(Path(collection.id), must_exist=True).objects
        objects: dict[str, Item | BadItem] = {}
        for path in members:
            objects.update(self._read(path, must_exist=False).objects)
        return objects

    def _read(self, path: Path, must_exist: bool) -> _File:
        """A file's objects (cached for this sync); an item file of a folder that is gone holds none."""
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(path)
            if cached and cached[0] == key:
                return cached[1]
            data = path.read_bytes()
        except FileNotFoundError as e:
            if must_exist:
                raise SourceError(f"{path}: {e.strerror}") from e
            return _File({})
        except OSError as e:
            raise SourceError(f"{path}: {e.strerror}") from e
        text, note = decode(data)
        fmt = self._known(path)
        read = _File(_split(path, fmt, text))
        if note:
            read.notices.append(Notice(f"{path}: {note}", problem=False))
        if not read.objects and text.strip():
            read.notices.append(Notice(f"{path}: not empty, but holds no {fmt.looks_like}"))
        self._cache[path] = (key, read)
        return read

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

    def notices(self) -> Sequence[Notice]:
        """Files read as Windows-1252, files and `paths` entries that hold nothing to import."""
        out: list[Notice] = [
            Notice(f"{path}: not a file nudge can read ({self._expected(path)}); left out")
            for path, fmt in self._formats.items()
            if fmt is None
        ]
        for entry in self._entries:
            if not entry.collections:
                out.append(Notice(f"{entry.raw}: no {_named()} files in it"))
                continue
            count, problems = 0, 0
            for coll in entry.collections:
                files = self._members.get(coll.id) or [Path(coll.id)]
                for path in files:
                    try:
                        read = self._read(path, must_exist=True)
                    except SourceError:
                        continue  # reported as the collection's error
                    count += len(read.objects)
                    problems += sum(n.problem for n in read.notices)
                    out += [n for n in read.notices if n not in out]
            if not count and not problems:
                out.append(Notice(f"{entry.raw}: yields no contact or event (its files are empty)"))
        return out

    def _expected(self, path: Path) -> str:
        """What a file nobody claims should have been; for a .csv with its first columns and the fix."""
        if path.suffix.lower() != ".csv":
            return _formats_of(path.suffix)
        from nudge.parse.csv_contacts import header_words

        wanted = FORMATS[f"{self.csv_format}_csv"].looks_like if self.csv_format else _formats_of(".csv")
        fix = (
            "check the file, or the source's format"
            if self.csv_format
            else 'set format = "linkedin" | "google" | "outlook" on the source if it is one'
        )
        return f"{wanted}; header: {header_words(_head(path))}; {fix}"


def _head(path: Path) -> str:
    """The start of a file's text, for formats that recognise their files by it."""
    try:
        with path.open("rb") as f:
            data = f.read(8192)
    except OSError:
        return ""
    return decode(data)[0]


def _formats_of(suffix: str) -> str:
    """'LinkedIn connections or call log': what a suffix's files may be."""
    return " or ".join(f.looks_like or f.name for f in by_suffix(suffix))


def _display_name(folder: Path) -> str:
    """A vdir's `displayname` metadata, else the folder's name."""
    try:
        text = (folder / "displayname").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text.splitlines()[0][:100] if text else folder.name


def _split(path: Path, fmt: Format, text: str) -> dict[str, Item | BadItem]:
    """A file's objects by href (`path#key`; a key seen twice gets a `+`)."""
    objects: dict[str, Item | BadItem] = {}
    for i, (key, data) in enumerate(fmt.split(text, str(path))):
        href = f"{path}#{key}" if key else f"{path}#object-{i + 1}"
        while href in objects:  # the same UID twice in one file
            href += "+"
        if key:
            objects[href] = Item(href, content_hash(data), fmt.name, data)
        else:
            objects[href] = BadItem(href, fmt.no_key)
    return objects
