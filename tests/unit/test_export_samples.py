"""The CSV and phone-backup samples keep the exporters' habits their READMEs promise.

The samples under tests/data/exports/{linkedin,google-csv,outlook-csv,android} are the spec for the
CSV and phone-backup parsers (issues #15 and #16); their READMEs list what a parser must cope with.
These tests read them with the standard library only, so an editor that strips a BOM, a checkout
that rewrites line endings or a careless regeneration shows up here, not as a puzzling parser bug.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
LINKEDIN_A = EXPORTS / "linkedin" / "Basic_LinkedInDataExport_01-12-2026" / "Connections.csv"
LINKEDIN_B = EXPORTS / "linkedin" / "Basic_LinkedInDataExport_06-14-2026" / "Connections.csv"
BACKUPS = EXPORTS / "android" / "SMSBackupRestore"
LINKEDIN_HEADER = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"]


def linkedin_rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0] == "Notes:\n", "the export opens with LinkedIn's notes, not the header"
    start = next(i for i, line in enumerate(lines) if line.startswith("First Name,"))
    assert start == 3, "two preamble lines and a blank one precede the header"
    return list(csv.DictReader(io.StringIO("".join(lines[start:]))))


def by_url(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["URL"]: r for r in rows if r["URL"]}


def test_linkedin_re_export_differs_by_one_company_one_position_one_removal_and_two_additions() -> None:
    a, b = by_url(linkedin_rows(LINKEDIN_A)), by_url(linkedin_rows(LINKEDIN_B))
    removed = {a[u]["First Name"] + " " + a[u]["Last Name"] for u in a.keys() - b.keys()}
    added = {b[u]["First Name"] + " " + b[u]["Last Name"] for u in b.keys() - a.keys()}
    companies = {
        (a[u]["First Name"], a[u]["Company"], b[u]["Company"])
        for u in a.keys() & b.keys()
        if a[u]["Company"] != b[u]["Company"]
    }
    positions = {
        (a[u]["First Name"], a[u]["Position"], b[u]["Position"])
        for u in a.keys() & b.keys()
        if a[u]["Position"] != b[u]["Position"]
    }
    assert removed == {"Yusuf Demir"}
    assert added == {"Sofía Castro", "Uma Rao"}
    assert companies == {("Jonas", "Litware", "Fourth Coffee")}
    assert positions == {("Eva", "Head of Partnerships", "VP Partnerships")}
    assert all(a[u] == b[u] for u in a.keys() & b.keys() if a[u]["First Name"] not in ("Jonas", "Eva"))


def test_linkedin_rows_carry_the_habits_the_readme_lists() -> None:
    rows = linkedin_rows(LINKEDIN_A)
    assert list(rows[0]) == LINKEDIN_HEADER
    assert sum(1 for r in rows if r["Email Address"]) == 5, "e-mail is mostly empty"
    assert all(re.fullmatch(r"\d\d [A-Z][a-z]{2} \d{4}", r["Connected On"]) for r in rows)
    assert [r for r in rows if not r["First Name"]] == [
        dict.fromkeys(LINKEDIN_HEADER, "") | {"Connected On": "05 Feb 2018"}
    ]
    assert sum(1 for r in rows if (r["First Name"], r["Last Name"]) == ("Sven", "Berg")) == 2, (
        "a name shared by two people"
    )
    assert {"Costa, CFA", "Holm 🌿", "佐藤"} <= {r["Last Name"] for r in rows}
    assert '"Costa, CFA"' in LINKEDIN_A.read_text(encoding="utf-8"), "a comma inside a field is quoted"


@pytest.mark.parametrize(
    ("name", "encoding", "starts", "eol", "first_column"),
    [
        ("google-csv/contacts.csv", "utf-8-sig", b"\xef\xbb\xbf", b"\n", "First Name"),
        ("google-csv/google.csv", "utf-16", b"\xff\xfe", b"\r\x00\n\x00", "Name"),
        ("outlook-csv/outlook-en-utf16.csv", "utf-16", b"\xff\xfe", b"\r\x00\n\x00", "Title"),
        ("outlook-csv/outlook-en-cp1252.csv", "cp1252", b'"Title"', b"\r\n", "Title"),
        ("outlook-csv/outlook-de-cp1252.csv", "cp1252", b'"Anrede"', b"\r\n", "Anrede"),
        ("outlook-csv/outlook-com.csv", "utf-8", b"First Name,", b"\r\n", "First Name"),
        ("outlook-csv/google-outlook-format.csv", "utf-8", b"First Name,", b"\n", "First Name"),
    ],
)
def test_contact_csv_bytes_are_as_the_exporter_writes_them(
    name: str, encoding: str, starts: bytes, eol: bytes, first_column: str
) -> None:
    raw = (EXPORTS / name).read_bytes()
    assert raw.startswith(starts)
    assert eol in raw
    rows = list(csv.reader(io.StringIO(raw.decode(encoding), newline="")))
    assert rows[0][0] == first_column
    assert len({len(r) for r in rows}) == 1, "every row has the header's width"


def test_cp1252_outlook_exports_are_not_utf8_and_lost_what_cp1252_cannot_hold() -> None:
    raw = (EXPORTS / "outlook-csv" / "outlook-en-cp1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert '"Chloé"' in text
    assert '"Ma?gorzata","","Wi?niewska"' in text
    utf16 = (EXPORTS / "outlook-csv" / "outlook-en-utf16.csv").read_bytes().decode("utf-16")
    assert '"Małgorzata","","Wiśniewska"' in utf16


def test_google_csv_holds_multi_values_labels_and_quoted_newlines() -> None:
    rows = list(
        csv.DictReader(io.StringIO((EXPORTS / "google-csv" / "contacts.csv").read_text(encoding="utf-8-sig")))
    )
    people = {(r["First Name"], r["Last Name"]): r for r in rows}
    assert (
        people[("Ana", "Ruiz")]["Notes"]
        == "Met at the Lisbon offsite, 2023.\nPrefers calls after 4pm, not Mondays."
    )
    assert (
        people[("Paula", "Costa")]["Labels"] == "Top 100 ::: Referral Partner ::: * myContacts ::: * starred"
    )
    assert people[("Ben", "Okafor")]["Phone 1 - Value"] == "+44 20 7946 0321 ::: +44 7700 900321"
    assert people[("Kofi", "Mensah")]["Birthday"] == "--06-18"
    assert people[("", "")]["E-mail 1 - Value"] == "lea.vogel@example.com"


def calls(path: Path) -> set[tuple[str, str, str, str]]:
    root = ET.parse(path).getroot()
    assert root.tag == "calls"
    assert int(root.get("count", "-1")) == len(root)
    return {(c.get("date", ""), c.get("number", ""), c.get("type", ""), c.get("duration", "")) for c in root}


def test_the_second_phone_backup_repeats_the_first_and_adds_ten_calls_and_four_messages() -> None:
    first, second = calls(BACKUPS / "calls-20260601080012.xml"), calls(BACKUPS / "calls-20260615080009.xml")
    assert first < second
    assert len(second - first) == 10
    sms_first = ET.parse(BACKUPS / "sms-20260601080012.xml").getroot()
    sms_second = ET.parse(BACKUPS / "sms-20260615080009.xml").getroot()
    dates = [{m.get("date") for m in root} for root in (sms_first, sms_second)]
    assert dates[0] < dates[1]
    assert len(dates[1] - dates[0]) == 4
    group = next(m for m in sms_first if m.tag == "mms")
    assert group.get("address") == "+493023125405~+496990009106"
    assert [(a.get("address"), a.get("type")) for a in group.iter("addr")] == [
        ("+493023125405", "137"),
        ("+493023125400", "151"),
        ("+496990009106", "151"),
    ]


def test_the_odd_phone_backups_break_a_strict_xml_parser() -> None:
    with pytest.raises(ET.ParseError, match="unclosed token"):
        ET.parse(EXPORTS / "android" / "odd" / "calls-20260616073004.xml")
    with pytest.raises(ET.ParseError, match="reference to invalid character number"):
        ET.parse(EXPORTS / "android" / "odd" / "sms-20260616073004.xml")
    truncated = (EXPORTS / "android" / "odd" / "calls-20260616073004.xml").read_text(encoding="utf-8")
    assert truncated.count(" />\n") == 21, "21 whole records before the cut"
    assert 'count="23"' in truncated


def test_call_log_csvs_keep_their_malformed_rows() -> None:
    plain = list(
        csv.reader(
            io.StringIO((EXPORTS / "android" / "calllog-csv" / "calls.csv").read_text(encoding="utf-8"))
        )
    )
    assert plain[0] == ["number", "date", "direction", "duration"]
    assert [len(r) for r in plain[1:]].count(4) == 13
    assert [] in plain and ["+493023125401", "2026-06-15T18:00:02+02:00", "incoming"] in plain
    excel = (EXPORTS / "android" / "calllog-csv" / "calls-excel-de.csv").read_bytes().decode("cp1252")
    assert excel.startswith("number;date;direction;duration\r\n")
    assert "4,93023E+11;10.06.2026 08:45;missed;0" in excel
