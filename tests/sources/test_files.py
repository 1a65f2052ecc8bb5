"""Local .vcf / .ics files: the contract, plus file-specific behaviour."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from nudge.errors import SourceError
from nudge.parse.ical import parse_ical
from nudge.parse.text import DERIVED
from nudge.parse.vcard import parse_vcard
from nudge.sources.base import BadItem, Collection, Item, Kind, Source
from nudge.sources.files import FilesOptions, FilesSource
from tests.builders import vcalendar, vcard, vevent
from tests.sources.contract import (
    WINDOW,
    Backend,
    MalformedObjectTests,
    RemovableCollectionTests,
)

FILES: dict[Kind, str] = {"contacts": "contacts.vcf", "events": "calendar.ics"}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FilesBackend(Backend):
    """One file per collection; every change rewrites the whole file, as an export would."""

    def __init__(self, folder: Path, scan_folder: bool) -> None:
        self.folder = folder
        self.paths = {kind: folder / name for kind, name in FILES.items()}
        self.objects: dict[Kind, dict[str, str]] = {"contacts": {}, "events": {}}
        self.scan_folder = scan_folder
        for kind in self.paths:
            self._write(kind)
        self.source = self.reopen()

    def _write(self, kind: Kind) -> None:
        blocks = list(self.objects[kind].values())
        text = "".join(blocks) if kind == "contacts" else vcalendar(*blocks)
        path = self.paths[kind]
        before = path.stat().st_mtime_ns if path.exists() else -1
        path.write_text(text, encoding="utf-8", newline="")
        # As an edit by a person would: a later mtime. Kernels with coarse timestamps can give
        # two quick writes the same one, which the source's cache cannot tell apart (see the
        # xfail test at the end); the contract is about etags, not timestamp granularity.
        if path.stat().st_mtime_ns <= before:
            os.utime(path, ns=(before + 1_000_000, before + 1_000_000))

    def put(self, kind: Kind, uid: str, text: str) -> None:
        self.objects[kind][uid] = text
        self._write(kind)

    def delete(self, kind: Kind, uid: str) -> None:
        del self.objects[kind][uid]
        self._write(kind)

    def reopen(self) -> Source:
        paths = [str(self.folder)] if self.scan_folder else [str(p) for p in self.paths.values()]
        return FilesSource("files", FilesOptions(paths=paths))

    def remove_collection(self, kind: Kind) -> None:
        self.paths[kind].unlink()


class TestFilesSource(MalformedObjectTests, RemovableCollectionTests):
    def make(self, tmp_path: Path) -> Backend:
        return FilesBackend(tmp_path, scan_folder=False)


class TestFilesFolderSource(MalformedObjectTests, RemovableCollectionTests):
    """The same files, found by scanning their folder."""

    def make(self, tmp_path: Path) -> Backend:
        return FilesBackend(tmp_path, scan_folder=True)


def source(*paths: Path | str) -> FilesSource:
    return FilesSource("files", FilesOptions(paths=[str(p) for p in paths]))


def only(src: FilesSource) -> Collection:
    [coll] = src.collections()
    return coll


def fetched(src: FilesSource) -> list[Item | BadItem]:
    coll = only(src)
    return list(src.fetch(coll, list(src.list(coll))))


# --- options ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["notes.txt", "contacts.xlsx", "cal.ICS.bak"])
def test_unknown_suffix_is_rejected_by_options(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError, match=r"use \.vcf, \.ics\b.* files"):
        FilesOptions(paths=[str(tmp_path / "a.vcf"), str(tmp_path / name)])


@pytest.mark.parametrize("name", ["a.vcf", "b.VCF", "c.vcard", "d.ics", "e.ical", "f.csv", "folder"])
def test_known_suffixes_and_folders_are_accepted(tmp_path: Path, name: str) -> None:
    assert FilesOptions(paths=[str(tmp_path / name)]).paths == [str(tmp_path / name)]


def test_a_folder_with_a_dotted_name_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "export.2026").mkdir()
    assert FilesOptions(paths=[str(tmp_path / "export.2026")]).paths


def test_no_paths_and_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        FilesOptions(paths=[])
    with pytest.raises(ValidationError, match="extra"):
        FilesOptions.model_validate({"paths": ["a.vcf"], "recursive": True})


# --- finding files ---------------------------------------------------------------------------


def test_a_folder_is_scanned_for_vcf_and_ics_files(tmp_path: Path) -> None:
    (tmp_path / "b.vcf").write_text(vcard("b", "Ben Ott"))
    (tmp_path / "A.VCF").write_text(vcard("a", "Ana Ruiz") + vcard("c", "Cem Kaya"))  # an export of many
    (tmp_path / "work.ics").write_text(vcalendar(vevent("e", START)))
    (tmp_path / "notes.txt").write_text("not a card")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hidden.vcf").write_text(vcard("h", "Hidden"))
    colls = source(tmp_path).collections()
    assert [(Path(c.id).name, c.kind, c.name) for c in colls] == [
        ("A.VCF", "contacts", "A.VCF"),
        ("b.vcf", "contacts", "b.vcf"),
        ("work.ics", "events", "work.ics"),
    ]
    assert all(Path(c.id).is_absolute() for c in colls)


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "c.vcf").write_text(vcard("a", "Ana Ruiz"))
    assert Path(only(source("~/c.vcf")).id) == (tmp_path / "c.vcf").resolve()


def test_missing_file_raises_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone.vcf"
    with pytest.raises(SourceError, match=r"gone\.vcf"):
        source(missing).collections()


def test_file_removed_after_listing_collections_raises_source_error(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    path.write_text(vcard("a", "Ana Ruiz"))
    src = source(path)
    coll = only(src)
    path.unlink()
    with pytest.raises(SourceError, match=r"c\.vcf"):
        src.list(coll)
    with pytest.raises(SourceError):
        list(src.fetch(coll, [f"{coll.id}#a"]))


def test_unreadable_file_raises_source_error(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    path.mkdir()  # a folder where a file is expected: reading it fails with an OSError
    src = source(path)
    coll = Collection(str(path), "contacts", "c.vcf")
    with pytest.raises(SourceError):
        src.list(coll)


# --- objects in a file ---------------------------------------------------------------------------


def test_the_same_uid_twice_in_one_file_gives_two_hrefs(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    path.write_text(vcard("dup", "Ana Ruiz") + vcard("dup", "Ana Ruiz-Kaya"))
    src = source(path)
    items = fetched(src)
    assert len(src.list(only(src))) == 2
    assert len({i.href for i in items}) == 2
    assert all(isinstance(i, Item) for i in items)
    names = {parse_vcard(i.data).name for i in items if isinstance(i, Item)}
    assert names == {"Ana Ruiz", "Ana Ruiz-Kaya"}


def test_a_card_without_uid_is_an_item_keyed_by_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    no_uid = vcard("x", "No Uid", emails=("no.uid@example.com",)).replace("UID:x\r\n", "")
    path.write_text(vcard("a", "Ana Ruiz") + no_uid + no_uid + vcard("b", "Ben Ott"))
    src = source(path)
    items = fetched(src)
    assert all(isinstance(i, Item) for i in items)
    uids = [parse_vcard(i.data).uid for i in items if isinstance(i, Item)]
    assert uids[0] == "a" and uids[3] == "b"
    assert uids[1] == uids[2] and uids[1].startswith(DERIVED)  # an exact duplicate: the same key...
    assert len({i.href for i in items}) == 4  # ...and its own href
    assert [i.href for i in items][1] == f"{path.resolve()}#{uids[1]}"


def test_a_card_with_nothing_to_key_it_by_is_a_bad_item(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    path.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:just a note\r\nEND:VCARD\r\n" + vcard("a", "Ana"))
    items = fetched(source(path))
    assert [type(i).__name__ for i in items] == ["BadItem", "Item"]
    assert isinstance(items[0], BadItem)
    assert items[0].reason == "no UID, and no name, e-mail or phone to make a key from"


def test_an_event_without_uid_is_an_item_keyed_by_start_summary_and_organizer(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    no_uid = vevent("x", START).replace("UID:x\r\n", "")
    path.write_text(vcalendar(vevent("a", START), no_uid))
    items = fetched(source(path))
    assert [type(i).__name__ for i in items] == ["Item", "Item"]
    rec = parse_ical(items[1].data, UTC, *WINDOW)  # type: ignore[union-attr]
    assert rec.uid.startswith(DERIVED) and items[1].href.endswith(f"#{rec.uid}")
    assert [o.start for o in rec.occurrences] == [START]


def test_hrefs_follow_uids_not_positions(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    path.write_text(vcard("a", "Ana Ruiz") + vcard("b", "Ben Ott"))
    before = source(path).list(only(source(path)))
    path.write_text(vcard("new", "Cem Kaya") + vcard("a", "Ana Ruiz") + vcard("b", "Ben Ott"))
    src = source(path)
    after = src.list(only(src))
    assert {h: after[h] for h in before} == before


def test_a_series_and_its_override_are_one_object(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    series = vevent("s", START, extra=("RRULE:FREQ=WEEKLY;COUNT=3",))
    moved = vevent("s", START.replace(day=13), summary="Moved", extra=("RECURRENCE-ID:20260112T090000Z",))
    path.write_text(vcalendar(series, vevent("other", START), moved))
    items = fetched(source(path))
    assert len(items) == 2
    rec = next(parse_ical(i.data, UTC, *WINDOW) for i in items if isinstance(i, Item) and "UID:s" in i.data)
    assert [o.summary for o in rec.occurrences] == ["Meeting", "Moved", "Meeting"]


def test_each_event_object_carries_the_files_timezones(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    vtimezone = (
        "BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    events = [
        vevent(uid, START).replace(
            f"DTSTART:{START:%Y%m%dT%H%M%SZ}", "DTSTART;TZID=Office Time:20260110T100000"
        )
        for uid in ("a", "b")
    ]
    path.write_text(vcalendar(vtimezone, *events))
    items = fetched(source(path))
    assert len(items) == 2
    for item in items:
        assert isinstance(item, Item)
        [occ] = parse_ical(item.data, UTC, *WINDOW).occurrences
        assert occ.start == datetime(2026, 1, 10, 4, 30, tzinfo=UTC)


def test_lines_that_are_not_utf8_are_read_as_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "c.vcf"
    cp1252 = vcard("z", "Zoë Ruiz – Café").encode("cp1252")
    path.write_bytes(vcard("a", "Ana Müller").encode() + cp1252)
    src = source(path)
    items = fetched(src)
    names = sorted(parse_vcard(i.data).name for i in items if isinstance(i, Item))
    assert names == ["Ana Müller", "Zoë Ruiz – Café"]  # each line in its own encoding
    [note] = src.notices()
    assert not note.problem and "read as Windows-1252" in note.text and "c.vcf" in note.text


def test_crlf_and_lf_files_give_the_same_objects(tmp_path: Path) -> None:
    text = vcard("a", "Ana Ruiz") + vcard("b", "Ben Ott")
    (tmp_path / "crlf.vcf").write_text(text, newline="")
    (tmp_path / "lf.vcf").write_text(text.replace("\r\n", "\n"), newline="")
    crlf, lf = source(tmp_path / "crlf.vcf"), source(tmp_path / "lf.vcf")
    assert list(crlf.list(only(crlf)).values()) == list(lf.list(only(lf)).values())


def test_an_empty_file_lists_nothing(tmp_path: Path) -> None:
    (tmp_path / "c.vcf").write_text("")
    src = source(tmp_path / "c.vcf")
    assert src.list(only(src)) == {}


def test_a_same_size_rewrite_with_the_same_mtime_is_seen(tmp_path: Path) -> None:
    """A long-lived source (the daemon's) sees the rewrite at its next sync.

    Coarse timestamps (FAT/SMB/NFS) or a copy that keeps mtimes can leave size
    and mtime unchanged; each sync starts with collections(), which drops the cache.
    """
    path = tmp_path / "c.vcf"
    path.write_text(vcard("a", "Ana Ruiz"))
    src = source(path)
    coll = only(src)
    before = src.list(coll)
    st = path.stat()
    path.write_text(vcard("a", "Ann Ruiz"))  # same length
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert source(path).list(coll) != before  # a fresh source sees the change
    assert src.collections() == [coll]  # the next sync starts here
    assert src.list(coll) != before
