"""vCard / iCalendar text -> plain records, and splitting whole files into objects."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge.core.records import Attendee, ContactRecord, EventRecord
from nudge.parse import ParseError
from nudge.parse.ical import parse_ical
from nudge.parse.text import DERIVED, NO_KEY, block_uid, split_calendar, split_components
from nudge.parse.vcard import parse_birthday, parse_vcard
from tests.builders import ME, vcalendar, vcard, vevent

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
W_START = datetime(2026, 1, 1, tzinfo=UTC)
W_END = datetime(2026, 3, 1, tzinfo=UTC)
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday inside the window


def card(*lines: str) -> str:
    """A vCard 3.0 made of exactly these property lines."""
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", *lines, "END:VCARD"]) + "\r\n"


def calendar(*lines: str) -> str:
    """A VCALENDAR made of exactly these lines (components included)."""
    return (
        "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", *lines, "END:VCALENDAR"]) + "\r\n"
    )


def one(text: str, tz: ZoneInfo = BERLIN) -> EventRecord:
    return parse_ical(text, tz, W_START, W_END)


# A VTIMEZONE whose name is no IANA zone, with an offset no real zone near it has:
# a correct result can only come from reading the VTIMEZONE.
OFFICE_TZ = (
    "BEGIN:VTIMEZONE",
    "TZID:Office Time",
    "BEGIN:STANDARD",
    "DTSTART:19700101T000000",
    "TZOFFSETFROM:+0530",
    "TZOFFSETTO:+0530",
    "END:STANDARD",
    "END:VTIMEZONE",
)


# --- vCard -------------------------------------------------------------------


def test_vcard_fields_are_read() -> None:
    rec = parse_vcard(
        vcard(
            "u1",
            "Ana Ruiz",
            emails=("ana@example.com",),
            phones=("+49 30 1234567",),
            org="Acme",
            title="CTO",
            categories=("top100",),
            bday="1985-03-12",
        )
    )
    assert rec == ContactRecord(
        uid="u1",
        name="Ana Ruiz",
        emails=("ana@example.com",),
        phones=("+49 30 1234567",),
        org="Acme",
        title="CTO",
        birthday="1985-03-12",
        categories=("top100",),
    )


def test_vcard_name_falls_back_to_n_when_fn_is_missing() -> None:
    rec = parse_vcard(card("UID:u1", "N:Ruiz;Ana;Maria;Dr.;"))
    assert rec.name == "Dr. Ana Maria Ruiz"


def test_vcard_name_falls_back_to_n_when_fn_is_empty() -> None:
    rec = parse_vcard(card("UID:u1", "FN:", "N:Ruiz;Ana;;;"))
    assert rec.name == "Ana Ruiz"


def test_vcard_name_falls_back_to_first_email_without_fn_and_n() -> None:
    rec = parse_vcard(card("UID:u1", "EMAIL:Only@Example.com"))
    assert rec.name == "only@example.com"


def test_vcard_without_name_and_email_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no name") as info:
        parse_vcard(card("UID:u1", "TEL:+4930123456"))
    assert info.value.uid == "u1"


def test_vcard_keeps_several_emails_and_phones_in_order() -> None:
    rec = parse_vcard(
        vcard("u1", "Ana", emails=("a@one.org", "b@two.org", "c@three.org"), phones=("+1 555 0100", "+44 20"))
    )
    assert rec.emails == ("a@one.org", "b@two.org", "c@three.org")
    assert rec.phones == ("+1 555 0100", "+44 20")


def test_vcard_emails_are_case_folded_and_deduplicated() -> None:
    rec = parse_vcard(vcard("u1", "Ana", emails=("Ana@Example.COM", "b@x.org", "ana@example.com", "B@X.ORG")))
    assert rec.emails == ("ana@example.com", "b@x.org")


def test_vcard_duplicate_phones_are_kept_once() -> None:
    rec = parse_vcard(vcard("u1", "Ana", phones=("+1 555 0100", "+1 555 0100")))
    assert rec.phones == ("+1 555 0100",)


def test_vcard_apple_grouped_properties_are_read() -> None:
    rec = parse_vcard(
        card(
            "UID:u1",
            "FN:Ana Ruiz",
            "item1.EMAIL;type=INTERNET;type=pref:Ana@Work.example",
            "item1.X-ABLabel:_$!<Work>!$_",
            "item2.EMAIL;type=INTERNET:ana@home.example",
            "item3.TEL:+49 30 1234567",
        )
    )
    assert rec.emails == ("ana@work.example", "ana@home.example")
    assert rec.phones == ("+49 30 1234567",)


def test_vcard_email_that_is_not_an_address_is_dropped() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana", "EMAIL:not an address", "EMAIL:ana@example.com"))
    assert rec.emails == ("ana@example.com",)


def test_vcard_categories_become_a_list() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana", "CATEGORIES:top100, partner ,friends", "CATEGORIES:golf"))
    assert rec.categories == ("top100", "partner", "friends", "golf")


def test_vcard_org_is_its_first_component() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana", "ORG:Acme;Sales;EMEA"))
    assert rec.org == "Acme"


def test_vcard_org_with_a_comma_in_the_name_is_kept_whole() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana", "ORG:Acme\\, Inc.;Sales"))
    assert rec.org == "Acme, Inc."


def test_vcard_title_and_note_are_read() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana", "TITLE:Head of Sales", "NOTE:met at PyCon"))
    assert (rec.title, rec.note) == ("Head of Sales", "met at PyCon")


def test_vcard_without_org_title_bday_leaves_them_none() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana"))
    assert (rec.org, rec.title, rec.birthday, rec.note) == (None, None, None, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1985-03-12", "1985-03-12"),
        ("19850312", "1985-03-12"),
        ("--0312", "--03-12"),
        ("--03-12", "--03-12"),
        ("1604-03-12", "--03-12"),  # Apple's "no year"
        ("0000-03-12", "--03-12"),
        ("1985-03-12T00:00:00Z", "1985-03-12"),
        ("2000-02-29", "2000-02-29"),
        ("--0229", "--02-29"),
        ("1985-02-30", None),
        ("1985-13-01", None),
        ("12.03.1985", None),
        ("", None),
        ("soon", None),
    ],
)
def test_birthday_forms(raw: str, expected: str | None) -> None:
    assert parse_birthday(raw) == expected


@pytest.mark.parametrize(
    ("bday", "expected"),
    [("19850312", "1985-03-12"), ("--0312", "--03-12"), ("1604-03-12", "--03-12"), ("1985-02-30", None)],
)
def test_vcard_birthday_is_normalised(bday: str, expected: str | None) -> None:
    assert parse_vcard(vcard("u1", "Ana", bday=bday)).birthday == expected


def test_vcard_apple_omit_year_birthday() -> None:
    rec = parse_vcard(card("UID:u1", "FN:Ana", "BDAY;X-APPLE-OMIT-YEAR=1604;VALUE=date:1604-03-12"))
    assert rec.birthday == "--03-12"


def test_vcard_21_quoted_printable_name_is_decoded() -> None:
    text = "\r\n".join(
        [
            "BEGIN:VCARD",
            "VERSION:2.1",
            "UID:u1",
            "N;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Ruiz;Zo=C3=AB;;;",
            "END:VCARD",
        ]
    )
    assert parse_vcard(text).name == "Zoë Ruiz"


def test_vcard_base64_encoded_name_is_not_stored_as_a_bytes_repr() -> None:
    text = card("UID:u1", "FN;CHARSET=UTF-8;ENCODING=BASE64:QW5h")  # base64 of "Ana"
    assert parse_vcard(text).name == "Ana"


def test_vcard_without_uid_is_keyed_by_its_first_email() -> None:
    rec = parse_vcard(card("FN:Ana Ruiz", "EMAIL:Ana@Example.com", "EMAIL:ana@two.org"))
    assert isinstance(rec, ContactRecord)
    assert rec.uid.startswith(DERIVED)
    again = parse_vcard(card("FN:Ana Ruiz-Kaya", "EMAIL:ana@example.com", "TEL:+49 30 1234567"))
    assert again.uid == rec.uid  # same first address: the same key, whatever else changed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ana\r\n",  # never closed
        "END:VCARD\r\n",
        "BEGIN:VCARD\r\nEND:VCALENDAR\r\n",
        "VCARD:x",
        vcalendar(vevent("e1", MONDAY)),  # an event where a card was expected
        "\x00\x01\x02",
    ],
)
def test_vcard_garbage_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_vcard(text)


# --- iCalendar ---------------------------------------------------------------


def weekly_series() -> str:
    """Weekly from Mon 5 Jan, 12 Jan cancelled by EXDATE, 19 Jan moved to Tue 20 Jan 15:00."""
    series = vevent(
        "series",
        MONDAY,
        attendees=("ana@example.com",),
        extra=("RRULE:FREQ=WEEKLY;COUNT=10", "EXDATE:20260112T090000Z"),
    )
    moved = vevent(
        "series",
        datetime(2026, 1, 20, 15, 0, tzinfo=UTC),
        attendees=("ana@example.com",),
        summary="Moved",
        partstat={"ana@example.com": "DECLINED"},
        extra=("RECURRENCE-ID:20260119T090000Z",),
    )
    return vcalendar(series, moved)


def test_ical_single_event_is_one_occurrence() -> None:
    rec = one(vcalendar(vevent("e1", MONDAY, attendees=("ana@example.com",), summary="Coffee")))
    assert rec.uid == "e1"
    assert not rec.recurring
    assert rec.next_after_window is None
    [occ] = rec.occurrences
    assert occ.start == MONDAY
    assert occ.recurrence_id == ""  # a one-off's key does not move with it
    assert occ.summary == "Coffee"
    assert occ.organizer == ME
    assert occ.attendees == (Attendee(ME), Attendee("ana@example.com"))


def test_ical_rrule_expands_without_exdate_and_with_the_moved_override() -> None:
    rec = one(weekly_series())
    assert rec.recurring
    starts = [o.start for o in rec.occurrences]
    assert datetime(2026, 1, 12, 9, tzinfo=UTC) not in starts
    assert datetime(2026, 1, 19, 9, tzinfo=UTC) not in starts
    assert starts[:3] == [MONDAY, datetime(2026, 1, 20, 15, tzinfo=UTC), datetime(2026, 1, 26, 9, tzinfo=UTC)]
    assert starts == sorted(starts)


def test_ical_override_keeps_its_own_recurrence_id_summary_and_partstat() -> None:
    rec = one(weekly_series())
    [moved] = [o for o in rec.occurrences if o.summary == "Moved"]
    assert moved.recurrence_id == "20260119T090000Z"
    assert moved.start == datetime(2026, 1, 20, 15, tzinfo=UTC)
    assert Attendee("ana@example.com", declined=True) in moved.attendees
    others = [o for o in rec.occurrences if o is not moved]
    assert all(Attendee("ana@example.com") in o.attendees for o in others)


def test_ical_only_occurrences_inside_the_window() -> None:
    start = datetime(2025, 11, 3, 9, tzinfo=UTC)  # weekly from well before the window
    rec = one(vcalendar(vevent("w", start, extra=("RRULE:FREQ=WEEKLY;UNTIL=20260601T000000Z",))))
    starts = [o.start for o in rec.occurrences]
    assert starts[0] == MONDAY
    assert starts[-1] == datetime(2026, 2, 23, 9, tzinfo=UTC)
    assert len(starts) == 8
    assert all(W_START <= s < W_END for s in starts)


def test_ical_event_outside_the_window_has_no_occurrence() -> None:
    before = one(vcalendar(vevent("b", datetime(2025, 12, 1, 9, tzinfo=UTC))))
    after = one(vcalendar(vevent("a", datetime(2026, 5, 1, 9, tzinfo=UTC))))
    assert before.occurrences == () and after.occurrences == ()
    assert before.next_after_window is None
    assert after.next_after_window == datetime(2026, 5, 1, 9, tzinfo=UTC)


def test_ical_next_after_window_for_an_ongoing_series() -> None:
    rec = one(vcalendar(vevent("s", MONDAY, extra=("RRULE:FREQ=WEEKLY",))))
    assert rec.next_after_window == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_ical_next_after_window_is_none_for_a_finished_series() -> None:
    rec = one(vcalendar(vevent("s", MONDAY, extra=("RRULE:FREQ=WEEKLY;COUNT=3",))))
    assert len(rec.occurrences) == 3
    assert rec.next_after_window is None


@pytest.mark.parametrize(("tz", "utc_hour"), [(BERLIN, 9), (NEW_YORK, 15), (TOKYO, 1)])
def test_ical_floating_time_is_in_the_given_zone(tz: ZoneInfo, utc_hour: int) -> None:
    rec = one(calendar("BEGIN:VEVENT", "UID:f", "DTSTART:20260110T100000", "END:VEVENT"), tz)
    [occ] = rec.occurrences
    assert occ.start == datetime(2026, 1, 10, utc_hour, tzinfo=UTC)
    assert occ.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("tz", "expected"), [(BERLIN, (10, 11)), (TOKYO, (10, 3)), (NEW_YORK, (10, 17))])
def test_ical_all_day_event_counts_at_local_noon(tz: ZoneInfo, expected: tuple[int, int]) -> None:
    rec = one(calendar("BEGIN:VEVENT", "UID:d", "DTSTART;VALUE=DATE:20260110", "END:VEVENT"), tz)
    [occ] = rec.occurrences
    day, hour = expected
    assert occ.start == datetime(2026, 1, day, hour, tzinfo=UTC)
    assert occ.start.astimezone(tz).hour == 12


def test_ical_tzid_is_resolved_with_its_vtimezone() -> None:
    rec = one(
        calendar(
            *OFFICE_TZ, "BEGIN:VEVENT", "UID:t", "DTSTART;TZID=Office Time:20260110T100000", "END:VEVENT"
        )
    )
    [occ] = rec.occurrences
    assert occ.start == datetime(2026, 1, 10, 4, 30, tzinfo=UTC)


def test_ical_iana_tzid_without_vtimezone_follows_summer_time() -> None:
    text = calendar("BEGIN:VEVENT", "UID:t", "DTSTART;TZID=America/New_York:20260710T100000", "END:VEVENT")
    rec = parse_ical(text, BERLIN, W_START, datetime(2026, 12, 1, tzinfo=UTC))
    [occ] = rec.occurrences
    assert occ.start == datetime(2026, 7, 10, 14, tzinfo=UTC)


def test_ical_upper_case_mailto_is_normalised() -> None:
    text = calendar(
        "BEGIN:VEVENT",
        "UID:m",
        "DTSTART:20260110T100000Z",
        "ORGANIZER;CN=Bob:MAILTO:Bob@Example.COM",
        "ATTENDEE;CN=Ana;PARTSTAT=ACCEPTED:MAILTO:Ana@Example.COM",
        "END:VEVENT",
    )
    [occ] = one(text).occurrences
    assert occ.organizer == "bob@example.com"
    assert occ.attendees == (Attendee("ana@example.com", name="Ana"),)


def test_ical_attendee_without_email_has_email_none_and_rooms_are_not_people() -> None:
    text = calendar(
        "BEGIN:VEVENT",
        "UID:r",
        "DTSTART:20260110T100000Z",
        "ATTENDEE;CN=Room 4;CUTYPE=ROOM:urn:uuid:4c2b-room",
        "ATTENDEE:mailto:ana@example.com",
        "END:VEVENT",
    )
    [occ] = one(text).occurrences
    assert occ.attendees == (Attendee(None, name="Room 4", person=False), Attendee("ana@example.com"))


def test_ical_event_without_organizer_has_organizer_none() -> None:
    [occ] = one(calendar("BEGIN:VEVENT", "UID:o", "DTSTART:20260110T100000Z", "END:VEVENT")).occurrences
    assert occ.organizer is None
    assert occ.attendees == ()


def test_ical_cancelled_event_is_marked() -> None:
    [occ] = one(vcalendar(vevent("c", MONDAY, extra=("STATUS:CANCELLED",)))).occurrences
    assert occ.cancelled


def test_ical_confirmed_event_is_not_cancelled() -> None:
    [occ] = one(vcalendar(vevent("c", MONDAY, extra=("STATUS:CONFIRMED",)))).occurrences
    assert not occ.cancelled


@pytest.mark.parametrize(
    ("partstat", "declined"), [("DECLINED", True), ("TENTATIVE", False), ("ACCEPTED", False)]
)
def test_ical_partstat_declined_is_marked(partstat: str, declined: bool) -> None:
    text = vcalendar(
        vevent("d", MONDAY, attendees=("ana@example.com",), partstat={"ana@example.com": partstat})
    )
    [occ] = one(text).occurrences
    assert occ.attendees[1] == Attendee("ana@example.com", declined=declined)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage", "unreadable"),
        ("", "unreadable"),
        (vcalendar(), "no VEVENT"),
        (calendar("BEGIN:VEVENT", "SUMMARY:x", "END:VEVENT"), "no UID and no DTSTART"),
        (calendar("BEGIN:VEVENT", "UID:x", "END:VEVENT"), "no DTSTART"),
        (calendar("BEGIN:VEVENT", "UID:x", "DTSTART:notadate", "END:VEVENT"), "bad event"),
        (vcard("u1", "Ana"), "no VEVENT"),  # a card where an event was expected
    ],
)
def test_ical_garbage_is_a_parse_error(text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        one(text)


# --- splitting files ---------------------------------------------------------


def test_split_calendar_one_broken_event_does_not_stop_the_others() -> None:
    broken = vevent("broken", MONDAY).replace("DTSTART:20260105T090000Z", "DTSTART:notadate")
    text = vcalendar(vevent("a", MONDAY), broken, vevent("c", MONDAY + timedelta(days=1)))
    objects = dict(split_calendar(text))
    assert list(objects) == ["a", "broken", "c"]
    assert one(objects["a"]).occurrences[0].start == MONDAY
    assert one(objects["c"]).occurrences[0].start == MONDAY + timedelta(days=1)
    with pytest.raises(ParseError):
        one(objects["broken"])


def test_split_calendar_whole_file_would_not_parse_but_the_pieces_do() -> None:
    """The reason to split by lines: the whole file is refused by the parser."""
    broken = vevent("broken", MONDAY).replace("DTSTART:20260105T090000Z", "DTSTART:notadate")
    text = vcalendar(vevent("a", MONDAY), broken)
    objects = dict(split_calendar(text))
    assert one(objects["a"]).uid == "a"


def test_split_calendar_groups_a_series_with_its_overrides() -> None:
    text = weekly_series()
    [(uid, data)] = split_calendar(text)
    assert uid == "series"
    assert data.count("BEGIN:VEVENT") == 2
    assert any(o.summary == "Moved" for o in one(data).occurrences)


def test_split_calendar_copies_vtimezones_into_every_object() -> None:
    text = calendar(
        *OFFICE_TZ,
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART;TZID=Office Time:20260110T100000",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:b",
        "DTSTART;TZID=Office Time:20260111T100000",
        "END:VEVENT",
    )
    objects = dict(split_calendar(text))
    assert set(objects) == {"a", "b"}
    for data in objects.values():
        assert "TZID:Office Time" in data
    assert one(objects["a"]).occurrences[0].start == datetime(2026, 1, 10, 4, 30, tzinfo=UTC)
    assert one(objects["b"]).occurrences[0].start == datetime(2026, 1, 11, 4, 30, tzinfo=UTC)


def test_split_calendar_event_without_uid_is_keyed_as_parse_keys_it() -> None:
    text = calendar("BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", "DTSTART:20260110T100000Z", "END:VEVENT")
    [(uid, data)] = split_calendar(text)
    assert uid.startswith(DERIVED)
    assert one(data).uid == uid
    [(again, _)] = split_calendar(text.replace("DTSTAMP:20260101", "DTSTAMP:20261231"))
    assert again == uid  # a re-export stamps a new DTSTAMP: the key stays


def test_split_calendar_event_without_uid_or_start_gets_a_placeholder() -> None:
    [(uid, data)] = split_calendar(calendar("BEGIN:VEVENT", "SUMMARY:x", "END:VEVENT"))
    assert uid.startswith(NO_KEY)
    with pytest.raises(ParseError, match="no UID and no DTSTART"):
        one(data)


def test_split_components_unterminated_block_is_returned() -> None:
    truncated = vcard("b", "Ben Ott").replace("END:VCARD\r\n", "")
    blocks = split_components(vcard("a", "Ana Ruiz") + truncated, "VCARD")
    assert len(blocks) == 2
    assert parse_vcard(blocks[0]).uid == "a"
    assert "UID:b" in blocks[1]
    with pytest.raises(ParseError):
        parse_vcard(blocks[1])


def test_split_components_keeps_nested_components_inside_their_block() -> None:
    alarm = ("BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "END:VALARM")
    text = vcalendar(vevent("a", MONDAY, extra=alarm), vevent("b", MONDAY))
    blocks = split_components(text, "VEVENT")
    assert len(blocks) == 2
    assert "BEGIN:VALARM" in blocks[0] and "END:VALARM" in blocks[0]
    assert blocks[0].rstrip().endswith("END:VEVENT")


def test_split_components_ignores_text_between_blocks_and_is_case_insensitive() -> None:
    text = "junk before\r\n" + vcard("a", "Ana").lower() + "junk between\n" + vcard("b", "Ben") + "junk after"
    blocks = split_components(text, "VCARD")
    assert [block_uid(b) for b in blocks] == ["a", "b"]
    assert not any("junk" in b for b in blocks)


def test_split_calendar_missing_end_does_not_swallow_later_events() -> None:
    unterminated = vevent("b", MONDAY).replace("END:VEVENT\r\n", "")
    text = vcalendar(vevent("a", MONDAY), unterminated, vevent("c", MONDAY))
    objects = dict(split_calendar(text))
    assert list(objects) == ["a", "b", "c"]
    assert one(objects["c"]).occurrences[0].start == MONDAY
    assert "UID:c" not in objects["b"]


def test_split_components_missing_end_card_does_not_swallow_the_next_card() -> None:
    unterminated = vcard("b", "Ben Ott").replace("END:VCARD\r\n", "")
    blocks = split_components(vcard("a", "Ana Ruiz") + unterminated + vcard("c", "Cem Kaya"), "VCARD")
    assert [block_uid(b) for b in blocks] == ["a", "b", "c"]
    assert parse_vcard(blocks[2]).name == "Cem Kaya"
    with pytest.raises(ParseError):
        parse_vcard(blocks[1])


@pytest.mark.parametrize(
    ("line", "uid"),
    [
        ("UID:abc-123", "abc-123"),
        ("uid:abc-123", "abc-123"),
        ("UID;VALUE=TEXT:abc-123", "abc-123"),
        ("UID:  spaced  ", "spaced"),
        ("UID:040000008200E00074C5B7101A82E008", "040000008200E00074C5B7101A82E008"),
    ],
)
def test_block_uid(line: str, uid: str) -> None:
    assert block_uid(f"BEGIN:VCARD\r\nVERSION:3.0\r\n{line}\r\nFN:x\r\nEND:VCARD\r\n") == uid


def test_block_uid_missing_is_empty() -> None:
    assert block_uid(card("FN:Ana")) == ""


def test_block_uid_keeps_colons_in_the_value() -> None:
    assert block_uid(card("UID:urn:uuid:1234", "FN:Ana")) == "urn:uuid:1234"


def test_split_calendar_uids_differing_before_a_colon_stay_apart() -> None:
    text = vcalendar(vevent("x:1", MONDAY), vevent("y:1", MONDAY))
    assert len(split_calendar(text)) == 2


def test_split_calendar_long_folded_uids_stay_apart() -> None:
    prefix = "040000008200E00074C5B7101A82E00800000000" + "0" * 40

    def folded(uid: str) -> str:
        line = f"UID:{uid}"
        return vevent("PLACEHOLDER", MONDAY).replace("UID:PLACEHOLDER", line[:75] + "\r\n " + line[75:])

    text = vcalendar(folded(prefix + "AAA"), folded(prefix + "BBB"))
    assert [uid for uid, _ in split_calendar(text)] == [prefix + "AAA", prefix + "BBB"]


# --- malformed input: a record or ParseError, nothing else -------------------

NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
NOISE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "BEGIN:VCARD",
            "END:VCARD",
            "BEGIN:VEVENT",
            "END:VEVENT",
            "BEGIN:VCALENDAR",
            "END:VCALENDAR",
            "BEGIN:VALARM",
            "END:VALARM",
            "BEGIN:VTIMEZONE",
            "UID:",
            "UID;X=1:dup",
            "FN:",
            "N:;;;;",
            "N:a;b;c;d;e;f;g",
            "EMAIL:",
            "EMAIL;TYPE=INTERNET:@",
            "ORG:;;;",
            "BDAY:--1399",
            "BDAY;VALUE=date:0000-00-00",
            "CATEGORIES:,,,",
            "TEL;TYPE=CELL:",
            "PHOTO;ENCODING=b;TYPE=JPEG:!!notbase64",
            "FN;ENCODING=QUOTED-PRINTABLE:=ZZ",
            "DTSTART:notadate",
            "DTSTART:20260105T090000",
            "DTSTART;VALUE=DATE:20260230",
            "DTSTART;TZID=Nowhere/Zone:20260105T090000",
            "DTEND:20200101T000000Z",
            "DURATION:PXYZ",
            "RRULE:FREQ=WEEKLY;UNTIL=garbage",
            "RRULE:FREQ=DAILY;COUNT=-1",
            "RRULE:FREQ=NEVER",
            "RRULE:FREQ=WEEKLY;BYDAY=XX",
            "EXDATE:garbage",
            "EXDATE;VALUE=DATE:20260112",
            "RDATE:20260107T090000Z",
            "RDATE;VALUE=PERIOD:garbage",
            "RECURRENCE-ID:20260119T090000Z",
            "RECURRENCE-ID:garbage",
            "ATTENDEE:",
            "ATTENDEE;PARTSTAT=DECLINED:MAILTO:",
            'ATTENDEE;CN="unterminated:mailto:a@b.c',
            "ORGANIZER:",
            "STATUS:CANCELLED",
            " folded continuation",
            "\ttab continuation",
            ":",
            ";;;",
            "X-WR-TIMEZONE:Nowhere/Zone",
            "TZID:Nowhere/Zone",
            # the inputs of "Nothing sent twice, nothing lost, nothing hangs" and "The first morning"
            "RRULE:FREQ=SECONDLY",
            "RRULE:FREQ=MINUTELY",
            "RRULE:FREQ=HOURLY",
            "RRULE:FREQ=DAILY;INTERVAL=0",
            "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            "RRULE:FREQ=SECONDLY;COUNT=100000000",
            "DTSTART:19000101T090000Z",
            "DTSTART:20000101T090000Z",
            "DTSTART;TZID=Broken Time:20260105T090000",
            "TZOFFSETTO:nonsense",
            "FN:Ana\\nRuiz\x1b",
            "FN:\x00\x85\u2028",
            "SUMMARY:Coffee\\nwith\x07 Ana",
            "NOTE:line\\nline\x1b",
            "TEL:ask reception",
            "EMAIL:ana\x01@example.com",
            "X-ABUID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE:ABPerson",
            "item1.EMAIL;type=INTERNET:ana@example.com",
            "junk BEGIN:VCARD",
            "\ufeffBEGIN:VEVENT",
            "UID:",
        ]
    ),
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` with a few random lines deleted, duplicated, replaced, or noise inserted."""
    lines = text.split("\r\n")
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "insert", "truncate"]))
        i = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        if op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op == "replace" and lines:
            lines[i] = draw(NOISE)
        elif op == "insert":
            lines.insert(i, draw(NOISE))
        elif op == "truncate" and lines:
            lines[i] = lines[i][: draw(st.integers(min_value=0, max_value=len(lines[i])))]
    return draw(st.sampled_from(["\r\n", "\n"])).join(lines)


@st.composite
def vcard_texts(draw: st.DrawFn) -> str:
    text = vcard(
        draw(st.sampled_from(["u1", "urn:uuid:4c2b", "x;y", ""])),  # "": no UID, a derived key
        draw(NAMES),
        emails=tuple(draw(st.lists(st.emails(), max_size=3))),
        phones=tuple(draw(st.lists(st.from_regex(r"\+?[0-9 ()-]{3,15}", fullmatch=True), max_size=2))),
        org=draw(st.none() | NAMES),
        title=draw(st.none() | NAMES),
        categories=tuple(draw(st.lists(st.sampled_from(["top100", "partner", "a,b"]), max_size=2))),
        bday=draw(st.none() | st.sampled_from(["1985-03-12", "--0312", "1604-03-12", "19850230"])),
    )
    return draw(mutated(text))


@st.composite
def ical_texts(draw: st.DrawFn) -> str:
    start = draw(st.datetimes(datetime(2025, 10, 1), datetime(2026, 4, 1), timezones=st.just(UTC)))
    extra = draw(
        st.lists(
            st.sampled_from(
                [
                    "RRULE:FREQ=WEEKLY;COUNT=10",
                    "RRULE:FREQ=DAILY",
                    "RRULE:FREQ=SECONDLY",
                    "RRULE:FREQ=DAILY;INTERVAL=0",
                    "EXDATE:20260112T090000Z",
                    "STATUS:CANCELLED",
                    "DTEND:20260105T100000Z",
                    "DURATION:PT1H",
                ]
            ),
            max_size=3,
            unique=True,
        )
    )
    events = [vevent("e1", start, attendees=("ana@example.com",), extra=tuple(extra))]
    if draw(st.booleans()):
        events.append(
            vevent("e1", start + timedelta(hours=3), extra=(f"RECURRENCE-ID:{start:%Y%m%dT%H%M%SZ}",))
        )
    text = vcalendar(*events)
    if draw(st.booleans()):
        zone = "\r\n".join(OFFICE_TZ)
        if draw(st.booleans()):  # a broken one beside it
            zone += "\r\n" + zone.replace("Office Time", "Broken Time").replace("19700101T000000", "garbage")
        text = text.replace("BEGIN:VEVENT", zone + "\r\nBEGIN:VEVENT", 1)
    return draw(mutated(text))


ONE_LINE_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
NOTE_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FUZZ = settings()  # the profile's


@FUZZ
@given(vcard_texts())
def test_mutated_vcard_gives_a_record_or_parse_error(text: str) -> None:
    try:
        rec = parse_vcard(text)
    except ParseError as e:
        assert e.reason
        return
    assert rec.uid and rec.name
    assert len(set(rec.emails)) == len(rec.emails)
    assert all(e == e.casefold() for e in rec.emails)
    if isinstance(rec, ContactRecord):  # no control character reaches the store
        for value in (
            rec.uid,
            rec.name,
            rec.org or "",
            rec.title or "",
            *rec.categories,
            *rec.phones,
            *rec.emails,
        ):
            assert not ONE_LINE_CONTROLS.search(value), value
        assert not NOTE_CONTROLS.search(rec.note or "")


@FUZZ
@given(ical_texts(), st.sampled_from([BERLIN, NEW_YORK, TOKYO]))
def test_mutated_ical_gives_a_record_or_parse_error(text: str, tz: ZoneInfo) -> None:
    try:
        rec = parse_ical(text, tz, W_START, W_END)
    except ParseError as e:
        assert e.reason
        return
    assert rec.uid
    starts = [o.start for o in rec.occurrences]
    assert starts == sorted(starts)
    assert all(s.utcoffset() == timedelta(0) for s in starts)
    for occ in rec.occurrences:
        assert not any(ONE_LINE_CONTROLS.search(v) for v in (occ.summary, *(a.name for a in occ.attendees)))


@FUZZ
@given(st.lists(st.one_of(ical_texts(), vcard_texts()), min_size=1, max_size=4))
def test_split_then_parse_never_raises_anything_but_parse_error(texts: list[str]) -> None:
    whole = "\r\n".join(texts)
    for block in split_components(whole, "VCARD"):
        with contextlib.suppress(ParseError):
            parse_vcard(block)
    for uid, data in split_calendar(whole):
        assert uid
        with contextlib.suppress(ParseError):
            parse_ical(data, BERLIN, W_START, W_END)
