"""Zones by name: IANA and Outlook's Windows names come from the zone database, others from the object."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from nudge.parse.zones import drop_known_timezones, known_zone

BERLIN_OUTLOOK = (
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011028T030000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
CUSTOM = (
    "BEGIN:VTIMEZONE\r\nTZID:Custom\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


def test_names_resolve_through_the_database_and_cldrs_windows_map() -> None:
    assert known_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert known_zone("/Europe/Berlin") == ZoneInfo("Europe/Berlin")  # icalendar strips the slashes too
    assert known_zone("W. Europe Standard Time") == ZoneInfo("Europe/Berlin")
    assert known_zone("Eastern Standard Time") == ZoneInfo("America/New_York")
    assert known_zone("Tokyo Standard Time") == ZoneInfo("Asia/Tokyo")
    for unknown in ("Custom", "", "Mars/Olympus_Mons", "../etc/passwd", "Europe/Berlin\\"):
        assert known_zone(unknown) is None


def test_only_blocks_of_known_names_are_dropped() -> None:
    folded = BERLIN_OUTLOOK.replace("TZID:W. Europe Standard Time", "TZID:W. Europe Stan\r\n dard Time")
    event = "BEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\n"
    text = f"BEGIN:VCALENDAR\r\n{BERLIN_OUTLOOK}{CUSTOM}{folded}{event}END:VCALENDAR\r\n"
    assert drop_known_timezones(text) == f"BEGIN:VCALENDAR\r\n{CUSTOM}{event}END:VCALENDAR\r\n"
    lf = text.replace("\r\n", "\n")
    assert drop_known_timezones(lf) == f"BEGIN:VCALENDAR\n{CUSTOM}{event}END:VCALENDAR\n".replace(
        "\r\n", "\n"
    )


def test_tzid_parameters_are_rewritten_to_their_iana_names() -> None:
    from nudge.parse.zones import by_iana_name

    assert by_iana_name('DTSTART;TZID="W. Europe Standard Time":20261120T090000') == (
        "DTSTART;TZID=Europe/Berlin:20261120T090000"
    )
    assert by_iana_name("DTEND;TZID=/Europe/London;X-A=1:20261120T090000") == (
        "DTEND;TZID=Europe/London;X-A=1:20261120T090000"
    )
    kept_as_written = (
        "DTSTART;TZID=Custom:20261120T090000",
        "SUMMARY:a;TZID=W. Europe Standard Time",
        'SUMMARY;X-A="b:c":d;TZID=W. Europe Standard Time',
    )
    for kept in kept_as_written:
        assert by_iana_name(kept) == kept
