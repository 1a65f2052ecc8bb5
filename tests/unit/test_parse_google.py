"""Google People / Calendar JSON -> records: fields, birthdays, labels, attendees, series."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nudge.core.records import ContactRecord, EventRecord
from nudge.parse import ParseError, parse_object
from nudge.parse.google import SERIES_KIND, parse_event, parse_person

DATA = Path(__file__).parent.parent / "data" / "google"
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin (CET)
WINDOW = (START - timedelta(days=30), START + timedelta(days=60))


def page_person(i: int = 0) -> dict[str, Any]:
    person: dict[str, Any] = json.loads((DATA / "connections_page1.json").read_text())["connections"][i]
    return person


def person(**fields: Any) -> str:
    return json.dumps({"resourceName": "people/c1", "etag": "%E1", **fields})


def ev(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "calendar#event",
        "id": "e1",
        "iCalUID": "e1@google.com",
        "status": "confirmed",
        "summary": "Coffee",
        "start": {"dateTime": "2026-03-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "organizer": {"email": "me@example.com", "self": True},
        "attendees": [
            {"email": "me@example.com", "self": True, "responseStatus": "accepted"},
            {"email": "Ana.Ruiz@Example.org", "displayName": "Ana", "responseStatus": "accepted"},
        ],
    }
    base.update(fields)
    return base


def parse(obj: dict[str, Any], tz: Any = BERLIN) -> EventRecord:
    return parse_event(json.dumps(obj), tz, *WINDOW)


def series(*events: dict[str, Any], zone: str = "Europe/Berlin") -> dict[str, Any]:
    return {"kind": SERIES_KIND, "timeZone": zone, "events": list(events)}


# --- people ------------------------------------------------------------------------------


def test_person_from_a_documented_response() -> None:
    data = page_person() | {"nudge": {"labels": ["My Contacts", "Top 100"]}}
    rec = parse_person(json.dumps(data))
    assert rec == ContactRecord(
        uid="people/c5190150291957425113",
        name="Ana Ruiz",
        emails=("ana.ruiz@example.org",),
        phones=("+49301234567",),
        org="Acme",  # the current job, not the one that ended
        title="CTO",
        birthday="--03-12",
        categories=("My Contacts", "Top 100"),
        note="Met at the Berlin meetup.",
    )


def test_parse_object_dispatches_google_formats() -> None:
    assert isinstance(
        parse_object("google_person", person(names=[{"displayName": "A"}]), UTC, *WINDOW), ContactRecord
    )
    assert isinstance(parse_object("google_event", json.dumps(ev()), UTC, *WINDOW), EventRecord)


def test_name_is_built_from_parts_or_falls_back_to_the_email() -> None:
    parts = parse_person(person(names=[{"givenName": "Ben", "familyName": "Ott", "honorificPrefix": "Dr."}]))
    assert parts.name == "Dr. Ben Ott"
    only_mail = parse_person(person(emailAddresses=[{"value": "x@example.com"}]))
    assert only_mail.name == "x@example.com"


def test_primary_entries_come_first() -> None:
    rec = parse_person(
        person(
            names=[{"displayName": "Old"}, {"displayName": "New", "metadata": {"primary": True}}],
            emailAddresses=[
                {"value": "b@example.com"},
                {"value": "a@example.com", "metadata": {"primary": True}},
            ],
        )
    )
    assert (rec.name, rec.emails) == ("New", ("a@example.com", "b@example.com"))


@pytest.mark.parametrize(
    ("birthdays", "expected"),
    [
        ([{"date": {"year": 1985, "month": 7, "day": 1}}], "1985-07-01"),
        ([{"date": {"month": 2, "day": 29}}], "--02-29"),
        ([{"date": {"year": 0, "month": 12, "day": 24}}], "--12-24"),
        ([{"text": "1990-05-17"}], "1990-05-17"),
        ([{"date": {"month": 2, "day": 30}}], None),
        ([{"date": {"year": 1985}}], None),
    ],
)
def test_birthdays_with_and_without_year(birthdays: list[Any], expected: str | None) -> None:
    assert parse_person(person(names=[{"displayName": "A"}], birthdays=birthdays)).birthday == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not json", "unreadable JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"names": [{"displayName": "A"}]}), "no resourceName"),
        (person(), "no name and no email"),
        (person(metadata={"deleted": True}), "deleted"),
        (person(names="Ana"), "no name and no email"),  # a wrong shape is ignored, not fatal
    ],
)
def test_unusable_people_raise_parse_error(data: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_person(data)


def test_parse_error_carries_the_resource_name() -> None:
    with pytest.raises(ParseError) as info:
        parse_person(person())
    assert info.value.uid == "people/c1"


# --- one-off events ------------------------------------------------------------------------


def test_event_fields() -> None:
    rec = parse(ev())
    assert rec.uid == "e1@google.com" and not rec.recurring
    [occ] = rec.occurrences
    assert occ.start == START and occ.recurrence_id == ""  # a one-off's key does not move with it
    assert (occ.summary, occ.organizer, occ.cancelled) == ("Coffee", "me@example.com", False)
    assert [(a.email, a.name, a.declined, a.person) for a in occ.attendees] == [
        ("ana.ruiz@example.org", "Ana", False, True)
    ]


def test_declines_rooms_and_cancellations() -> None:
    attendees = [
        {"email": "me@example.com", "self": True, "responseStatus": "accepted"},
        {"email": "ana@example.org", "responseStatus": "declined"},
        {"email": "c_1@resource.calendar.google.com", "resource": True, "responseStatus": "accepted"},
    ]
    [occ] = parse(ev(attendees=attendees)).occurrences
    assert [(a.declined, a.person) for a in occ.attendees] == [(True, True), (False, False)]
    assert parse(ev(status="cancelled")).occurrences == ()
    mine = [{"email": "me@example.com", "self": True, "responseStatus": "declined"}, attendees[1]]
    [declined] = parse(ev(attendees=mine)).occurrences
    assert declined.cancelled  # the user said no: as good as cancelled


def test_all_day_event_counts_at_local_noon() -> None:
    [occ] = parse(ev(start={"date": "2026-03-02"})).occurrences
    assert occ.start == datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN).astimezone(UTC)


def test_floating_time_uses_the_event_zone() -> None:
    [occ] = parse(ev(start={"dateTime": "2026-03-02T10:00:00", "timeZone": "America/New_York"})).occurrences
    assert occ.start == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_event_outside_the_window_has_no_occurrence() -> None:
    assert parse(ev(start={"dateTime": "2020-01-01T10:00:00Z"})).occurrences == ()


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (ev(start=None), "no start"),
        (ev(start={"dateTime": "yesterday"}), "bad start"),
        ({"kind": "calendar#event"}, "no iCalUID"),
        (series(), "no events"),
    ],
)
def test_unusable_events_raise_parse_error(obj: dict[str, Any], reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse(obj)


# --- series ---------------------------------------------------------------------------------


def weekly(*rules: str) -> dict[str, Any]:
    return ev(id="w", iCalUID="w@google.com", summary="1:1", recurrence=list(rules or ["RRULE:FREQ=WEEKLY"]))


def test_series_is_expanded_in_its_zone_across_daylight_saving() -> None:
    rec = parse(series(weekly("RRULE:FREQ=WEEKLY;COUNT=6")))
    assert rec.recurring
    local = [o.start.astimezone(BERLIN).strftime("%m-%d %H:%M") for o in rec.occurrences]
    assert local == ["03-02 10:00", "03-09 10:00", "03-16 10:00", "03-23 10:00", "03-30 10:00", "04-06 10:00"]
    assert rec.occurrences[4].recurrence_id == "20260330T080000Z"  # summer time


def test_exdate_moved_and_deleted_instances() -> None:
    master = weekly("RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/Berlin:20260309T100000")
    moved = ev(
        id="w_20260316T090000Z",
        iCalUID="w@google.com",
        summary="1:1 (moved)",
        recurringEventId="w",
        originalStartTime={"dateTime": "2026-03-16T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        start={"dateTime": "2026-03-17T15:00:00+01:00"},
    )
    deleted = {
        "id": "w_20260323T090000Z",
        "status": "cancelled",
        "recurringEventId": "w",
        "originalStartTime": {"dateTime": "2026-03-23T10:00:00+01:00"},
    }
    rec = parse(series(master, moved, deleted))
    assert [(o.start.astimezone(BERLIN).strftime("%d %H"), o.summary) for o in rec.occurrences] == [
        ("02 10", "1:1"),
        ("17 15", "1:1 (moved)"),
        ("30 10", "1:1"),
    ]
    assert rec.occurrences[1].recurrence_id == "20260316T090000Z"  # the original time, as in CalDAV


def test_endless_series_says_when_to_look_again() -> None:
    rec = parse(series(weekly()))
    assert rec.occurrences[-1].start <= WINDOW[1]
    assert rec.next_after_window is not None and rec.next_after_window > WINDOW[1]
    assert rec.next_after_window - rec.occurrences[-1].start == timedelta(days=7)


def test_all_day_series() -> None:
    master = weekly("RRULE:FREQ=DAILY;COUNT=3") | {"start": {"date": "2026-03-02"}}
    rec = parse(series(master))
    assert [o.start.astimezone(BERLIN).strftime("%d %H") for o in rec.occurrences] == [
        "02 12",
        "03 12",
        "04 12",
    ]


def test_cancelled_master_leaves_only_live_exceptions() -> None:
    gone = weekly() | {"status": "cancelled"}
    assert parse(series(gone)).occurrences == ()
    single = ev(id="w_x", recurringEventId="w", originalStartTime={"dateTime": "2026-03-02T10:00:00+01:00"})
    assert [o.summary for o in parse(series(single)).occurrences] == ["Coffee"]  # invited to one instance


def test_recurrence_lines_are_filtered() -> None:
    master = weekly(
        "RRULE:FREQ=WEEKLY;COUNT=2", "X-EVIL:1", "EXDATE:20260309T090000Z\r\nATTENDEE:mailto:x@y.z"
    )
    assert len(parse(series(master)).occurrences) == 2
