"""The fast paths against the library path: wherever a fast path answers, it answers exactly the same.

Generated objects mix plain lines with every kind of line a fast path must decline or
get exactly right (escapes, time zones, recurrence, odd parameters, broken values, folding,
alarms, structure mistakes); the library parser is the reference.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
from hypothesis import event, example, given
from hypothesis import strategies as st

from nudge.core.records import ContactRecord, EventRecord, GroupRecord
from nudge.parse import ParseError, parse_object
from nudge.parse.fast import fast_card, fast_event
from nudge.parse.ical import parse_ical
from nudge.parse.vcard import parse_vcard
from tests.builders import ME, vcalendar, vcard, vevent
from tests.profiles import scaled

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=730), NOW + timedelta(days=14))
EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"

# Each list: lines a fast path should read, then (after BAD) lines it must decline or get right.
BAD = "--- bad ---"
CALENDAR_LINES = [
    "PRODID:-//Apple Inc.//macOS 14.0//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    "X-WR-CALNAME:Work",
    BAD,
    "REFRESH-INTERVAL;VALUE=DURATION:garbage",
    "X-BROKEN;X=1",
    "DTSTART:20261120T090000Z",
]
UIDS = ["UID:e1", "UID: spaced ", "uid:e2", "UID;X-P=1:e3", BAD, "UID:", "UID:a\\,b"]
STARTS = [
    "DTSTART:20261120T090000Z",
    "DTSTART:20260105T090000Z",
    "DTSTART:20201120T090000Z",
    "DTSTART:20261201T090000",
    "DTSTART;VALUE=DATE:20261118",
    "DTSTART:20261118",
    "DTSTART;VALUE=DATE-TIME:20261118T100000Z",
    "DTSTART;X-FOO=bar:20261120T090000Z",
    # Zones by IANA or Windows name (Outlook, Exchange), quoted or not, in DST gaps and overlaps
    "DTSTART;TZID=Europe/Berlin:20261120T090000",
    "DTSTART;TZID=W. Europe Standard Time:20261120T090000",
    'DTSTART;TZID="Eastern Standard Time":20261120T090000',
    "DTSTART;TZID=America/New_York:20260308T023000",
    "DTSTART;TZID=Europe/Berlin:20261025T023000",
    "DTSTART;TZID=/Europe/London:20261120T090000",
    "DTSTART;TZID=Asia/Tokyo;VALUE=DATE:20261118",
    "DTSTART;TZID=GMT Standard Time:20250101T090000",
    BAD,
    "DTSTART;VALUE=DATE:20261118T100000Z",
    "DTSTART:notadate",
    "DTSTART;TZID=Custom Zone:20261120T090000",
    "DTSTART;TZID=Mars/Olympus_Mons:20261120T090000",
    "DTSTART;TZID=Europe/Berlin:20261120T090000Z",
]
ENDS = [
    "DTEND:20261120T100000Z",
    "DTEND:20261209T100000Z",
    "DTEND;VALUE=DATE:20261119",
    "DTEND:20250101T000000Z",
    "DTEND:20261201T100000",
    "DTEND;TZID=Europe/Berlin:20261120T100000",
    "DTEND;TZID=Pacific Standard Time:20261120T100000",
    "DURATION:PT1H",
    "DURATION:P1D",
    "DURATION:-PT5M",
    BAD,
    "DTEND;TZID=Custom Zone:20261120T100000",
    "DTEND:garbage",
    "DURATION:20261120T100000Z",
    "DURATION;VALUE=DURATION:PT1H",
]
SUMMARIES = [
    "SUMMARY:Coffee",
    "SUMMARY:a;b:c",
    "SUMMARY:  padded  ",
    "SUMMARY:",
    "SUMMARY:Zoë 李",
    "SUMMARY;LANGUAGE=de:Kaffee",
    "SUMMARY:two\tTabs",
    "SUMMARY:Lunch\\, Berlin",
    "SUMMARY:Sync\\; notes\\nsecond line \\\\ done",
    BAD,
    "SUMMARY;VALUE=TEXT:typed",
    "SUMMARY:dangling\\",
    "SUMMARY:odd \\q escape",
    "SUMMARY;LANGUAGE=de:a\\,b",
]
ORGANIZERS = [
    f"ORGANIZER:mailto:{ME}",
    'ORGANIZER;CN="Ruiz, Ana":MAILTO:Ana.Ruiz@Example.org',
    "ORGANIZER:ana@example.org",
    'ORGANIZER;SENT-BY="mailto:x@example.org":mailto:ben@example.net',
    BAD,
    "ORGANIZER;CN=^'x^':mailto:ben@example.net",
]
STATUSES = [
    "STATUS:CANCELLED",
    "STATUS:cancelled",
    "STATUS:TENTATIVE",
    "STATUS;X=1:CANCELLED",
    BAD,
    "STATUS:",
]
ATTENDEES = [
    f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}",
    f"ATTENDEE;PARTSTAT=DECLINED:mailto:{ME}",
    "ATTENDEE;CN=Ana;PARTSTAT=ACCEPTED:mailto:ana@example.org",
    "ATTENDEE;cn=ana;partstat=declined:MAILTO:ANA@EXAMPLE.ORG",
    "ATTENDEE;CUTYPE=ROOM;CN=Room 1:mailto:room1@example.org",
    "ATTENDEE;CUTYPE=resource:mailto:beamer@example.org",
    'ATTENDEE;CN="Ott, Ben";ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:ben@example.net',
    "ATTENDEE;X-NUM-GUESTS=0;PARTSTAT=TENTATIVE:mailto:eve@example.com",
    "ATTENDEE;CN=Nobody:",
    "ATTENDEE:mailto:cem@example.com",
    BAD,
    "ATTENDEE;CN=a,b:mailto:cem@example.com",
    "ATTENDEE;CN=^'q^':mailto:dora@example.com",
    "ATTENDEE;CN=x;CN=y:mailto:dup@example.com",
    'ATTENDEE;DELEGATED-FROM="mailto:a@x.org","mailto:b@x.org":mailto:f@example.com',
    "ATTENDEE;VALUE=URI:mailto:g@example.com",
    "ATTENDEE ;CN=Spaced:mailto:h@example.com",
    'ATTENDEE;CN="unclosed:mailto:i@example.com',
]
OTHERS = [
    "DTSTAMP:20260101T000000Z",
    "DTSTAMP:garbage",
    "SEQUENCE:x",
    "CREATED:20250101T000000Z",
    "DESCRIPTION:line one\\nline two\\, with \\; escapes",
    'LOCATION;ALTREP="http://x.example/a:b":Room',
    "X-FOO;BAR:x",
    "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
    "CATEGORIES:a,b\\,c",
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Reminder\r\nEND:VALARM",
    "BEGIN:VALARM\r\nACTION:EMAIL\r\nTRIGGER;VALUE=DATE-TIME:20261120T080000Z\r\n"
    f"ATTENDEE:mailto:{ME}\r\nSUMMARY:x\r\nEND:VALARM",
    "BEGIN:VALARM\r\nTRIGGER;RELATED=END:PT0S\r\nX-WR-ALARMUID:1\r\nEND:VALARM",
    BAD,
    "summary:lowercase",
    "BEGIN:VALARM\r\nTRIGGER:garbage\r\nEND:VALARM",
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M",
    "RRULE:FREQ=WEEKLY;COUNT=3",
    "RECURRENCE-ID:20261120T090000Z",
    "EXDATE:20261127T090000Z",
    "SUM MARY:spaced name",
    "NOCOLON",
    "X_UNDERSCORE:x",
    "",
    "END:VALARM",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "BEGIN:VTODO\r\nUID:t\r\nEND:VTODO",
]
WRAPPERS = ["plain", "lf", "folded", "timezone", "outlook-zones", BAD, "second-event", "unknown-zone"]
WRAPPERS += ["junk-after", "no-end"]
# Outlook's VTIMEZONEs (tests/data/exports/outlook/calendar.ics): one rule from 1601 each
OUTLOOK_ZONES = (
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011028T030000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010325T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    "BEGIN:VTIMEZONE\r\nTZID:Pacific Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011104T020000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\n"
    "TZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)
UNKNOWN_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Custom Zone\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
    "TZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def good(lines: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(lines[: lines.index(BAD)])


def maybe(lines: list[str], often: bool = True) -> st.SearchStrategy[list[str]]:
    """One line to read from `lines` (usually, or only sometimes), or none."""
    one = good(lines).map(lambda x: [x])
    return st.one_of(one, one, one, st.just([])) if often else st.one_of(one, st.just([]), st.just([]))


LISTS = [CALENDAR_LINES, UIDS, STARTS, ENDS, SUMMARIES, ORGANIZERS, STATUSES, ATTENDEES, OTHERS]
ALL_BAD = [x for lines in LISTS for x in lines[lines.index(BAD) + 1 :]]


@st.composite
def calendars(draw: st.DrawFn, bad: bool) -> str:
    """A plain one-off event the fast path must read; with `bad`, one or two bad lines or a bad wrapper."""
    cal_lines = draw(st.lists(good(CALENDAR_LINES), max_size=2))
    lines = [draw(good(UIDS)), draw(good(STARTS)), *draw(maybe(ENDS, False)), *draw(maybe(SUMMARIES))]
    lines += draw(maybe(ORGANIZERS, False)) + draw(maybe(STATUSES, False))
    lines += draw(st.lists(good(ATTENDEES), max_size=4))
    lines += draw(st.lists(good(OTHERS), max_size=2))
    wrapper = draw(good(WRAPPERS))
    if bad:
        for x in draw(st.lists(st.sampled_from(ALL_BAD), min_size=1, max_size=2)):
            where = cal_lines if draw(st.integers(0, 4)) == 0 else lines
            where.insert(draw(st.integers(0, len(where))), x)
        wrapper = draw(st.sampled_from([w for w in WRAPPERS if w != BAD]))
    lines = draw(st.permutations(lines))
    fold_at = draw(st.integers(0, 400))
    body = "\r\n".join(["BEGIN:VEVENT", *lines, "END:VEVENT"])
    if wrapper == "second-event":
        body += "\r\nBEGIN:VEVENT\r\nUID:other\r\nDTSTART:20261120T090000Z\r\nEND:VEVENT"
    if wrapper == "timezone":
        body = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n" + body
    elif wrapper == "outlook-zones":
        body = OUTLOOK_ZONES + body
    elif wrapper == "unknown-zone":
        body = UNKNOWN_ZONE + body
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *cal_lines, body, "END:VCALENDAR"]) + "\r\n"
    if wrapper == "lf":
        text = text.replace("\r\n", "\n")
    elif wrapper == "folded" and 0 < fold_at < len(text) and text[fold_at - 1 : fold_at + 1].isalnum():
        text = text[:fold_at] + "\r\n " + text[fold_at:]
    elif wrapper == "junk-after":
        text += "trailing junk\r\n"
    elif wrapper == "no-end":
        text = text.replace("END:VCALENDAR\r\n", "")
    return text


def library(text: str) -> EventRecord | ParseError:
    try:
        return parse_ical(text, TZ, *WINDOW)
    except ParseError as e:
        return e


@scaled(20 / 3)
@given(text=calendars(bad=False))
def test_plain_events_take_the_fast_path_and_equal_the_library(text: str) -> None:
    fast = fast_event(text, TZ, *WINDOW)
    assert fast is not None
    assert fast == library(text)


@scaled(40 / 3)
@given(text=calendars(bad=True))
@example(vcalendar(vevent("e1", NOW - timedelta(days=1), ("ana@example.org",))))
@example(  # CALSCALE twice: a list to the library, which then refuses the calendar
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nCALSCALE:GREGORIAN\r\nBEGIN:VEVENT\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=3\r\nUID:e1\r\nDTSTART:20261120T090000Z\r\nDTEND:20261120T100000Z\r\n"
    "SUMMARY:Coffee\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
def test_fast_events_never_differ_from_the_library(text: str) -> None:
    fast = fast_event(text, TZ, *WINDOW)
    event("fast path answered" if fast is not None else "declined")
    if fast is not None:
        assert fast == library(text)


def test_typical_events_take_the_fast_path() -> None:
    """The events nudge sees most: one-off, UTC / floating / all day, with attendees, alarms, junk."""
    events = [
        vevent("a", NOW - timedelta(days=3), ("ana@example.org", "ben@example.net"), "Coffee"),
        vevent("b", NOW + timedelta(days=2), ("ana@example.org",), extra=("DTEND:20261125T100000Z",)),
        vevent("c", NOW, (), extra=("STATUS:CANCELLED", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC")),
        "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261118\r\nDTEND;VALUE=DATE:20261119\r\n"
        "SUMMARY:Offsite\r\nDESCRIPTION:Bring\\, if you can\\, snacks\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n"
        "TRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
        'BEGIN:VEVENT\r\nUID:e\r\nDTSTART:20261120T090000\r\nATTENDEE;CN="Ruiz, Ana";CUTYPE=INDIVIDUAL;'
        "ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;X-NUM-GUESTS=0:mailto:ana@example.org\r\nEND:VEVENT\r\n",
    ]
    for text in map(vcalendar, events):
        fast = fast_event(text, TZ, *WINDOW)
        assert fast is not None, text
        assert fast == parse_ical(text, TZ, *WINDOW)
        assert parse_object("ical", text, TZ, *WINDOW) == fast


# --- vCards --------------------------------------------------------------------------------------

VERSIONS = ["VERSION:3.0", "VERSION:4.0", BAD, "VERSION:2.1", "VERSION:3.0 "]
CARD_UIDS = ["UID:a1", "UID:urn:uuid:AB-12", "UID: padded ", BAD, "UID:", "UID:a\\,b"]
NAMES = ["FN:Ana Ruiz", "FN:Zoë Ñúñez 李小龍", "FN:", "fn:lower case", BAD, "FN:Ruiz\\, Ana", "FN:Ruiz, Ana"]
NS = ["N:Ruiz;Ana;Maria;Dr.;", "N:Ruiz;Ana", "N:;;;;", "N:Ott;Ben;;;;extra", BAD, "N:Ruiz,Lopez;Ana;;;"]
EMAILS = [
    "EMAIL;TYPE=INTERNET:Ana.Ruiz@Example.org",
    "EMAIL;TYPE=INTERNET,WORK:ana@work.example",
    'EMAIL;TYPE="home,pref":ana@home.example',
    "item1.EMAIL;type=INTERNET;type=pref:ana@icloud.example",
    "EMAIL:",
    "EMAIL:not an address",
    f"EMAIL:{ME}",
    BAD,
    "EMAIL:a@b.example,c@d.example",
    "EMAIL;INTERNET:ana@old.example",
    "EMAIL;CHARSET=UTF-8:ana@charset.example",
    "email;x=1;x=2:dup@example.org",
]
TELS = [
    "TEL;TYPE=CELL:+49 30 1234567",
    "TEL;TYPE=work;VALUE=uri:tel:+1-555-0100",
    "TEL:",
    BAD,
    "TEL:030 1,99",
]
CARD_OTHERS = [
    "ORG:Acme;Engineering",
    "ORG:",
    "ORG:;Dept only",
    "TITLE:CTO",
    "TITLE:  ",
    "BDAY:1985-03-12",
    "BDAY:--0312",
    "BDAY;VALUE=date:19850312",
    "BDAY:1604-03-12",
    "BDAY:garbage",
    "CATEGORIES:Top 100,Friends",
    "CATEGORIES:partner",
    "CATEGORIES:",
    "CATEGORIES:a,,b",
    "NOTE:Met at the conference",
    "NOTE:a;b:c",
    "REV:2026-01-01T00:00:00Z",
    "ADR;TYPE=home:;;Main St 1;Berlin;;10115;Germany",
    "ADR:;;a,b;c",
    "URL:https://example.org/a,b",
    "NICKNAME:Annie",
    "ROLE:Founder",
    "KIND:individual",
    "item1.X-ABLabel:_$!<Other>!$_",
    "X-SOCIALPROFILE;type=twitter:https://x.example/ana",
    "PRODID:-//Apple Inc.//iPhone OS 17//EN",
    # what real address books hold beside (issue 17): escapes, inline and linked photos, more properties
    "ORG:Acme\\, Inc.;Sales",
    "ORG:Acme,Inc",
    "TITLE:CEO\\; boss",
    "NOTE:two\\nlines",
    "NOTE:Met at FOSDEM\\, Brussels\\nlikes tea\\; not coffee",
    "NOTE:a, b",
    "CATEGORIES:a\\,b,c",
    "ADR;TYPE=work:;;Straße 1\\, Hof;Köln;;50667;",
    "item2.ADR;type=HOME;type=pref:;;1 Main St\\nApt 2;Springfield;IL;62701;USA",
    "PHOTO;ENCODING=b;TYPE=JPEG:aGVsbG8=",
    "PHOTO;ENCODING=BASE64;TYPE=JPEG:/9j/4AAQSkZJRg==",
    "PHOTO;VALUE=uri:https://example.org/ana.jpg",
    "PHOTO:data:image/jpeg;base64",
    "LABEL;TYPE=HOME:1 Main St\\nSpringfield",
    "IMPP;X-SERVICE-TYPE=Skype:skype:ana.ruiz",
    "ANNIVERSARY:20100612",
    "GENDER:F",
    "TZ:Europe/Berlin",
    "EMAIL;TYPE=work:ana\\,x@example.org",
    "TEL;VALUE=uri;TYPE=cell:tel:+49-30-1234567",
    "FN:Ruiz\\, Ana",
    "N:Ruiz,Lopez;Ana;;;",
    "N:Ruiz\\;Lopez;Ana;;;",
    BAD,
    "KIND:group",
    "KIND:org",
    "X-ADDRESSBOOKSERVER-KIND:group",
    "MEMBER:urn:uuid:b2",
    "PHOTO;ENCODING=BASE64;TYPE=JPEG:!!notbase64",
    "PHOTO;ENCODING=b:aGVsbG8",
    "PHOTO;BASE64:aGVsbG8=",
    "PHOTO;ENCODING=QUOTED-PRINTABLE:x",
    "NOTE:dangling\\",
    "CATEGORIES:a\\\\,b",
    "NOTE;ENCODING=QUOTED-PRINTABLE:caf=C3=A9",
    "X_UNDERSCORE:x",
    "GEO:geo:52.5,13.4",
    "AGENT:x",
    " folded continuation",
    "",
    "NOCOLON",
    "BEGIN:VCARD",
    "END:VCARD",
]
CARD_WRAPPERS = ["plain", "lf", "no-newline", "folded", BAD, "junk-after", "lower-begin", "cr-inside"]
CARD_LISTS = [VERSIONS, CARD_UIDS, NAMES, NS, EMAILS, TELS, CARD_OTHERS]
CARD_BAD = [x for lines in CARD_LISTS for x in lines[lines.index(BAD) + 1 :]]


@st.composite
def cards(draw: st.DrawFn, bad: bool) -> str:
    """A plain person's card the fast path must read; with `bad`, one or two bad lines or a bad wrapper."""
    lines = [draw(good(VERSIONS)), draw(good(CARD_UIDS)), *draw(maybe(NAMES)), *draw(maybe(NS, False))]
    lines += draw(st.lists(good(EMAILS), max_size=3)) + draw(st.lists(good(TELS), max_size=2))
    lines += draw(st.lists(good(CARD_OTHERS), max_size=4))
    wrapper = draw(good(CARD_WRAPPERS))
    if bad:
        for x in draw(st.lists(st.sampled_from(CARD_BAD), min_size=1, max_size=2)):
            lines.insert(draw(st.integers(0, len(lines))), x)
        wrapper = draw(st.sampled_from([w for w in CARD_WRAPPERS if w != BAD]))
    lines = draw(st.permutations(lines))
    if wrapper == "folded":  # at 75 octets or anywhere, with a space or a tab, as exporters do
        width, tab = draw(st.sampled_from([75, 20, 3])), draw(st.booleans())
        lines = [fold_line(line, width, "\t" if tab else " ") for line in lines]
    text = "\r\n".join(["BEGIN:VCARD", *lines, "END:VCARD"]) + "\r\n"
    if wrapper == "lf":
        text = text.replace("\r\n", "\n")
    elif wrapper == "no-newline":
        text = text[:-2]
    elif wrapper == "junk-after":
        text += "junk\r\n"
    elif wrapper == "lower-begin":
        text = text.replace("BEGIN:VCARD", "begin:vcard", 1)
    elif wrapper == "cr-inside":
        text = text.replace("END:VCARD", "X-CR:a\rb\r\nEND:VCARD")
    return text


def fold_line(line: str, width: int, space: str) -> str:
    """`line` folded every `width` characters (never inside a character)."""
    parts = [line[i : i + width] for i in range(0, len(line), width)]
    return ("\r\n" + space).join(parts)


def library_card(text: str) -> ContactRecord | GroupRecord | ParseError:
    try:
        return parse_vcard(text)
    except ParseError as e:
        return e


@scaled(20 / 3)
@given(text=cards(bad=False))
def test_plain_cards_take_the_fast_path_and_equal_the_library(text: str) -> None:
    """A plain card the library reads as a person is read the same; one it refuses is declined."""
    expected = library_card(text)
    event("a person" if isinstance(expected, ContactRecord) else "refused by the library")
    assert fast_card(text) == (expected if isinstance(expected, ContactRecord) else None)


@scaled(40 / 3)
@given(text=cards(bad=True))
def test_fast_cards_never_differ_from_the_library(text: str) -> None:
    fast = fast_card(text)
    event("fast path answered" if fast is not None else "declined")
    if fast is not None:
        assert fast == library_card(text)


def test_typical_cards_take_the_fast_path() -> None:
    cards = [
        vcard(
            "a", "Ana Ruiz", ("ana@example.org",), ("+49 30 1234567",), "Acme", "CTO", ("top100",), "--0312"
        ),
        vcard("b", "Ben Ott", ("ben@example.net", "ben@work.example")),
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:c\r\nFN:Cem\r\nN:Kaya;Cem;;;\r\nitem1.EMAIL;type=INTERNET:"
        "cem@example.com\r\nitem1.X-ABLabel:_$!<Home>!$_\r\nKIND:individual\r\nREV:2026-01-01T00:00:00Z\r\n"
        "END:VCARD\r\n",
        # nudge's own convention for a person's cadence: read on both paths alike
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:d\r\nFN:Dana Lee\r\nX-NUDGE-CADENCE:14d\r\nEND:VCARD\r\n",
    ]
    for text in cards:
        fast = fast_card(text)
        assert isinstance(fast, ContactRecord), text
        assert fast == parse_vcard(text)
        assert parse_object("vcard", text, TZ, *WINDOW) == fast
    assert fast_card(cards[-1]) is not None and fast_card(cards[-1]).cadence == "14d"  # type: ignore[union-attr]


def test_exported_one_off_events_with_zones_take_the_fast_path() -> None:
    """Outlook's, Google's and Apple's exports: every one-off object, zones and all, is read fast and
    equals the library; a Windows zone name reads as its IANA zone, not as the 1601 rules written in."""
    from nudge.parse.formats import split_events

    taken = 0
    for name in ("outlook", "google", "apple"):
        for path in sorted(EXPORTS.glob(f"{name}*/*.ics")):
            for _, text in split_events(path.read_text(encoding="utf-8")):
                if any(k in text for k in ("RRULE", "RDATE", "RECURRENCE-ID")) or "\r\nUID" not in text:
                    continue
                fast = fast_event(text, TZ, *WINDOW)
                assert fast is not None, text
                assert fast == library(text)
                taken += 1
    assert taken >= 5
    outlook = vcalendar(
        "BEGIN:VEVENT\r\nUID:o\r\nDTSTART;TZID=W. Europe Standard Time:19901010T100000\r\nEND:VEVENT\r\n"
    ).replace("BEGIN:VEVENT", OUTLOOK_ZONES + "BEGIN:VEVENT", 1)
    wide = (datetime(1989, 1, 1, tzinfo=UTC), WINDOW[1])
    icalendar.Calendar.from_ical(outlook)  # icalendar now caches the 1601 zone under the Windows name
    expected = datetime(1990, 10, 10, 10, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    for record in (fast_event(outlook, TZ, *wide), parse_ical(outlook, TZ, *wide)):
        assert record is not None
        assert record.occurrences[0].start == expected  # 09:00 UTC; the 1601 rules say 08:00 (DST)


@scaled(20 / 3)
@given(st.lists(st.sampled_from(["\r\n", "\n", "\r", " ", "\t", "A", ":", "\r\n ", "\r\n\t"]), max_size=30))
def test_unfolding_by_string_operations_equals_icalendars_pattern(pieces: list[str]) -> None:
    """The fast path's unfolding (plain string operations when every break is CRLF) splits any text
    into the same lines as icalendar's unfolding pattern."""
    from nudge.parse.fast import _NEWLINE, _UNFOLD, _unfolded

    text = "".join(pieces)
    assert _unfolded(text) == _NEWLINE.split(_UNFOLD.sub("", text))
