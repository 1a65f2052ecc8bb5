"""The files source on what people's disks hold: vdir trees, UTF-16 and cp1252 exports, odd paths."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from pydantic import ValidationError

from nudge.errors import SourceError
from nudge.parse.ical import parse_ical
from nudge.parse.vcard import parse_vcard
from nudge.sources.base import Item
from nudge.sources.files import FilesOptions, FilesSource
from tests.builders import vcalendar, vcard, vevent
from tests.sources.contract import WINDOW
from tests.sources.test_files import START


def source(*paths: Path | str) -> FilesSource:
    return FilesSource("files", FilesOptions(paths=[str(p) for p in paths]))


def everything(src: FilesSource) -> dict[tuple[str, str], list[str]]:
    """(collection name, kind) -> the names (cards) or UIDs (events) it holds."""
    out: dict[tuple[str, str], list[str]] = {}
    for coll in src.collections():
        names = []
        for item in src.fetch(coll, list(src.list(coll))):
            assert isinstance(item, Item)
            if coll.kind == "contacts":
                names.append(parse_vcard(item.data).name)
            else:
                names.append(parse_ical(item.data, START.tzinfo, *WINDOW).uid)  # type: ignore[arg-type]
        out[coll.name, coll.kind] = sorted(names)
    return out


# --- vdir trees (vdirsyncer, khal, khard) -------------------------------------------------------------


def vdir(root: Path) -> None:
    """~/.contacts and ~/.calendars as vdirsyncer writes them: a folder per collection, a file per item."""
    personal = root / "contacts" / "personal"
    work = root / "contacts" / "work"
    calendar = root / "calendars" / "work"
    for folder in (personal, work, calendar, root / "contacts" / ".git" / "objects"):
        folder.mkdir(parents=True)
    (personal / "a1b2c3.vcf").write_text(vcard("a1b2c3", "Ana Ruiz"))
    (personal / "d4e5f6.vcf").write_text(vcard("d4e5f6", "Ben Ott"))
    (personal / "displayname").write_text("Personal\n")
    (personal / ".a1b2c3.vcf.tmp").write_text(vcard("tmp", "Half Written"))
    (work / "0001.vcf").write_text(vcard("0001", "Cem Kaya"))
    (calendar / "e1.ics").write_text(vcalendar(vevent("e1", START)))
    (calendar / "e2.ics").write_text(vcalendar(vevent("e2", START)))
    (calendar / "color").write_text("#ff0000")
    (root / "contacts" / ".git" / "objects" / "stray.vcf").write_text(vcard("x", "Never Read"))


def test_a_vdir_tree_is_one_collection_per_folder(tmp_path: Path) -> None:
    vdir(tmp_path)
    (tmp_path / "google.vcf").write_text(vcard("g", "Gus Export"))  # an export beside it: its own
    src = source(tmp_path)
    colls = src.collections()
    assert [(c.name, c.kind) for c in colls] == [
        ("google.vcf", "contacts"),
        ("work", "events"),
        ("Personal", "contacts"),  # vdirsyncer's displayname
        ("work", "contacts"),
    ]
    assert everything(src) == {
        ("google.vcf", "contacts"): ["Gus Export"],
        ("work", "events"): ["e1", "e2"],
        ("Personal", "contacts"): ["Ana Ruiz", "Ben Ott"],
        ("work", "contacts"): ["Cem Kaya"],
    }
    events = next(c for c in colls if c.kind == "events")
    assert sorted(h.rsplit("#", 1)[1] for h in src.list(events)) == ["e1", "e2"]


def test_the_storage_root_or_one_collection_folder_may_be_listed(tmp_path: Path) -> None:
    vdir(tmp_path)
    assert everything(source(tmp_path / "calendars")) == {("work", "events"): ["e1", "e2"]}
    # khard's config names the collection folder itself: with vdirsyncer metadata it is one collection
    personal = source(tmp_path / "contacts" / "personal")
    assert [c.name for c in personal.collections()] == ["Personal"]
    assert everything(personal) == {("Personal", "contacts"): ["Ana Ruiz", "Ben Ott"]}
    # ...and without it too, when each of its files holds one card
    (tmp_path / "contacts" / "personal" / "displayname").unlink()
    (tmp_path / "contacts" / "personal" / "g7h8i9.vcf").write_text(vcard("g7h8i9", "Gus Berg"))
    plain = source(tmp_path / "contacts" / "personal")
    assert everything(plain) == {("personal", "contacts"): ["Ana Ruiz", "Ben Ott", "Gus Berg"]}


def test_an_item_deleted_from_a_vdir_is_gone_from_its_collection(tmp_path: Path) -> None:
    vdir(tmp_path)
    src = source(tmp_path / "contacts")
    [personal] = [c for c in src.collections() if c.name == "Personal"]
    before = src.list(personal)
    (tmp_path / "contacts" / "personal" / "d4e5f6.vcf").unlink()
    after = src.list(personal)  # the folder is still there: no error, one object fewer
    assert len(before) == 2 and list(after) == [h for h in before if "a1b2c3" in h]


# --- encodings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),  # Outlook, Windows tools
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.encode("utf-16"),
        lambda t: t.encode("utf-16-le"),  # no BOM at all
        lambda t: t.encode("utf-16-be"),
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-32"),
    ],
)
def test_unicode_files_with_or_without_bom_are_read(tmp_path: Path, encode: object) -> None:
    path = tmp_path / "c.vcf"
    path.write_bytes(encode(vcard("a", "Zoë Ruiz") + vcard("b", "Ben Ott")))  # type: ignore[operator]
    src = source(path)
    assert everything(src) == {("c.vcf", "contacts"): ["Ben Ott", "Zoë Ruiz"]}
    assert src.notices() == []


def test_a_windows_1252_file_is_read_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "outlook.vcf"
    path.write_bytes(vcard("a", "Zoë Ruiz – Café").encode("cp1252"))
    src = source(path)
    assert everything(src) == {("outlook.vcf", "contacts"): ["Zoë Ruiz – Café"]}
    [note] = src.notices()
    assert note.text == f"{path.resolve()}: 2 lines not UTF-8, read as Windows-1252"  # FN and N
    assert not note.problem


# --- paths that yield nothing ------------------------------------------------------------------------


def test_a_file_without_suffix_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "contacts"
    path.write_text(vcard("a", "Ana Ruiz"))
    with pytest.raises(ValidationError, match=r"without a \.vcf, \.ics or \.csv suffix; rename it"):
        FilesOptions(paths=[str(path)])


def test_a_file_without_suffix_that_appears_later_is_a_source_error(tmp_path: Path) -> None:
    src = source(tmp_path / "contacts")  # not there yet: it may become a folder
    (tmp_path / "contacts").write_text(vcard("a", "Ana Ruiz"))
    with pytest.raises(SourceError, match=r"contacts: not a \.vcf, \.ics or \.csv file; rename it"):
        src.collections()


def test_paths_that_hold_nothing_to_import_are_noticed(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("nothing here")
    (tmp_path / "blank.vcf").write_text("")
    (tmp_path / "junk.ics").write_bytes(b"\x89PNG\r\n\x1a\n not a calendar")
    (tmp_path / "good.vcf").write_text(vcard("a", "Ana Ruiz"))
    src = source(tmp_path / "empty", tmp_path / "blank.vcf", tmp_path / "junk.ics", tmp_path / "good.vcf")
    for coll in src.collections():
        src.list(coll)
    texts = [(n.problem, n.text) for n in src.notices()]
    junk = (tmp_path / "junk.ics").resolve()
    assert texts == [
        (True, f"{tmp_path / 'empty'}: no .vcf, .ics or .csv files in it"),
        (True, f"{tmp_path / 'blank.vcf'}: yields no contact or event (its files are empty)"),
        (False, f"{junk}: 1 line not UTF-8, read as Windows-1252"),
        (True, f"{junk}: not empty, but holds no iCalendar event (BEGIN:VEVENT)"),
    ]
