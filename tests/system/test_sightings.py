"""People met often who are in no address book: `top100 suggest` names them with the evidence,
and `nudge add` makes one a contact whose meetings become touches; end to end on a store on disk.

Sam's Google address book and calendar (tests/data/exports/google/), plus a second calendar
exported from Google Calendar the same way: a monthly mentoring call with Lena, who is in no
address book, and one meeting with a recruiter, met once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine

from tests.system.test_backup import EXPORTS, NOW, ok, write_config

LENA = "lena.fischer@northwind.example.org"

MENTORING = """BEGIN:VCALENDAR\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
VERSION:2.0\r
CALSCALE:GREGORIAN\r
METHOD:PUBLISH\r
X-WR-CALNAME:Mentoring\r
X-WR-TIMEZONE:Europe/Berlin\r
BEGIN:VEVENT\r
DTSTART;TZID=Europe/Berlin:20260203T170000\r
DTEND;TZID=Europe/Berlin:20260203T174500\r
RRULE:FREQ=MONTHLY;COUNT=5\r
DTSTAMP:20260615T201500Z\r
ORGANIZER;CN=sam.lindqvist@example.com:mailto:sam.lindqvist@example.com\r
UID:5q1b7k2m9d3c8e0f4a6g1h2j3k@google.com\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\r
 ;CN=sam.lindqvist@example.com;X-NUM-GUESTS=0:mailto:sam.lindqvist@example.\r
 com\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\r
 ;CN=Lena Fischer;X-NUM-GUESTS=0:mailto:lena.fischer@northwind.example.org\r
CREATED:20260120T090000Z\r
DESCRIPTION:\r
LAST-MODIFIED:20260120T090000Z\r
LOCATION:https://meet.google.com/abc-defg-hij\r
SEQUENCE:0\r
STATUS:CONFIRMED\r
SUMMARY:Mentoring: Lena / Sam\r
TRANSP:OPAQUE\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20260512T090000Z\r
DTEND:20260512T093000Z\r
DTSTAMP:20260615T201500Z\r
ORGANIZER;CN=Tariq Aziz:mailto:tariq.aziz@talent.example.net\r
UID:0c7d2e9f4b1a6c3e8d5f2a7b9c@google.com\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\r
 ;CN=Tariq Aziz;X-NUM-GUESTS=0:mailto:tariq.aziz@talent.example.net\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\r
 ;CN=sam.lindqvist@example.com;X-NUM-GUESTS=0:mailto:sam.lindqvist@example.\r
 com\r
SEQUENCE:0\r
STATUS:CONFIRMED\r
SUMMARY:Intro call\r
TRANSP:OPAQUE\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Iterator[Path]:
    for name in ("contacts.vcf", "calendar.ics"):
        shutil.copy(EXPORTS / "google" / name, tmp_path / name)
    (tmp_path / "mentoring.ics").write_text(MENTORING, newline="")
    files = [tmp_path / n for n in ("contacts.vcf", "calendar.ics", "mentoring.ics")]
    with time_machine.travel(NOW, tick=False):
        path = write_config(tmp_path, "nudge.db", files)
        ok("sync", config=path)
        yield path


def suggest(cfg: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok("top100", "suggest", "--json", config=cfg))
    return rows


def test_suggest_names_people_met_often_who_are_in_no_address_book(cfg: Path) -> None:
    rows = suggest(cfg)
    lena = [r for r in rows if r.get("email") == LENA]
    assert len(lena) == 1
    assert lena[0]["id"] is None and lena[0]["name"] == LENA
    assert lena[0]["reasons"] == "met 5 times since Feb 2026, last 03 Jun 2026; in no address book"
    assert lena[0]["add"] == f"nudge add {LENA}"
    assert not any("tariq" in json.dumps(r) for r in rows)  # met once: a passer-by
    ranks = {r["name"]: r["rank"] for r in rows}
    assert ranks[LENA] < ranks["Ben Okafor"]  # five meetings over five months beat one


def test_add_makes_her_a_contact_with_her_meetings(cfg: Path) -> None:
    out = ok("add", LENA, "--name", "Lena Fischer", "--tier", "top100", config=cfg)
    assert out.startswith("Added Lena Fischer (#") and "to top100, with 5 touches" in out
    lena = json.loads(ok("show", "lena", "--json", config=cfg))
    assert lena["emails"] == [LENA] and lena["tier"] == "top100"
    assert [t["at"][:10] for t in lena["touches"]] == [
        "2026-06-03",
        "2026-05-03",
        "2026-04-03",
        "2026-03-03",
        "2026-02-03",
    ]
    assert {t["summary"] for t in lena["touches"]} == {"Mentoring: Lena / Sam"}
    assert not any(r.get("email") == LENA for r in suggest(cfg))
    (cfg.parent / "mentoring.ics").write_text(MENTORING.replace("SEQUENCE:0", "SEQUENCE:1"), newline="")
    ok("sync", config=cfg)  # the calendar read again: her meetings stay hers, once each
    again = json.loads(ok("show", "lena", "--json", config=cfg))
    assert [t["at"] for t in again["touches"]] == [t["at"] for t in lena["touches"]]


def test_undo_of_add_gives_the_meetings_back_to_the_suggestions(cfg: Path) -> None:
    before = suggest(cfg)
    ok("add", LENA, config=cfg)
    assert ok("undo", config=cfg).startswith(f"Undid: added {LENA} ({LENA})")
    assert suggest(cfg) == before
    names = [c["name"] for c in json.loads(ok("contacts", "--json", config=cfg))]
    assert LENA not in names


def test_add_refuses_an_address_that_is_a_contacts(cfg: Path) -> None:
    from tests.system.test_cli import nudge

    code, out = nudge("add", "ana.ruiz@example.net", config=cfg)
    assert code == 1 and "is already a contact's" in out


def test_accept_leaves_people_in_no_address_book_to_nudge_add(cfg: Path) -> None:
    out = ok("top100", "accept", "--top", "100", config=cfg)
    assert f"In no address book yet (`nudge add EMAIL --tier top100`): {LENA}" in out
    names = [c["name"] for c in json.loads(ok("contacts", "--json", config=cfg))]
    assert LENA not in names
