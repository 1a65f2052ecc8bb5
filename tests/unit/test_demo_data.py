"""Checks that the generated demo data tells the story `nudge demo` relies on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject

from nudge.demo.data import ME_EMAIL, DemoFiles, write_demo_data

TODAY = date(2025, 11, 19)
TZ = ZoneInfo("Europe/Berlin")
# Different weekdays, hemispheres, DST edges and a Feb 29 inside the birthday window.
SCENARIOS = [
    (TODAY, TZ),
    (date(2024, 2, 24), ZoneInfo("America/New_York")),
    (date(2026, 3, 28), ZoneInfo("Australia/Sydney")),
    (date(2025, 6, 1), ZoneInfo("UTC")),
]
PHONE = re.compile(r"^(\+1 \d{3} 555 01\d\d|\+44 20 7946 0\d{3})$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return write_demo_data(tmp_path_factory.mktemp("demo") / "nested" / "dir", TODAY, TZ)


def cards(path: Path) -> dict[str, Any]:
    return {c.uid.value: c for c in vobject.readComponents(path.read_text(encoding="utf-8"))}


def emails(card: Any) -> list[str]:
    return [e.value for e in card.contents.get("email", [])]


def categories(card: Any) -> list[str]:
    return card.categories.value if "categories" in card.contents else []


def job(card: Any) -> tuple[str, str]:
    return (";".join(card.org.value), card.title.value)


def calendar(files: DemoFiles) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(files.calendar.read_bytes())


def expand(cal: icalendar.Calendar, today: date) -> list[icalendar.Event]:
    return list(
        recurring_ical_events.of(cal).between(today - timedelta(days=365), today + timedelta(days=14))
    )


def attendees(ev: icalendar.Event) -> list[icalendar.vCalAddress]:
    att = ev.get("attendee", [])
    return att if isinstance(att, list) else [att]  # a lone ATTENDEE is not wrapped in a list


def addresses(ev: icalendar.Event) -> Iterator[tuple[str, str]]:
    """(lowercased email, partstat) for each attendee."""
    for a in attendees(ev):
        yield str(a).split(":", 1)[1].lower(), a.params.get("PARTSTAT", "")


def test_files_are_written_into_a_fresh_directory(demo: DemoFiles) -> None:
    for path in (demo.contacts_before, demo.contacts_after, demo.calendar):
        assert path.is_file()
        assert path.parent.name == "dir"
    assert demo.contacts_before.suffix == demo.contacts_after.suffix == ".vcf"
    assert demo.calendar.suffix == ".ics"


def test_snapshot_sizes_and_required_fields(demo: DemoFiles) -> None:
    before, after = cards(demo.contacts_before), cards(demo.contacts_after)
    assert len(before) == 160
    assert len(after) == 161
    for card in [*before.values(), *after.values()]:
        assert card.version.value == "3.0"
        for key in ("fn", "n", "email", "org", "title"):
            assert key in card.contents, (card.uid.value, key)
    assert re.fullmatch(r"demo-\d{3}", min(before))
    with_tel = [c for c in before.values() if "tel" in c.contents]
    assert len(with_tel) > 120
    assert all(PHONE.match(c.tel.value) for c in with_tel)
    assert sum("note" in c.contents for c in before.values()) >= 2
    assert sum(len(emails(c)) == 2 for c in before.values()) >= 20


def test_categories(demo: DemoFiles) -> None:
    before, after = cards(demo.contacts_before), cards(demo.contacts_after)
    assert sum("top100" in categories(c) for c in before.values()) == 100
    assert sum("partner" in categories(c) for c in before.values()) == 8
    assert sum("top100" in categories(c) for c in after.values()) == 101
    assert any("family" in categories(c) for c in before.values())
    assert any(not categories(c) for c in before.values())


def test_snapshot_two_differs_by_jobs_arrivals_and_one_departure(demo: DemoFiles) -> None:
    before, after = cards(demo.contacts_before), cards(demo.contacts_after)
    removed, added = set(before) - set(after), set(after) - set(before)
    assert len(removed) == 1
    assert not {"top100", "partner"} & set(categories(before[removed.pop()]))
    assert len(added) == 2
    assert sum("top100" in categories(after[uid]) for uid in added) == 1
    changed = [uid for uid in set(before) & set(after) if job(before[uid]) != job(after[uid])]
    assert len(changed) == 4
    for uid in changed:
        assert "top100" in categories(before[uid])
        assert emails(before[uid]) == emails(after[uid])
    unchanged = set(before) & set(after) - set(changed)
    assert all(before[u].serialize() == after[u].serialize() for u in unchanged)


def test_emails_are_unique_and_on_reserved_domains(demo: DemoFiles) -> None:
    before, after = cards(demo.contacts_before), cards(demo.contacts_after)
    everyone = {**before, **after}
    all_emails = [e for c in everyone.values() for e in emails(c)]
    assert len(all_emails) == len(set(all_emails))
    assert all(e == e.lower() for e in all_emails)
    assert all(re.fullmatch(r"[a-z0-9.-]+@example\.(com|org|net)", e) for e in all_emails)
    work = [e.value for c in before.values() for e in c.contents["email"] if "WORK" in e.params["TYPE"]]
    assert work
    assert all(e.endswith("@example.com") for e in work)


@pytest.mark.parametrize(("today", "tz"), SCENARIOS)
def test_birthdays_mix_formats_and_three_fall_in_the_next_week(
    tmp_path: Path, today: date, tz: ZoneInfo
) -> None:
    before = cards(write_demo_data(tmp_path, today, tz).contacts_before)
    bdays = [c.bday.value for c in before.values() if "bday" in c.contents]
    assert any(b.startswith("--") for b in bdays)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", b) for b in bdays)
    for b in bdays:
        if not b.startswith("--"):
            date.fromisoformat(b)  # a real date, even for Feb 29
    week = {(today + timedelta(days=k)).strftime("%m-%d") for k in range(1, 8)}
    assert sum(b[-5:] in week for b in bdays) == 3
    assert not any(b[-5:] == today.strftime("%m-%d") for b in bdays)


def test_every_event_is_complete_and_involves_me(demo: DemoFiles) -> None:
    cal = calendar(demo)
    assert cal["prodid"] and str(cal["version"]) == "2.0"
    assert [str(t["tzid"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    events = cal.walk("VEVENT")
    assert 250 <= len(events) <= 300
    known = {e for c in cards(demo.contacts_after).values() for e in emails(c)}
    for ev in events:
        for key in ("uid", "dtstamp", "dtstart", "summary"):
            assert key in ev, key
        assert "dtend" in ev or "duration" in ev
        people = dict(addresses(ev))
        organizer = str(ev["organizer"]).split(":", 1)[1].lower()
        assert ME_EMAIL in people or organizer == ME_EMAIL
        assert set(people) - {ME_EMAIL} <= known


def test_special_events(demo: DemoFiles) -> None:
    events = calendar(demo).walk("VEVENT")
    assert sum(ev.get("status") == "CANCELLED" for ev in events) == 1
    declined = [ev for ev in events if "DECLINED" in dict(addresses(ev)).values()]
    assert len(declined) == 1
    big = [ev for ev in events if len(set(dict(addresses(ev))) - {ME_EMAIL}) > 8]
    assert len(big) == 2
    raw = [str(a) for ev in events for a in attendees(ev)]
    shouty = [a for a in raw if a.startswith("MAILTO:") and a != a.lower()]
    assert len(shouty) >= 4


def test_meeting_history_has_frequent_lapsed_and_never_met_people(demo: DemoFiles) -> None:
    before = cards(demo.contacts_before)
    owner = {e: uid for uid, c in before.items() for e in emails(c)}
    last_met: dict[str, date] = {}
    for ev in expand(calendar(demo), TODAY):
        if ev.get("status") == "CANCELLED" or ev.start.date() > TODAY:
            continue
        for email, partstat in addresses(ev):
            if email in owner and partstat != "DECLINED":
                uid = owner[email]
                last_met[uid] = max(last_met.get(uid, date.min), ev.start.date())
    top = [uid for uid, c in before.items() if "top100" in categories(c)]
    ago = {uid: (TODAY - last_met[uid]).days for uid in top if uid in last_met}
    assert len(top) - len(ago) == 15  # never met
    assert sum(d <= 30 for d in ago.values()) >= 20
    assert sum(60 <= d <= 185 for d in ago.values()) >= 20


def test_recurring_series_expand_with_exdate_and_override(demo: DemoFiles) -> None:
    cal = calendar(demo)
    events = cal.walk("VEVENT")
    series = [ev for ev in events if "rrule" in ev]
    assert len(series) == 3
    occurrences = expand(cal, TODAY)
    by_uid: dict[str, list[datetime]] = {}
    for ev in occurrences:
        by_uid.setdefault(str(ev["uid"]), []).append(ev.start)

    with_exdate = [ev for ev in series if "exdate" in ev]
    assert len(with_exdate) == 1
    ex = with_exdate[0]
    exdates = [d.dt for d in ex["exdate"].dts]
    assert exdates
    starts = by_uid[str(ex["uid"])]
    assert len(starts) > 30
    assert not set(exdates) & set(starts)
    assert exdates[0] - timedelta(weeks=1) in starts

    (override,) = [ev for ev in events if "recurrence-id" in ev]
    parent = next(ev for ev in series if ev["uid"] == override["uid"])
    assert parent["rrule"]["INTERVAL"] == [2]
    original, moved = override["recurrence-id"].dt, override.start
    assert original != moved
    starts = by_uid[str(override["uid"])]
    assert moved in starts
    assert original not in starts

    ended = [ev for ev in series if "UNTIL" in ev["rrule"]]
    assert len(ended) == 1
    until = ended[0]["rrule"]["UNTIL"][0]
    assert until.tzinfo is not None
    assert until.date() < TODAY - timedelta(days=55)
    assert max(by_uid[str(ended[0]["uid"])]) <= until


@pytest.mark.parametrize(("today", "tz"), SCENARIOS)
def test_future_meetings_in_the_next_two_weeks(tmp_path: Path, today: date, tz: ZoneInfo) -> None:
    cal = calendar(write_demo_data(tmp_path, today, tz))
    horizon = today + timedelta(days=14)
    one_offs = [
        ev
        for ev in cal.walk("VEVENT")
        if "rrule" not in ev and today < ev.start.date() < horizon and ev.get("status") != "CANCELLED"
    ]
    assert 6 <= len(one_offs) <= 10
    expanded = [ev for ev in expand(cal, today) if ev.start.date() > today]
    assert len(expanded) >= len(one_offs) + 2  # the ongoing series continue too
    first = min(ev.start for ev in cal.walk("VEVENT"))
    assert first.date() >= today - timedelta(days=365)


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    a = write_demo_data(tmp_path / "a", TODAY, TZ)
    b = write_demo_data(tmp_path / "b", TODAY, TZ)
    for pa, pb in zip(
        (a.contacts_before, a.contacts_after, a.calendar),
        (b.contacts_before, b.contacts_after, b.calendar),
        strict=True,
    ):
        assert pa.read_bytes() == pb.read_bytes()
    c = write_demo_data(tmp_path / "c", TODAY, TZ, seed=8)
    assert c.contacts_before.read_bytes() != a.contacts_before.read_bytes()


def test_a_different_today_shifts_the_dates(demo: DemoFiles, tmp_path: Path) -> None:
    later = write_demo_data(tmp_path, TODAY + timedelta(weeks=4), TZ)

    def starts(files: DemoFiles) -> dict[tuple[str, bool], datetime]:
        return {
            (str(ev["uid"]), "recurrence-id" in ev): ev.start.replace(tzinfo=None)
            for ev in calendar(files).walk("VEVENT")
        }

    old, new = starts(demo), starts(later)
    assert old.keys() == new.keys()
    assert all(new[k] - old[k] == timedelta(weeks=4) for k in old)
    # The cast (and so who changed jobs) does not depend on the date.
    before, after = cards(demo.contacts_after), cards(later.contacts_after)
    assert {u: job(c) for u, c in before.items()} == {u: job(c) for u, c in after.items()}
