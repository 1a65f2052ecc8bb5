"""Inputs as exporters and probes write them: no UID, control characters, glued cards, zones."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from nudge.core.records import ContactRecord, GroupRecord
from nudge.parse import ParseError
from nudge.parse.fast import fast_card
from nudge.parse.ical import parse_ical
from nudge.parse.text import DERIVED, card_key, split_calendar, split_components
from nudge.parse.vcard import member_key, parse_vcard
from tests.builders import vcalendar

W_START, W_END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def card(*lines: str, version: str = "3.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD"]) + "\r\n"


def contact(text: str) -> ContactRecord:
    rec = parse_vcard(text)
    assert isinstance(rec, ContactRecord)
    return rec


# --- cards without UID ----------------------------------------------------------------------------


def test_apple_x_abuid_is_the_key_and_its_group_lists_the_card_by_it() -> None:
    person = contact(card("FN:Ana Ruiz", "X-ABUID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE\\:ABPerson"))
    assert person.uid == "5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE"
    group = parse_vcard(
        card(
            "N:Top 100",
            "FN:Top 100",
            "X-ADDRESSBOOKSERVER-KIND:group",
            "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:5ad380fd-b2de-4261-ba99-de1d1db52fbe",
            "X-ABUID:0C1A2B3C-0000-4000-8000-000000000001:ABGroup",
        )
    )
    assert isinstance(group, GroupRecord) and group.uid == "0C1A2B3C-0000-4000-8000-000000000001"
    assert group.members == (member_key(person.uid),)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("FN:Ana Ruiz", "TEL;TYPE=CELL:+49 30 1234567"), ("FN:Ana R.", "TEL:+49301234567")),
        (("FN:Ana Ruiz", "TEL:(555) 010-0123"), ("N:Ruiz;Ana;;;", "TEL:555.010.0123")),
        (("FN:Zoë Ruiz", "NOTE:met at a fair"), ("FN:  ZOE   ruiz", "ORG:Acme")),
        (("item1.EMAIL;type=INTERNET:Ana@Example.com", "FN:Ana"), ("EMAIL:ana@example.com", "FN:Ana Ruiz")),
    ],
)
def test_a_card_without_uid_is_keyed_by_email_then_phone_then_folded_name(
    one: tuple[str, ...], other: tuple[str, ...]
) -> None:
    assert contact(card(*one)).uid == contact(card(*other)).uid != ""
    assert contact(card(*one)).uid.startswith(DERIVED)


def test_the_key_prefers_the_email_over_phone_and_name() -> None:
    by_email = contact(card("FN:Ana Ruiz", "TEL:+49 30 1234567", "EMAIL:ana@example.com"))
    assert by_email.uid == contact(card("FN:Other", "EMAIL:ana@example.com")).uid
    assert by_email.uid != contact(card("FN:Ana Ruiz", "TEL:+49 30 1234567")).uid


def test_fast_and_library_paths_key_a_card_without_uid_alike() -> None:
    text = card("FN:Ana Ruiz", "EMAIL;TYPE=INTERNET:ana@example.com", version="4.0")
    fast = fast_card(text)
    assert fast is not None and fast == contact(text) and fast.uid == card_key(text)


# --- control characters ---------------------------------------------------------------------------


def test_control_characters_never_reach_a_cards_fields() -> None:
    rec = contact(
        card(
            "UID:u1\x00",
            "FN:Ana\\nRuiz\x07",  # an escaped newline inside a single-line field
            "ORG:Acme\x85 GmbH\x1b",
            "TITLE:CTO\u2028Board",
            "CATEGORIES:top100\x0c,partner",
            "NOTE:first line\\nsecond\x1b line\ttabbed",
            "TEL:+49 30 1234567\x7f",
            "EMAIL:ana\x01@example.com",
            "EMAIL:ana@example.com",
        )
    )
    assert rec.uid == "u1"
    assert rec.name == "Ana Ruiz"
    assert rec.org == "Acme GmbH"
    assert rec.title == "CTO Board"
    assert rec.categories == ("top100", "partner")
    assert rec.note == "first line\nsecond line\ttabbed"  # a note keeps its lines and tabs
    assert rec.phones == ("+49 30 1234567",)
    assert rec.emails == ("ana@example.com",)  # an address with a control character is no address


def test_control_characters_never_reach_an_events_fields() -> None:
    text = vcalendar(
        "BEGIN:VEVENT\r\nUID:e1\r\nDTSTART:20260110T100000Z\r\nSUMMARY:Coffee\\nwith\x1b Ana\r\n"
        'ATTENDEE;CN="Ana^nRuiz":mailto:ana@example.com\r\n'  # RFC 6868: ^n is a newline
        "ATTENDEE;CN=Ben\x85Ott:mailto:ben@example.com\r\nEND:VEVENT\r\n"
    )
    [occ] = parse_ical(text, UTC, W_START, W_END).occurrences
    assert occ.summary == "Coffee with Ana"
    assert [a.name for a in occ.attendees] == ["Ana Ruiz", "Ben Ott"]


# --- splitting files ------------------------------------------------------------------------------


def test_a_card_glued_to_garbage_or_a_stray_bom_is_found() -> None:
    text = "junk from a broken copy BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ana\r\nEND:VCARD\r\n"
    text += "\ufeffBEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:Ben\r\nEND:VCARD\r\n"
    blocks = split_components(text, "VCARD")
    assert [contact(b).uid for b in blocks] == ["a", "b"]
    inside = card("UID:c", "FN:Cem", "NOTE:copy this: BEGIN:VCARD")  # only outside a card
    assert split_components(text + inside, "VCARD")[2:] == [inside]


def test_cards_joined_by_cat_without_a_last_newline_are_both_found() -> None:
    """`END:VCARDBEGIN:VCARD`: the first card ends there and the second starts (both kept)."""
    first = card("UID:a", "FN:Ana").removesuffix("\r\n")
    text = first + card("UID:b", "FN:Ben") + card("UID:c", "FN:Cem")
    assert "END:VCARDBEGIN:VCARD" in text
    assert [contact(b).uid for b in split_components(text, "VCARD")] == ["a", "b", "c"]
    lower = first.replace("END:VCARD", "end:vcard") + "\r\n"  # no card follows: the end alone
    assert [contact(b).uid for b in split_components(lower + card("UID:b", "FN:Ben"), "VCARD")] == ["a", "b"]


OFFICE = (
    "BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
    "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
BROKEN = (
    "BEGIN:VTIMEZONE\r\nTZID:Broken Time\r\nBEGIN:STANDARD\r\nDTSTART:garbage\r\n"
    "TZOFFSETFROM:+0530\r\nTZOFFSETTO:nonsense\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def event(uid: str, dtstart: str) -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\n{dtstart}\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\n"


def test_a_broken_vtimezone_skips_only_the_events_in_that_zone() -> None:
    text = vcalendar(
        OFFICE,
        BROKEN,
        event("office", "DTSTART;TZID=Office Time:20260110T100000"),
        event("broken", "DTSTART;TZID=Broken Time:20260110T100000"),
        event("utc", "DTSTART:20260110T100000Z"),
        event("quoted", 'DTSTART;TZID="Office Time":20260111T100000'),
    )
    objects = dict(split_calendar(text))
    starts = {
        uid: parse_ical(objects[uid], UTC, W_START, W_END).occurrences[0].start
        for uid in objects
        if uid != "broken"
    }
    assert starts == {
        "office": datetime(2026, 1, 10, 4, 30, tzinfo=UTC),
        "utc": datetime(2026, 1, 10, 10, tzinfo=UTC),
        "quoted": datetime(2026, 1, 11, 4, 30, tzinfo=UTC),
    }
    with pytest.raises(ParseError) as caught:
        parse_ical(objects["broken"], UTC, W_START, W_END)
    assert caught.value.reason.startswith("unreadable iCalendar")
    assert "Broken Time" not in objects["office"] and "Office Time" not in objects["utc"]


def test_an_event_without_uid_keeps_its_key_across_exports_and_loses_it_when_moved() -> None:
    def export(stamp: str, start: str) -> str:
        return vcalendar(
            f"BEGIN:VEVENT\r\nDTSTAMP:{stamp}\r\nDTSTART:{start}\r\nSUMMARY:Coffee\r\n"
            "ORGANIZER:mailto:Ana@Example.com\r\nEND:VEVENT\r\n"
        )

    [(first, data)] = split_calendar(export("20260101T000000Z", "20260110T100000Z"))
    [(again, _)] = split_calendar(export("20260301T000000Z", "20260110T100000Z"))
    [(moved, _)] = split_calendar(export("20260301T000000Z", "20260110T110000Z"))
    assert first == again != moved
    assert parse_ical(data, UTC, W_START, W_END).uid == first


def test_two_events_without_uid_at_different_times_stay_apart() -> None:
    text = vcalendar(
        "BEGIN:VEVENT\r\nDTSTART:20260110T100000Z\r\nSUMMARY:Coffee\r\nEND:VEVENT\r\n",
        "BEGIN:VEVENT\r\nDTSTART:20260117T100000Z\r\nSUMMARY:Coffee\r\nEND:VEVENT\r\n",
    )
    objects = split_calendar(text)
    assert len(objects) == 2
    starts = [parse_ical(d, UTC, W_START, W_END).occurrences[0].start for _, d in objects]
    assert starts[1] - starts[0] == timedelta(days=7)


# --- noise --------------------------------------------------------------------------------------------


def test_vobject_logs_nothing_of_its_own_for_a_skipped_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = contact(card("UID:u", "FN:Ana", "this is not a content line"))
    assert rec.name == "Ana"
    assert [r for r in caplog.records if r.name.startswith("vobject")] == []


def test_an_unreadable_object_without_uid_is_reported_by_the_key_its_href_shows() -> None:
    """A truncated Apple card (no END:VCARD) is skipped as `file.vcf#<X-ABUID>`: its UID says the same."""
    truncated = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz\r\nX-ABUID:5AD380FD-B2DE:ABPerson\r\n"
    with pytest.raises(ParseError) as caught:
        parse_vcard(truncated)
    assert caught.value.uid == card_key(truncated) == "5AD380FD-B2DE"
    event = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260110T100000Z\r\nSUMMARY:Lunch\r\n"
    with pytest.raises(ParseError) as caught:
        parse_ical(event, UTC, W_START, W_END)
    assert caught.value.uid.startswith(DERIVED)
