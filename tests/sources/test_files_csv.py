"""Contacts CSVs through the files source: every sample export reads as its README says (issue #15).

The expected readings are the READMEs' hand-worked ones (tests/data/exports/{linkedin,google-csv,
outlook-csv}/README.md), not a run of the parser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from nudge import config
from nudge.core.identity import name_key, normalise_profile
from nudge.core.records import ContactRecord
from nudge.parse import ParseError, parse_object
from nudge.parse.base import Window
from nudge.parse.csv_contacts import parse_row, split_linkedin
from nudge.sources.base import BadItem, Item
from nudge.sources.files import FilesOptions, FilesSource

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
LINKEDIN = EXPORTS / "linkedin" / "Basic_LinkedInDataExport_01-12-2026" / "Connections.csv"
TOP100 = {"Ana", "Ben", "Chloé", "Dev", "Eva", "Farid", "Greta", "Hiro", "Inês", "Jonas", "Kofi", "Paula"}
PARTNERS = {"Omar", "Paula", "Quentin", "Rosa"}


def read(path: Path, **options: object) -> tuple[dict[str, ContactRecord], list[str], list[str]]:
    """(records by name, reasons of the rows skipped, the source's notices) of one file or folder."""
    source = FilesSource("files", FilesOptions(paths=[str(path)], **options))  # type: ignore[arg-type]
    records: dict[str, ContactRecord] = {}
    skipped: list[str] = []
    for coll in source.collections():
        for item in source.fetch(coll, source.list(coll)):
            if isinstance(item, BadItem):
                skipped.append(item.reason)
                continue
            assert isinstance(item, Item)
            try:
                rec = parse_object(item.format, item.data, UTC, datetime.now(UTC), datetime.now(UTC))
            except ParseError as e:
                skipped.append(e.reason)
                continue
            assert isinstance(rec, ContactRecord)
            records.setdefault(rec.name, rec)
    return records, skipped, [n.text for n in source.notices()]


def first_names(records: dict[str, ContactRecord], tier: str) -> set[str]:
    return {r.name.split()[0] for r in records.values() if tier in r.categories}


# --- LinkedIn -------------------------------------------------------------------------------


def test_linkedin_connections_read_past_the_preamble_with_urls_dates_and_the_blank_row_counted() -> None:
    records, skipped, _ = read(LINKEDIN)

    assert len(records) == 22  # 24 rows, one without anything but a date, Sven Berg twice
    assert skipped == ["line 26: no name, e-mail, phone or profile URL"]
    jonas = records["Jonas Weber"]
    assert (jonas.org, jonas.title, jonas.connected_on) == ("Litware", "COO", "2025-02-07")
    assert jonas.profiles == ("https://www.linkedin.com/in/jonas-weber-7e2c1a58",)
    assert jonas.origin == "LinkedIn export of 12 Jan 2026, Connections.csv"
    paula = records["Paula Costa"]  # `"Costa, CFA"`: the credentials are no part of the name
    assert (paula.emails, paula.org) == (("paula.costa@example.com",), "Costa Advisory, Lda.")
    assert records["Hiro Tanaka"].title == "CTO, Co-Founder"
    assert records["美咲 佐藤"].title == "パートナーマネージャー"
    assert records["Jonas Weber"].name_unique and not records["Sven Berg"].name_unique
    assert records["Greta Holm 🌿"].name_unique and name_key("Greta Holm 🌿") == name_key("Greta Holm")


def test_a_linkedin_export_with_crlf_a_bom_and_no_preamble_reads_the_same(tmp_path: Path) -> None:
    text = LINKEDIN.read_text(encoding="utf-8")
    body = text[text.index("First Name,") :].replace("\n", "\r\n")
    path = tmp_path / "Connections.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))

    records, skipped, _ = read(path)

    assert len(records) == 22
    assert skipped == ["line 23: no name, e-mail, phone or profile URL"]
    assert records["Jonas Weber"].origin == "LinkedIn export Connections.csv"


def test_a_row_with_a_field_too_many_is_skipped_with_its_line_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "Connections.csv"
    path.write_text(
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
        'Ana,Ruiz,,ana@example.org,"Ruiz\nConsulting",Founder,26 Apr 2021\n'
        "Ben,Okafor,,,Okafor & Partners,CFO,05 Jun 2023,extra\n"
        "Chloé,Martin,,,Martin Ateliers,Director,not a date\n",
        encoding="utf-8",
    )

    records, skipped, _ = read(path)

    assert skipped == ["line 4: 8 fields, the header has 7"]  # Ana's record took lines 2 and 3
    assert records["Ana Ruiz"].org == "Ruiz Consulting"  # a line break in a one-line field: a space
    assert records["Chloé Martin"].connected_on is None


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (
            "https://www.linkedin.com/in/jonas-weber-7e2c1a58",
            "https://www.linkedin.com/in/jonas-weber-7e2c1a58",
        ),
        (
            "http://de.linkedin.com/in/Jonas-Weber-7e2c1a58/",
            "https://www.linkedin.com/in/jonas-weber-7e2c1a58",
        ),
        (
            "linkedin.com/in/jonas-weber-7e2c1a58?trk=public_profile",
            "https://www.linkedin.com/in/jonas-weber-7e2c1a58",
        ),
        ("https://www.linkedin.com/company/litware", None),
        ("https://example.com/in/jonas", None),
    ],
)
def test_profile_urls_are_one_spelling(raw: str, want: str | None) -> None:
    assert normalise_profile(raw) == want


# --- Google ---------------------------------------------------------------------------------


def test_google_csv_current_reads_labels_multi_values_birthdays_and_profile_urls() -> None:
    records, skipped, notices = read(EXPORTS / "google-csv" / "contacts.csv")

    assert skipped == [] and notices == []
    assert len(records) == 20
    assert first_names(records, "Top 100") == TOP100
    assert first_names(records, "Referral Partner") == PARTNERS
    assert not any("myContacts" in c or "starred" in c for r in records.values() for c in r.categories)
    assert records["Priya Nair"].categories == (
        "Copied from SM-G991B",
    )  # a device label: no tier unless named
    ana = records["Ana Ruiz"]
    assert ana.emails == ("ana.ruiz@example.net", "ana@ruiz.example.org")
    assert ana.profiles == ("https://www.linkedin.com/in/ana-ruiz-7b2a91c4",)
    assert ana.note == "Met at the Lisbon offsite, 2023.\nPrefers calls after 4pm, not Mondays."
    assert records["Ben Okafor"].phones == ("+44 20 7946 0321", "+44 7700 900321")
    assert {n.split()[0]: r.birthday for n, r in records.items() if r.birthday} == {
        "Ana": "1984-02-29",
        "Ben": "1979-11-05",
        "Dev": "1988-08-14",
        "Eva": "1990-06-25",
        "Greta": "--12-24",
        "Jonas": "1975-01-09",
        "Kofi": "--06-18",
        "Paula": "1982-03-03",
    }
    assert records["lea.vogel@example.com"].emails == ("lea.vogel@example.com",)  # no name: named by address


def test_legacy_google_csv_in_utf16_reads_the_same_people_and_tiers() -> None:
    records, skipped, _ = read(EXPORTS / "google-csv" / "google.csv")

    assert skipped == [] and len(records) == 18
    assert first_names(records, "Top 100") == TOP100
    assert first_names(records, "Referral Partner") == PARTNERS
    assert not any(c.startswith("*") for r in records.values() for c in r.categories)
    assert (records["Jonas Weber"].org, records["Jonas Weber"].title) == ("Litware", "COO")


# --- Outlook --------------------------------------------------------------------------------

OUTLOOK_BIRTHDAYS = {
    "Ana": "1984-02-29",
    "Ben": "1979-11-05",
    "Dev": "1988-08-14",
    "Eva": "1990-06-25",
    "Greta": "1980-12-24",
    "Jonas": "1975-01-09",
    "Kofi": "1980-06-18",
    "Paula": "1982-03-03",
}


@pytest.mark.parametrize(
    ("name", "people", "tiers"),
    [
        ("outlook-en-utf16.csv", 19, True),
        ("outlook-en-cp1252.csv", 19, True),
        ("outlook-de-cp1252.csv", 19, True),
        ("outlook-com.csv", 18, False),
    ],
)
def test_outlook_csvs_in_every_encoding_and_language(name: str, people: int, tiers: bool) -> None:
    records, skipped, _ = read(EXPORTS / "outlook-csv" / name)

    assert skipped == [] and len(records) == people
    assert first_names(records, "Top 100") == (TOP100 if tiers else set())
    assert first_names(records, "Referral Partner") == (PARTNERS if tiers else set())
    assert {n.split()[0]: r.birthday for n, r in records.items() if r.birthday} == OUTLOOK_BIRTHDAYS
    ana = records["Ana Ruiz"]
    assert ana.emails == ("ana.ruiz@example.net", "ana@ruiz.example.org")  # never the display name
    assert (ana.org, ana.title) == ("Ruiz Consulting", "Founder")
    assert len(records["Ben Okafor"].phones) == 2
    assert ana.note == "Met at the Lisbon offsite, 2023.\nPrefers calls after 4pm, not Mondays."


def test_only_the_utf16_outlook_file_keeps_malgorzatas_name() -> None:
    assert "Małgorzata Wiśniewska" in read(EXPORTS / "outlook-csv" / "outlook-en-utf16.csv")[0]
    assert "Ma?gorzata Wi?niewska" in read(EXPORTS / "outlook-csv" / "outlook-en-cp1252.csv")[0]


def test_googles_outlook_csv_drops_its_system_categories() -> None:
    records, _, _ = read(EXPORTS / "outlook-csv" / "google-outlook-format.csv")

    assert len(records) == 18
    assert first_names(records, "Top 100") == TOP100
    assert not any(c.casefold() in {"mycontacts", "starred"} for r in records.values() for c in r.categories)


def test_an_excel_resave_with_semicolons_is_read_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "kontakte.csv"
    path.write_bytes(
        "Vorname;Nachname;E-Mail-Adresse;Firma;Position;Geburtstag;Kategorien\r\n"
        "Jonas;Weber;jonas.weber@example.com;Litware;COO;09.01.1975;Top 100\r\n"
        "Eva;Novák;eva.novak@example.net;Fabrikam;Head of Partnerships;0.0.00;\r\n".encode("cp1252")
    )

    records, skipped, _ = read(path)

    assert skipped == []
    assert records["Jonas Weber"].birthday == "1975-01-09"
    assert records["Eva Novák"].birthday is None


# --- files the dialects do not know, and `format` --------------------------------------------


def test_a_csv_no_dialect_knows_is_named_with_its_header_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("Nom,Prénom,Courriel\nRuiz,Ana,ana@example.org\n", encoding="utf-8")
    (tmp_path / "contacts.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ana Ruiz\r\nEND:VCARD\r\n", encoding="utf-8"
    )

    records, _, notices = read(tmp_path)

    assert list(records) == ["Ana Ruiz"]
    [notice] = [n for n in notices if "people.csv" in n]
    assert "not a file nudge can read" in notice
    assert "LinkedIn connections CSV or Google Contacts CSV or Outlook contacts CSV" in notice
    assert "header: Nom, Prénom, Courriel" in notice
    assert 'set format = "linkedin" | "google" | "outlook"' in notice


def test_format_reads_only_that_dialect(tmp_path: Path) -> None:
    records, _, notices = read(LINKEDIN, format="linkedin")
    assert len(records) == 22 and notices == []

    records, _, notices = read(EXPORTS / "google-csv" / "contacts.csv", format="linkedin")
    assert records == {}
    assert any("contacts.csv" in n and "LinkedIn connections CSV; header: First Name" in n for n in notices)


def test_an_unknown_format_is_a_clear_config_error() -> None:
    with pytest.raises(ValidationError, match="'linkedin', 'google' or 'outlook'"):
        FilesOptions(paths=[str(LINKEDIN)], format="xing")  # type: ignore[arg-type]
    with pytest.raises(config.ConfigError) as caught:
        config.validate({"sources": [{"type": "files", "paths": [str(LINKEDIN)], "format": "xing"}]})
    assert caught.value.problems == ["sources[0].format: Input should be 'linkedin', 'google' or 'outlook'"]


# --- whatever the rows hold ------------------------------------------------------------------

HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), max_size=12))
def test_any_rows_after_a_known_header_are_records_or_counted_skips(rows: list[str]) -> None:
    """Stray quotes, NULs, line breaks, too many or too few fields: never an exception but ParseError."""
    text = HEADER + "\n".join(rows)
    window = Window(UTC, datetime.now(UTC), datetime.now(UTC))
    for key, data in split_linkedin(text, "Connections.csv"):
        assert key
        try:
            rec = parse_row(data, window)
        except ParseError as e:
            assert e.reason.startswith("line ")
        else:
            assert rec.name and rec.uid.startswith("linkedin:")
