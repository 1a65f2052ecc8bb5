"""Parsing what real servers and exports hand over: vCard 2.1, group cards, Outlook zones."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudge.core.records import GroupRecord
from nudge.parse import ParseError
from nudge.parse.ical import parse_ical
from nudge.parse.text import DERIVED, unfold_quoted_printable
from nudge.parse.vcard import member_key, parse_vcard

W_START = datetime(2026, 1, 1, tzinfo=UTC)
W_END = datetime(2026, 3, 1, tzinfo=UTC)


def card21(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VCARD", "VERSION:2.1", *lines, "END:VCARD"]) + "\r\n"


def test_vcard_21_quoted_printable_with_charsets() -> None:
    rec = parse_vcard(
        card21(
            "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;",
            "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller",
            "ORG;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Caf=E9 GmbH",
            "EMAIL;INTERNET;PREF:j@example.de",
            "TEL;CELL;VOICE:+49 170 1234567",
            "UID:qp1",
        )
    )
    assert (rec.name, rec.org, rec.emails, rec.phones) == (
        "Jürgen Müller",
        "Café GmbH",
        ("j@example.de",),
        ("+49 170 1234567",),
    )


def test_vcard_21_soft_line_breaks_are_joined() -> None:
    rec = parse_vcard(
        card21("FN:Ana Ruiz", "UID:a", "NOTE;ENCODING=QUOTED-PRINTABLE:met at the =", "conference in Lisbon")
    )
    assert rec.note == "met at the conference in Lisbon"


def test_an_equals_sign_at_the_end_of_a_plain_line_is_kept() -> None:
    assert unfold_quoted_printable("TITLE:x=\r\nFN:y\r\n") == "TITLE:x=\r\nFN:y\r\n"
    rec = parse_vcard(card21("FN:Ana", "UID:a", "TITLE:a=b=", "NOTE;QUOTED-PRINTABLE:x"))
    assert rec.title == "a=b="


@pytest.mark.parametrize(
    "lines",
    [
        ("VERSION:4.0", "KIND:group", "FN:Top 100", "MEMBER:urn:uuid:A1", "MEMBER:urn:uuid:b2"),
        (
            "VERSION:3.0",
            "X-ADDRESSBOOKSERVER-KIND:group",
            "FN:Top 100",
            "N:Top 100;;;;",
            "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a1",
            "item1.X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:B2",
            "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a1",
        ),
    ],
)
def test_group_cards_are_groups_with_their_members(lines: tuple[str, ...]) -> None:
    text = "\r\n".join(["BEGIN:VCARD", *lines, "UID:g1", "END:VCARD"]) + "\r\n"
    assert parse_vcard(text) == GroupRecord(uid="g1", name="Top 100", members=("a1", "b2"))


def test_a_group_without_members_or_uid() -> None:
    empty = "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Family\r\nUID:g\r\nEND:VCARD\r\n"
    assert parse_vcard(empty) == GroupRecord(uid="g", name="Family")
    keyed = parse_vcard(empty.replace("UID:g\r\n", ""))
    assert keyed.name == "Family" and keyed.uid.startswith(DERIVED)  # keyed by its name
    with pytest.raises(ParseError, match="group card without UID or name"):
        parse_vcard(empty.replace("UID:g\r\n", "").replace("FN:Family\r\n", ""))


@pytest.mark.parametrize("uid", ["urn:uuid:ABC-1", "abc-1", "ABC-1", " urn:UUID:abc-1 "])
def test_member_keys_match_however_the_uid_is_spelt(uid: str) -> None:
    assert member_key(uid) == "abc-1"


def test_organisation_and_location_cards_are_not_people() -> None:
    for kind in ("org", "location"):
        text = f"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:{kind}\r\nFN:Acme Inc.\r\nUID:o1\r\nEND:VCARD\r\n"
        with pytest.raises(ParseError, match="not a person") as e:
            parse_vcard(text)
        assert e.value.uid == "o1"


def test_kind_individual_is_a_person() -> None:
    text = "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:individual\r\nFN:Ana Ruiz\r\nUID:a\r\nEND:VCARD\r\n"
    assert parse_vcard(text).name == "Ana Ruiz"


@pytest.mark.parametrize(
    ("tzid", "utc_hour"),
    [
        ("W. Europe Standard Time", 9),  # Outlook's name for Europe/Berlin (CET in January)
        ("Pacific Standard Time", 18),
        ("Europe/Berlin", 9),
        ("Tokyo Standard Time", 1),
    ],
)
def test_windows_and_iana_zone_names_without_vtimezone(tzid: str, utc_hour: int) -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;TZID={tzid}:20260105T100000\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [occ] = parse_ical(text, UTC, W_START, W_END).occurrences
    assert occ.start == datetime(2026, 1, 5, utc_hour, 0, tzinfo=UTC)


def test_single_event_fast_path_matches_the_window() -> None:
    def event(start: str, extra: str = "") -> str:
        return (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )

    inside = parse_ical(event("20260110T100000Z"), UTC, W_START, W_END)
    assert len(inside.occurrences) == 1 and inside.next_after_window is None and not inside.recurring
    later = parse_ical(event("20260310T100000Z"), UTC, W_START, W_END)
    assert later.occurrences == () and later.next_after_window == datetime(2026, 3, 10, 10, tzinfo=UTC)
    straddling = parse_ical(event("20260228T230000Z", "DURATION:PT2H\r\n"), UTC, W_START, W_END)
    assert len(straddling.occurrences) == 1 and straddling.next_after_window is not None
    all_day = parse_ical(
        event("20260110", "DTEND;VALUE=DATE:20260111\r\n").replace("DTSTART:", "DTSTART;VALUE=DATE:"),
        UTC,
        W_START,
        W_END,
    )
    assert all_day.occurrences[0].start == datetime(2026, 1, 10, 12, tzinfo=UTC)


# --- never anything but ParseError -------------------------------------------------------------

CARD_LINES = st.sampled_from(
    [
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;",
        "FN;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen =",
        "M=C3=BCller",
        "NOTE;QUOTED-PRINTABLE:=",
        "=",
        "KIND:group",
        "KIND:",
        "X-ADDRESSBOOKSERVER-KIND:group",
        "MEMBER:urn:uuid:x",
        "EMAIL;INTERNET:a@b.c",
        "item1.EMAIL;type=INTERNET:b@c.d",
        "TEL;CELL:+1 555",
        "BDAY:--0312",
        "UID:u",
        "FN:Ana",
        "ORG;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Caf=E9",
        "ORG;ENCODING=QUOTED-PRINTABLE:=ZZ=",
        "PHOTO;ENCODING=BASE64;TYPE=JPEG:!!notbase64",
        "VERSION:2.1",
    ]
)


@given(lines=st.lists(CARD_LINES, max_size=10), noise=st.text(max_size=20))
def test_real_world_vcard_fragments_never_raise_anything_but_parse_error(
    lines: list[str], noise: str
) -> None:
    text = "\r\n".join(["BEGIN:VCARD", "VERSION:2.1", *lines, noise, "END:VCARD"]) + "\r\n"
    with contextlib.suppress(ParseError):
        parse_vcard(text)


EVENT_LINES = st.sampled_from(
    [
        "DTSTART;TZID=W. Europe Standard Time:20260105T100000",
        "DTSTART;TZID=Nowhere Standard Time:20260105T100000",
        "DTSTART;VALUE=DATE:20260105",
        "DTSTART:20260105T100000",
        "DTEND:20260104T100000Z",
        "DURATION:PT1H",
        "DURATION:bogus",
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "RECURRENCE-ID:20260112T090000Z",
        "EXDATE:20260112T090000Z",
        "STATUS:CANCELLED",
        "ATTENDEE;PARTSTAT=DECLINED:MAILTO:A@B.C",
        "ATTENDEE;CN=Room:",
        "ORGANIZER:mailto:",
    ]
)


@given(lines=st.lists(EVENT_LINES, min_size=1, max_size=8))
def test_real_world_event_fragments_never_raise_anything_but_parse_error(lines: list[str]) -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20260101T000000Z\r\n"
        + "\r\n".join(lines)
        + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with contextlib.suppress(ParseError):
        parse_ical(text, UTC, W_START, W_END)
