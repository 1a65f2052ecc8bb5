"""Real-world inputs through the files source into SQLite: exports without UID, vdir trees,
phones outside the region, encodings, broken zones, runaway series, and what the summary says."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import doctor, service, sync
from nudge.actions import find, log_touch
from nudge.config import Settings
from nudge.reports.contacts import detail
from nudge.store.db import atomic
from nudge.store.models import Contact, Identity, SourceRecord, Touch
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW


def files_settings(make_settings: Callable[..., Settings], *paths: Path, **me: object) -> Settings:
    return make_settings(
        sources=[{"type": "files", "name": "files", "paths": [str(p) for p in paths]}],
        **({"me": {"emails": [ME], **me}} if me else {}),
    )


def sync_once(engine: Engine, settings: Settings, now: datetime = NOW) -> sync.Report:
    [report] = service.sync_all(engine, settings, now)
    assert report.ok, report.line()
    return report


def people(engine: Engine) -> dict[str, tuple[bool, list[str]]]:
    """name -> (archived, identities) for every contact."""
    with Session(engine) as s:
        out = {}
        for c in s.exec(select(Contact)):
            ids = s.exec(
                select(Identity.value).where(Identity.contact_id == c.id).order_by(col(Identity.value))
            )
            out[c.name] = (c.archived_at is not None, list(ids))
        return out


def google_card(name: str, *lines: str) -> str:
    """A Google Contacts export card: vCard 3.0, no UID, `item1.` groups with X-ABLabel."""
    given, family = name.split(" ", 1)
    body = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}", f"N:{family};{given};;;", *lines, "END:VCARD"]
    return "\r\n".join(body) + "\r\n"


ANA = google_card(
    "Ana Ruiz",
    "item1.EMAIL;TYPE=INTERNET:ana@example.com",
    "item1.X-ABLabel:Home",
    "EMAIL;TYPE=INTERNET;TYPE=WORK:a.ruiz@work.example",
    "TEL;TYPE=CELL:+49 30 1234567",
    "CATEGORIES:myContacts,Top 100",
)
BEN = google_card("Ben Ott", "EMAIL;TYPE=INTERNET:ben@example.com", "CATEGORIES:myContacts")
CEM = google_card("Cem Kaya", "TEL;TYPE=CELL:+49 170 1234567")
DANA = google_card("Dana Weiss", "NOTE:met at the fair")


def test_a_re_export_without_uids_changes_nothing_but_the_changed_emails(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    """Reordered, Ana's first e-mail changed, Ben's only e-mail changed: no duplicate, no archive."""
    export = tmp_path / "contacts.vcf"
    export.write_text(ANA + BEN + CEM + DANA)
    settings = files_settings(make_settings, export)
    first = sync_once(engine, settings)
    assert (first.contacts, first.merged, first.skipped) == (4, 0, [])
    with atomic(engine) as s:
        log_touch(s, settings, find(s, "Ben Ott"), NOW, "call", "asked about the new job")
    before = people(engine)

    ana = ANA.replace("ana@example.com", "ana.ruiz@example.com")
    ben = BEN.replace("ben@example.com", "ben.ott@example.com")
    export.write_text(DANA + ben + CEM + ana)
    again = sync_once(engine, settings, NOW + timedelta(days=1))
    assert (again.contacts, again.merged, again.changed, again.archived) == (0, 0, 2, 0)
    after = people(engine)
    assert set(after) == set(before) and not any(archived for archived, _ in after.values())
    assert after["Ana Ruiz"][1] == sorted([*before["Ana Ruiz"][1], "ana.ruiz@example.com"])
    assert after["Ben Ott"][1] == sorted([*before["Ben Ott"][1], "ben.ott@example.com"])
    assert after["Cem Kaya"] == before["Cem Kaya"] and after["Dana Weiss"] == before["Dana Weiss"]
    with Session(engine) as s:
        ben_id = find(s, "Ben Ott").id
        assert [t.note for t in s.exec(select(Touch).where(Touch.contact_id == ben_id))] == [
            "asked about the new job"
        ]
        assert len(s.exec(select(SourceRecord).where(SourceRecord.kind == "contact")).all()) == 4

    third = sync_once(engine, settings, NOW + timedelta(days=2))
    assert (third.added, third.changed, third.archived) == (0, 0, 0)
    assert people(engine) == after


def test_an_apple_export_keys_cards_by_x_abuid_and_its_group_gives_the_tier(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    abuid = "5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE"
    person = google_card(
        "Ana Ruiz", "EMAIL;type=INTERNET;type=pref:ana@example.com", f"X-ABUID:{abuid}\\:ABPerson"
    )
    group = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Top 100;;;;\r\nFN:Top 100\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n"
        f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{abuid.lower()}\r\nX-ABUID:0C1A2B3C-0001:ABGroup\r\nEND:VCARD\r\n"
    )
    export = tmp_path / "Apple Contacts.vcf"
    export.write_text(person + group)
    report = sync_once(engine, files_settings(make_settings, export))
    assert (report.contacts, report.skipped) == (1, [])
    with Session(engine) as s:
        assert find(s, "Ana Ruiz").tier == "top100"


def test_a_card_removed_from_a_uid_less_export_is_still_archived(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    export = tmp_path / "contacts.vcf"
    export.write_text(ANA + BEN)
    settings = files_settings(make_settings, export)
    sync_once(engine, settings)
    export.write_text(ANA)
    report = sync_once(engine, settings, NOW + timedelta(days=1))
    assert (report.added, report.changed, report.archived) == (0, 0, 1)
    assert people(engine)["Ben Ott"][0] is True


def test_the_summary_counts_contacts_merged_cards_and_events_apart(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    book = tmp_path / "contacts.vcf"
    book.write_text(ANA + ANA + BEN)  # an exact duplicate: one contact, one merged card
    calendar = tmp_path / "calendar.ics"
    calendar.write_text(
        vcalendar(
            vevent("e1", NOW - timedelta(days=3), ("ana@example.com",)),
            vevent("e2", NOW - timedelta(days=9), ("ben@example.com",)),
        )
    )
    report = sync_once(engine, files_settings(make_settings, book, calendar))
    assert (report.contacts, report.merged, report.events, report.added) == (2, 1, 2, 5)
    assert report.line().startswith(
        "files: 5 added (2 new contacts, 1 card merged into a contact, 2 events), 0 changed, "
        "0 archived, 0 events removed, 0 skipped, took "
    )
    with Session(engine) as s:
        assert len(s.exec(select(Contact)).all()) == 2


def test_a_vdir_tree_imports_its_contacts_and_events(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    for folder in ("contacts/default", "calendars/work", "contacts/.git"):
        (tmp_path / folder).mkdir(parents=True)
    for uid, name, email in (("a1", "Ana Ruiz", "ana@example.com"), ("b2", "Ben Ott", "ben@example.com")):
        (tmp_path / "contacts" / "default" / f"{uid}.vcf").write_text(vcard(uid, name, emails=(email,)))
    (tmp_path / "calendars" / "work" / "e1.ics").write_text(
        vcalendar(vevent("e1", NOW - timedelta(days=10), ("ana@example.com",), "Coffee"))
    )
    report = sync_once(engine, files_settings(make_settings, tmp_path))
    assert (report.contacts, report.events, report.skipped, report.notices) == (2, 1, [], [])
    with Session(engine) as s:
        ana = find(s, "Ana Ruiz")
        assert ana.last_touch_at == NOW - timedelta(days=10)
    (tmp_path / "contacts" / "default" / "b2.vcf").unlink()
    again = sync_once(engine, files_settings(make_settings, tmp_path), NOW + timedelta(hours=1))
    assert (again.added, again.archived) == (0, 1)


# --- phones ----------------------------------------------------------------------------------------


def test_without_a_region_phones_are_read_in_the_time_zones_country_and_the_rest_kept(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    book = tmp_path / "contacts.vcf"
    book.write_text(
        vcard("a", "Ana Ruiz", phones=("030 1234567", "ask reception"))
        + vcard("b", "Ben Ott", phones=("+1 202 555 0143",))
    )
    settings = files_settings(make_settings, book, emails=[ME])  # no me.region; time zone Europe/Berlin
    assert settings.me.region == ""
    report = sync_once(engine, settings)
    assert report.phones_unparsed == 1
    assert ", 1 phone number kept unparsed, took " in report.line()
    with Session(engine) as s:
        ana = detail(s, settings, find(s, "Ana Ruiz"), NOW)
        ben = detail(s, settings, find(s, "Ben Ott"), NOW)
    assert ana.phones == ["+49301234567", "ask reception"]  # shown as typed
    assert ben.phones == ["+12025550143"]
    checks = {c.name: c for c in doctor.run_checks(str(write_config(tmp_path, settings)), NOW)}
    assert checks["phones"].detail.startswith("1 phone numbers kept unparsed (as typed; phone region DE)")


def write_config(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "config.toml"
    paths = ", ".join(f'"{p}"' for p in settings.sources[0].options["paths"])
    path.write_text(
        f'timezone = "{settings.timezone}"\ndatabase_url = "{settings.database}"\n'
        f'maildir = "{settings.maildir_path}"\n[me]\nemails = ["{ME}"]\n'
        f'[[sources]]\ntype = "files"\nname = "files"\npaths = [{paths}]\n'
    )
    return path


# --- what yields nothing ------------------------------------------------------------------------------


def test_a_path_that_yields_nothing_is_a_warning_in_the_summary_and_in_doctor(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "contacts.csv").write_text("name,email\nAna,ana@example.com\n")
    utf16 = tmp_path / "outlook.vcf"
    utf16.write_bytes(codecs.BOM_UTF16_LE + vcard("a", "Ana Ruiz").encode("utf-16-le"))
    settings = files_settings(make_settings, tmp_path / "exports", utf16)
    report = sync_once(engine, settings)
    assert report.contacts == 1  # the UTF-16 export imports
    assert report.line().endswith(f"; warning: {tmp_path / 'exports'}: no .vcf, .ics or .csv files in it")
    checks = {c.name: c for c in doctor.run_checks(str(write_config(tmp_path, settings)), NOW)}
    assert not checks["source files"].ok
    assert f"{tmp_path / 'exports'}: no .vcf, .ics or .csv files in it" in checks["source files"].detail


# --- events ------------------------------------------------------------------------------------------------


def test_a_broken_vtimezone_skips_only_the_events_in_that_zone(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    good = (
        "BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    broken = good.replace("Office Time", "Broken Time").replace("19700101T000000", "garbage")
    day = NOW - timedelta(days=5)
    events = [
        vevent(uid, day, ("ana@example.com",)).replace(
            f"DTSTART:{day:%Y%m%dT%H%M%SZ}", f"DTSTART;TZID={zone}:{day:%Y%m%dT%H%M%S}"
        )
        for uid, zone in (("in-office", "Office Time"), ("in-broken", "Broken Time"))
    ]
    calendar = tmp_path / "calendar.ics"
    calendar.write_text(vcalendar(good, broken, *events, vevent("plain", day, ("ana@example.com",))))
    book = tmp_path / "contacts.vcf"
    book.write_text(vcard("a", "Ana Ruiz", emails=("ana@example.com",)))
    report = sync_once(engine, files_settings(make_settings, book, calendar))
    assert report.events == 2
    assert [(s.uid, s.reason.split(":")[0]) for s in report.skipped] == [
        ("in-broken", "unreadable iCalendar")
    ]


def test_control_characters_in_a_name_never_reach_the_store(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    book = tmp_path / "contacts.vcf"
    book.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ana\\nRuiz\x1b\r\nEMAIL:ana@example.com\r\nEND:VCARD\r\n"
    )
    sync_once(engine, files_settings(make_settings, book))
    with Session(engine) as s:
        assert [c.name for c in s.exec(select(Contact))] == ["Ana Ruiz"]


CONFIG = """timezone = "Europe/Berlin"
database_url = "sqlite:///{db}"
maildir = "{maildir}"
[me]
emails = ["{me}"]
region = "DE"
[[sources]]
type = "files"
name = "files"
paths = ["{book}", "{calendar}"]
"""


@pytest.mark.slow
def test_runaway_series_are_skipped_and_the_rest_syncs_from_the_command_line(tmp_path: Path) -> None:
    """Run as a user would, in a child process: on the code before the bound this never ended."""
    now = datetime.now().astimezone()
    series = [
        ("tick", datetime(2020, 1, 1, 9), "FREQ=SECONDLY"),
        ("minutes", datetime(2000, 1, 1, 9), "FREQ=MINUTELY"),
        ("standup", datetime(1900, 1, 1, 9), "FREQ=DAILY"),
        ("never", datetime(2024, 1, 1, 9), "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"),
        ("loop", datetime(2024, 1, 1, 9), "FREQ=DAILY;INTERVAL=0"),
    ]
    events = [
        vevent(uid, start.astimezone(), ("ana@example.com",), extra=(f"RRULE:{rule}",))
        for uid, start, rule in series
    ]
    calendar = tmp_path / "calendar.ics"
    calendar.write_text(vcalendar(*events, vevent("coffee", now - timedelta(days=3), ("ana@example.com",))))
    book = tmp_path / "contacts.vcf"
    ana = vcard("a", "Ana Ruiz", emails=("ana@example.com",))
    book.write_text(ana.replace("END:VCARD", "this line is broken\r\nEND:VCARD"))
    config = tmp_path / "config.toml"
    config.write_text(
        CONFIG.format(
            db=tmp_path / "nudge.db", maildir=tmp_path / "Maildir", me=ME, book=book, calendar=calendar
        )
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nudge", "--config", str(config), "sync"],
            capture_output=True,
            check=False,
            text=True,
            timeout=300,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("nudge sync did not finish in 300 s")
    assert done.returncode == 0, done.stderr
    assert "files: 4 added (1 new contact, 3 events)" in done.stdout
    out = done.stdout + done.stderr
    for line in (  # each once: `nudge sync` lists them under its source, and the log does not repeat them
        "(UID tick): too many occurrences: RRULE:FREQ=SECONDLY from 2020-01-01",
        "(UID minutes): too many occurrences: RRULE:FREQ=MINUTELY from 2000-01-01",
        "(UID loop): bad RRULE: INTERVAL=0",
    ):
        assert out.count(line) == 1, out
    assert "Skipped line" not in out  # vobject's own log line, beside nudge's
