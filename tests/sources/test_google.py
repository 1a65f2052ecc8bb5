"""The Google sources against a fake Google: contract, paging, tokens, faults, OAuth.

`FakeGoogle` stands in for the network under the real client stack
(googleapiclient with static discovery -> google-auth-httplib2 -> here): it
keeps people, labels, calendars and events, and answers list calls with pages
and sync tokens in the documented shapes. Scenario tests that pin exact
request sequences use googleapiclient's own `HttpMockSequence` instead.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httplib2
import icalendar
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.http import HttpMockSequence

from nudge.core.records import ContactRecord, EventRecord
from nudge.errors import InvalidSyncToken, SourceError, UserError
from nudge.parse.google import SERIES_KIND, parse_event, parse_person
from nudge.parse.vcard import parse_vcard
from nudge.sources import google_auth, load_source, options_problems, source_class
from nudge.sources.base import Changes, Item, Kind, Source
from nudge.sources.google import SERIES_KIND as SOURCE_SERIES_KIND
from nudge.sources.google import (
    GoogleCalendarSource,
    GoogleContactsSource,
    GoogleOptions,
)
from tests.builders import ME, vcalendar
from tests.sources import contract
from tests.sources.contract import Backend, CombinedSource, TokenTests

DATA = Path(__file__).parent.parent / "data" / "google"
CAL = "me@example.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"

# --- documented shapes -----------------------------------------------------------------


def person(
    pid: str,
    name: str,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    org: str | None = None,
    title: str | None = None,
    labels: Iterable[str] = (),
    birthday: dict[str, int] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """A People API person as connections.list returns it (etag added by the fake)."""
    p: dict[str, Any] = {
        "resourceName": f"people/{pid}",
        "metadata": {"sources": [{"type": "CONTACT", "id": pid}], "objectType": "PERSON"},
        "names": [{"metadata": {"primary": True}, "displayName": name, "givenName": name.partition(" ")[0]}],
    }
    if emails:
        p["emailAddresses"] = [{"value": e, "type": "work"} for e in emails]
    if phones:
        p["phoneNumbers"] = [{"value": t} for t in phones]
    if org or title:
        p["organizations"] = [{"metadata": {"primary": True}, "name": org, "title": title, "current": True}]
    p["memberships"] = [
        {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}},
        *({"contactGroupMembership": {"contactGroupResourceName": f"contactGroups/{g}"}} for g in labels),
    ]
    if birthday:
        p["birthdays"] = [{"date": birthday}]
    if note:
        p["biographies"] = [{"value": note, "contentType": "TEXT_PLAIN"}]
    return p


def event(
    eid: str,
    start: datetime | None,
    attendees: Iterable[str] = (),
    summary: str = "Meeting",
    organizer: str = ME,
    **extra: Any,
) -> dict[str, Any]:
    """A Calendar API event as events.list returns it (etag added by the fake)."""
    e: dict[str, Any] = {"kind": "calendar#event", "id": eid, "iCalUID": f"{eid}@google.com"}
    e["status"] = "confirmed"
    e["summary"] = summary
    e["organizer"] = {"email": organizer, **({"self": True} if organizer == ME else {})}
    if start is not None:
        e["start"] = {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"}
        e["end"] = {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Berlin"}
    e["attendees"] = [
        {"email": ME, "self": True, "responseStatus": "accepted"},
        *({"email": a, "responseStatus": "accepted"} for a in attendees),
    ]
    e.update(extra)
    return e


def error(status: int, reason: str, message: str, style: str = "calendar") -> dict[str, Any]:
    if style == "people":
        body = {"code": status, "message": message, "status": reason}
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
        return {"error": body}
    return {"error": {"errors": [{"domain": "global", "reason": reason, "message": message}], "code": status}}


GONE_PEOPLE = error(
    410, "EXPIRED_SYNC_TOKEN", "Sync token is expired. Clear local cache and retry.", "people"
)
GONE_CALENDAR = error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")


# --- the fake ----------------------------------------------------------------------------


class FakeHTTP:
    """What every fake Google endpoint shares: a request log, injected faults, JSON replies.

    A fault `(needle, status, body)` answers the next request whose URI holds
    `needle`; everything else goes to the subclass's `answer`.
    """

    def __init__(self) -> None:
        self.faults: list[tuple[str, int, dict[str, Any]]] = []
        self.log: list[str] = []

    def request(
        self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any
    ) -> tuple[httplib2.Response, bytes]:
        self.log.append(f"{method} {uri}")
        for i, (needle, status, payload) in enumerate(self.faults):
            if needle in uri:
                del self.faults[i]
                return self.reply(payload, status)
        return self.answer(uri, method, body, headers or {})

    def answer(self, uri: str, method: str, body: Any, headers: Any) -> tuple[httplib2.Response, bytes]:
        raise NotImplementedError

    @staticmethod
    def reply(payload: Any, status: int = 200) -> tuple[httplib2.Response, bytes]:
        resp = httplib2.Response({"status": str(status), "content-type": "application/json"})
        return resp, json.dumps(payload).encode()


class FakeGoogle(FakeHTTP):
    """A stateful stand-in for people.googleapis.com, www.googleapis.com/calendar and the token endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0
        self.people: dict[str, dict[str, Any]] = {}
        self.groups = {"myContacts": ("myContacts", "My Contacts", "SYSTEM_CONTACT_GROUP")}
        self.calendars = [{"id": CAL, "summary": CAL, "primary": True, "timeZone": "Europe/Berlin"}]
        self.events: dict[str, dict[str, dict[str, Any]]] = {CAL: {}}
        self.changed: dict[tuple[str, str], int] = {}
        self.ical: dict[tuple[str, str], str] = {}  # kept for tombstones, which do not show it
        self.page_size = 1000
        self.expired_before = 0  # sync tokens older than this get 410
        self.refresh_error: str | None = None

    # writers
    def _bump(self, key: tuple[str, str], obj: dict[str, Any]) -> None:
        self.seq += 1
        self.changed[key] = self.seq
        obj["etag"] = f'"{self.seq:08d}"'

    def put_person(self, p: dict[str, Any]) -> None:
        p = json.loads(json.dumps(p))
        self._bump(("people", p["resourceName"]), p)
        self.people[p["resourceName"]] = p

    def delete_person(self, resource: str) -> None:
        tomb = {"resourceName": resource, "metadata": {"deleted": True}}
        self._bump(("people", resource), tomb)
        self.people[resource] = tomb

    def label(self, gid: str, name: str) -> None:
        self.groups[gid] = (name, name, "USER_CONTACT_GROUP")

    def put_event(self, e: dict[str, Any], cal: str = CAL) -> None:
        e = json.loads(json.dumps(e))
        self._bump((cal, e["id"]), e)
        self.events[cal][e["id"]] = e
        self.ical[(cal, e["id"])] = e.get("iCalUID") or self.ical.get((cal, e["id"]), "")

    def delete_event(self, eid: str, cal: str = CAL) -> None:
        old = self.events[cal][eid]
        keep = ("kind", "id", "recurringEventId", "originalStartTime")
        tomb = {k: old[k] for k in keep if k in old} | {"status": "cancelled"}
        self._bump((cal, eid), tomb)
        self.events[cal][eid] = tomb

    # the HTTP side
    def answer(self, uri: str, method: str, body: Any, headers: Any) -> tuple[httplib2.Response, bytes]:
        url = urlsplit(uri)
        q = {k: v if k == "resourceNames" else v[0] for k, v in parse_qs(url.query).items()}
        path = unquote(url.path)
        if uri.startswith(TOKEN_URI):
            return self._token()
        if path == "/v1/people/me/connections":
            return self._connections(q)
        if path == "/v1/contactGroups":
            return self.reply({"contactGroups": [self._group(g) for g in self.groups]})
        if path == "/v1/people:batchGet":
            return self._batch(q["resourceNames"])
        if path == "/calendar/v3/users/me/calendarList":
            return self.reply({"kind": "calendar#calendarList", "items": self.calendars})
        if path.startswith("/calendar/v3/calendars/"):
            cal, _, rest = path.removeprefix("/calendar/v3/calendars/").partition("/events")
            if rest.startswith("/"):
                found = self.events.get(cal, {}).get(rest[1:])
                return self.reply(found) if found else self.reply(error(404, "notFound", "Not Found"), 404)
            return self._events(cal, q)
        return self.reply(error(404, "notFound", f"no route for {path}"), 404)

    def _token(self) -> tuple[httplib2.Response, bytes]:
        if self.refresh_error:
            return self.reply(
                {"error": self.refresh_error, "error_description": "Token has been revoked."}, 400
            )
        return self.reply({"access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer"})

    def _group(self, gid: str) -> dict[str, Any]:
        name, formatted, kind = self.groups[gid]
        return {
            "resourceName": f"contactGroups/{gid}",
            "name": name,
            "formattedName": formatted,
            "groupType": kind,
        }

    def _since(self, token: str | None, space: str) -> int | None:
        """None: a full listing; a number: changes after it. Raises _Refused."""
        if token is None:
            return None
        if not token.startswith("tok") or not token[3:].isdigit():
            raise _Refused(
                400, error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", space)
            )
        if int(token[3:]) < self.expired_before:
            raise _Refused(410, GONE_PEOPLE if space == "people" else GONE_CALENDAR)
        return int(token[3:])

    def _page(self, objects: list[dict[str, Any]], q: dict[str, Any], size_key: str) -> tuple[list[Any], Any]:
        start = int(q.get("pageToken", 0))
        size = min(int(q.get(size_key, 100)), self.page_size)
        more = start + size < len(objects)
        return objects[start : start + size], str(start + size) if more else None

    def _connections(self, q: dict[str, Any]) -> tuple[httplib2.Response, bytes]:
        try:
            since = self._since(q.get("syncToken"), "people")
        except _Refused as r:
            return self.reply(r.payload, r.status)
        chosen = [
            p
            for rn, p in sorted(self.people.items())
            if (since is None and not p.get("metadata", {}).get("deleted"))
            or (since is not None and self.changed[("people", rn)] > since)
        ]
        page, next_page = self._page(chosen, q, "pageSize")
        out: dict[str, Any] = {"connections": page, "totalItems": len(chosen)} if page else {}
        if next_page:
            out["nextPageToken"] = next_page
        elif q.get("requestSyncToken") == "true" or "syncToken" in q:
            out["nextSyncToken"] = f"tok{self.seq}"
        return self.reply(out)

    def _batch(self, names: list[str]) -> tuple[httplib2.Response, bytes]:
        responses = []
        for rn in names:
            p = self.people.get(rn)
            if p is None or p.get("metadata", {}).get("deleted"):
                responses.append({"requestedResourceName": rn, "status": {"code": 5, "message": "Not found"}})
            else:
                responses.append({"requestedResourceName": rn, "httpStatusCode": 200, "person": p})
        return self.reply({"responses": responses})

    def _events(self, cal: str, q: dict[str, Any]) -> tuple[httplib2.Response, bytes]:
        if cal not in self.events:
            return self.reply(error(404, "notFound", "Not Found"), 404)
        try:
            since = self._since(q.get("syncToken"), "calendar")
        except _Refused as r:
            return self.reply(r.payload, r.status)
        deleted_too = q.get("showDeleted") == "true" or since is not None
        chosen = [
            e
            for eid, e in sorted(self.events[cal].items())
            if (since is None or self.changed[(cal, eid)] > since)
            and (deleted_too or e.get("status") != "cancelled" or e.get("recurringEventId"))
            and ("iCalUID" not in q or self.ical.get((cal, eid)) == q["iCalUID"])
        ]
        page, next_page = self._page(chosen, q, "maxResults")
        out: dict[str, Any] = {"kind": "calendar#events", "timeZone": "Europe/Berlin", "items": page}
        if next_page:
            out["nextPageToken"] = next_page
        elif "iCalUID" not in q:
            out["nextSyncToken"] = f"tok{self.seq}"
        return self.reply(out)


class _Refused(Exception):
    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        self.status, self.payload = status, payload


# --- fixtures -------------------------------------------------------------------------------


def store_token(
    account: str = "default", expired: bool = False, scopes: Iterable[str] = google_auth.SCOPES
) -> Path:
    expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=-1 if expired else 1)
    creds = Credentials(
        token="ya29.valid",
        refresh_token="1//refresh-secret",
        token_uri=TOKEN_URI,
        client_id="id.apps.googleusercontent.com",
        client_secret="client-secret",
        scopes=list(scopes),
        expiry=expiry,
    )
    return google_auth.save_credentials(account, creds)


@pytest.fixture
def fake() -> FakeGoogle:
    store_token()
    return FakeGoogle()


def contacts_source(http: Any, name: str = "gc", **options: Any) -> GoogleContactsSource:
    return GoogleContactsSource(name, GoogleOptions(**options), http=http, sleep=lambda s: None)


def calendar_source(http: Any, name: str = "gcal", **options: Any) -> GoogleCalendarSource:
    return GoogleCalendarSource(name, GoogleOptions(**options), http=http, sleep=lambda s: None)


def people_of(source: Source, changes: Changes) -> dict[str, ContactRecord]:
    [coll] = source.collections()
    out = {}
    for item in source.fetch(coll, list(changes.changed)):
        assert isinstance(item, Item)
        out[item.href] = parse_person(item.data)
    return out


# --- the contract -------------------------------------------------------------------------


class GoogleBackend(Backend):
    """Writes the suite's vCards and VEVENTs into the fake as People / Calendar JSON."""

    def __init__(self) -> None:
        self.fake = FakeGoogle()
        self.source = self.reopen()

    def put(self, kind: Kind, uid: str, text: str) -> None:
        if kind == "contacts":
            rec = parse_vcard(text)
            self.fake.put_person(person(uid, rec.name, rec.emails, rec.phones, rec.org, rec.title))
            return
        [ve] = icalendar.Calendar.from_ical(vcalendar(text)).walk("VEVENT")
        attendees = [str(a).removeprefix("mailto:") for a in ve.get("ATTENDEE", [])]
        organizer = str(ve["ORGANIZER"]).removeprefix("mailto:")
        e = event(
            f"ev{uid}", ve["DTSTART"].dt, [a for a in attendees if a != ME], str(ve["SUMMARY"]), organizer
        )
        e["iCalUID"] = uid
        self.fake.put_event(e)

    def delete(self, kind: Kind, uid: str) -> None:
        if kind == "contacts":
            self.fake.delete_person(f"people/{uid}")
        else:
            self.fake.delete_event(f"ev{uid}")

    def reopen(self) -> Source:
        return CombinedSource(contacts_source(self.fake), calendar_source(self.fake))


def _google_uid(item: Item) -> str:
    if item.format == "google_person":
        return parse_person(item.data).uid.removeprefix("people/")
    return parse_event(item.data, UTC, *contract.WINDOW).uid


def _as_contact(data: str) -> ContactRecord:
    return parse_person(data)


def _as_event(data: str, tz: Any, start: datetime, end: datetime) -> EventRecord:
    return parse_event(data, tz, start, end)


class TestGoogleSource(TokenTests):
    """The contract suite; its vCard/iCal readers are swapped for the Google JSON ones."""

    @pytest.fixture(autouse=True)
    def _google_formats(self, monkeypatch: pytest.MonkeyPatch) -> None:
        store_token()
        monkeypatch.setattr(contract, "FORMATS", {"contacts": "google_person", "events": "google_event"})
        monkeypatch.setattr(contract, "parse_uid", _google_uid)
        monkeypatch.setattr(contract, "parse_vcard", _as_contact)
        monkeypatch.setattr(contract, "parse_ical", _as_event)

    def make(self, tmp_path: Path) -> Backend:
        return GoogleBackend()


# --- contacts ---------------------------------------------------------------------------------


def test_full_listing_follows_pages_and_keeps_objects_for_fetch(fake: FakeGoogle) -> None:
    fake.page_size = 2
    for i in range(5):
        fake.put_person(person(f"c{i}", f"Person {i}", [f"p{i}@example.com"]))
    source = contacts_source(fake)
    changes = source.changes(source.COLLECTION, None)
    assert changes.complete and len(changes.changed) == 5 and changes.token
    listed = len(fake.log)
    assert sum("connections" in line for line in fake.log) == 3
    assert {r.name for r in people_of(source, changes).values()} == {f"Person {i}" for i in range(5)}
    assert len(fake.log) == listed  # fetch came from memory


def test_increment_reports_additions_changes_and_deletions(fake: FakeGoogle) -> None:
    for i in range(3):
        fake.put_person(person(f"c{i}", f"Person {i}", [f"p{i}@example.com"]))
    source = contacts_source(fake)
    token = source.changes(source.COLLECTION, None).token
    fake.put_person(person("c1", "Person One", ["p1@example.com"], title="CTO"))
    fake.put_person(person("c9", "New Person", ["new@example.com"]))
    fake.delete_person("people/c2")
    changes = contacts_source(fake).changes(source.COLLECTION, token)
    assert not changes.complete
    assert set(changes.changed) == {"people/c1", "people/c9"}
    assert changes.deleted == {"people/c2"}
    assert changes.token not in (None, token)


def test_merged_person_reports_its_old_name_as_deleted(fake: FakeGoogle) -> None:
    fake.put_person(person("c1", "Ana", ["ana@example.com"]))
    source = contacts_source(fake)
    token = source.changes(source.COLLECTION, None).token
    merged = person("c7", "Ana Ruiz", ["ana@example.com"])
    merged["metadata"]["previousResourceNames"] = ["people/c1"]
    fake.put_person(merged)
    changes = source.changes(source.COLLECTION, token)
    assert (set(changes.changed), changes.deleted) == ({"people/c7"}, {"people/c1"})


def test_labels_travel_with_the_person_by_name(fake: FakeGoogle) -> None:
    fake.label("abc123", "Top 100")
    fake.put_person(person("c1", "Ana", ["ana@example.com"], labels=["abc123"]))
    source = contacts_source(fake)
    [rec] = people_of(source, source.changes(source.COLLECTION, None)).values()
    assert rec.categories == ("My Contacts", "Top 100")


def test_renamed_label_makes_the_increment_a_full_listing(fake: FakeGoogle) -> None:
    fake.label("abc123", "VIP")
    fake.put_person(person("c1", "Ana", ["ana@example.com"], labels=["abc123"]))
    first = contacts_source(fake).changes(GoogleContactsSource.COLLECTION, None)
    fake.label("abc123", "Top 100")
    source = contacts_source(fake)
    changes = source.changes(source.COLLECTION, first.token)
    assert changes.complete
    assert changes.changed["people/c1"] != first.changed["people/c1"]
    assert people_of(source, changes)["people/c1"].categories == ("My Contacts", "Top 100")


def test_fetch_reads_what_was_not_listed_in_batches(fake: FakeGoogle) -> None:
    fake.put_person(person("c1", "Ana", ["ana@example.com"]))
    source = contacts_source(fake)
    items = list(source.fetch(source.COLLECTION, ["people/c1", "people/nobody"]))
    assert [i.href for i in items] == ["people/c1"]
    assert sum("people:batchGet" in line for line in fake.log) == 1


def test_expired_people_token_is_invalid_sync_token(fake: FakeGoogle) -> None:
    fake.put_person(person("c1", "Ana", ["ana@example.com"]))
    source = contacts_source(fake)
    token = source.changes(source.COLLECTION, None).token
    assert token is not None
    fake.expired_before = fake.seq + 1
    with pytest.raises(InvalidSyncToken, match="410"):
        source.changes(source.COLLECTION, token)


def test_people_pages_and_410_with_http_mock_sequence(fake: FakeGoogle) -> None:
    """Google's documented response bodies, replayed in order."""
    groups = (DATA / "contact_groups.json").read_text()
    http = HttpMockSequence(
        [
            ({"status": "200"}, groups),
            ({"status": "200"}, (DATA / "connections_page1.json").read_text()),
            ({"status": "200"}, (DATA / "connections_page2.json").read_text()),
            ({"status": "410"}, json.dumps(GONE_PEOPLE)),
        ]
    )
    source = contacts_source(http)
    changes = source.changes(source.COLLECTION, None)
    assert changes.token is not None and changes.token.endswith(":^sync-2")
    records = people_of(source, changes)
    ana = records["people/c5190150291957425113"]
    assert (ana.name, ana.org, ana.title, ana.birthday) == ("Ana Ruiz", "Acme", "CTO", "--03-12")
    assert ana.categories == ("My Contacts", "Top 100")
    assert records["people/c2"].emails == ("ben.ott@example.net",)
    with pytest.raises(InvalidSyncToken):
        source.changes(source.COLLECTION, changes.token)


# --- calendar ---------------------------------------------------------------------------------


START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WINDOW = (START - timedelta(days=60), START + timedelta(days=60))


def events_of(source: GoogleCalendarSource, changes: Changes) -> dict[str, EventRecord]:
    [coll] = source.collections()
    return {
        i.href: parse_event(i.data, UTC, *WINDOW)
        for i in source.fetch(coll, list(changes.changed))
        if isinstance(i, Item)
    }


def test_calendars_resolve_primary_ids_and_names(fake: FakeGoogle) -> None:
    fake.calendars.append({"id": "team@group.calendar.google.com", "summary": "Team"})
    fake.events["team@group.calendar.google.com"] = {}
    colls = calendar_source(fake, calendars=["primary", "team"]).collections()
    assert [(c.id, c.name, c.kind) for c in colls] == [
        (f"calendar/{CAL}", CAL, "events"),
        ("calendar/team@group.calendar.google.com", "Team", "events"),
    ]
    with pytest.raises(SourceError, match=r"no calendar 'Holidays'.*known: Team, me@example\.com"):
        calendar_source(fake, calendars=["Holidays"]).collections()


def test_recurring_series_travels_with_its_exceptions(fake: FakeGoogle) -> None:
    weekly = event("w1", START, ["ana@example.org"], "1:1", recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"])
    fake.put_event(weekly)
    moved = event("w1_20260112T090000Z", START + timedelta(days=8), ["ana@example.org"], "1:1 moved")
    moved |= {"recurringEventId": "w1", "originalStartTime": {"dateTime": "2026-01-12T09:00:00Z"}}
    fake.put_event(moved)
    fake.put_event(event("single", START, ["ben@example.net"]))
    source = calendar_source(fake)
    [coll] = source.collections()
    changes = source.changes(coll, None)
    assert set(changes.changed) == {f"calendar/{CAL}/w1", f"calendar/{CAL}/single"}
    series = events_of(source, changes)[f"calendar/{CAL}/w1"]
    assert [o.summary for o in series.occurrences] == ["1:1", "1:1 moved", "1:1", "1:1"]
    assert series.occurrences[1].recurrence_id == "20260112T090000Z"
    # Cancel one instance: the increment brings the series back whole.
    fake.delete_event("w1_20260112T090000Z")
    cancelled = {"kind": "calendar#event", "id": "w1_20260119T090000Z", "status": "cancelled"}
    fake.put_event(
        cancelled | {"recurringEventId": "w1", "originalStartTime": {"dateTime": "2026-01-19T09:00:00Z"}}
    )
    again = source.changes(coll, changes.token)
    assert set(again.changed) == {f"calendar/{CAL}/w1"} and again.deleted == set()
    assert sum("iCalUID=" in line for line in fake.log) == 1
    series = events_of(source, again)[f"calendar/{CAL}/w1"]
    assert [(o.start.day, o.cancelled) for o in series.occurrences] == [(5, False), (26, False)]


def test_deleted_event_and_series_are_reported_deleted(fake: FakeGoogle) -> None:
    fake.put_event(event("single", START, ["ben@example.net"]))
    fake.put_event(event("w1", START, ["ana@example.org"], recurrence=["RRULE:FREQ=DAILY"]))
    source = calendar_source(fake)
    [coll] = source.collections()
    token = source.changes(coll, None).token
    fake.delete_event("single")
    fake.delete_event("w1")
    changes = source.changes(coll, token)
    assert changes.changed == {}
    assert changes.deleted == {f"calendar/{CAL}/single", f"calendar/{CAL}/w1"}
    assert source.list(coll) == {}


def test_expired_calendar_token_is_invalid_sync_token(fake: FakeGoogle) -> None:
    fake.put_event(event("single", START))
    source = calendar_source(fake)
    [coll] = source.collections()
    token = source.changes(coll, None).token
    fake.expired_before = fake.seq + 1
    with pytest.raises(InvalidSyncToken, match="410"):
        source.changes(coll, token)


def test_calendar_pages_429_and_410_with_http_mock_sequence(fake: FakeGoogle) -> None:
    slept: list[float] = []
    http = HttpMockSequence(
        [
            ({"status": "200"}, (DATA / "calendar_list.json").read_text()),
            ({"status": "429"}, json.dumps(error(429, "rateLimitExceeded", "Rate Limit Exceeded"))),
            ({"status": "200"}, (DATA / "events_page1.json").read_text()),
            ({"status": "503"}, json.dumps(error(503, "backendError", "Backend Error"))),
            ({"status": "200"}, (DATA / "events_page2.json").read_text()),
            ({"status": "410"}, json.dumps(GONE_CALENDAR)),
        ]
    )
    source = GoogleCalendarSource("gcal", GoogleOptions(), http=http, sleep=slept.append)
    [coll] = source.collections()
    changes = source.changes(coll, None)
    assert len(slept) == 2 and all(0 < s <= 1.25 for s in slept)  # one retry each, jittered
    assert changes.token == "g1:CPDAlvWDx70CEPDAlvWDx70CGAU="
    records = events_of(source, changes)
    assert set(records) == {f"calendar/{CAL}/8bfk3r5g5d6m", f"calendar/{CAL}/4j2teslkm0"}
    standup = records[f"calendar/{CAL}/8bfk3r5g5d6m"]
    room, ana = standup.occurrences[0].attendees  # the user (`self`) is not listed
    assert (room.person, ana.person, ana.email) == (False, True, "ana.ruiz@example.org")
    assert standup.recurring and len(standup.occurrences) == 4
    with pytest.raises(InvalidSyncToken):
        source.changes(coll, changes.token)


# --- faults ---------------------------------------------------------------------------------------


def test_429_then_success_is_retried_with_backoff(fake: FakeGoogle) -> None:
    fake.put_person(person("c1", "Ana", ["ana@example.com"]))
    fake.faults = [("connections", 429, error(429, "RATE_LIMIT_EXCEEDED", "Quota exceeded", "people"))]
    slept: list[float] = []
    source = GoogleContactsSource("gc", GoogleOptions(), http=fake, sleep=slept.append)
    assert len(source.list(source.COLLECTION)) == 1
    assert len(slept) == 1


def test_retries_give_up_with_a_source_error(fake: FakeGoogle) -> None:
    fake.faults = [("calendarList", 503, error(503, "backendError", "Backend Error"))] * 3
    with pytest.raises(SourceError, match="HTTP 503"):
        calendar_source(fake, retries=2).collections()


def test_request_budget_stops_a_runaway_listing(fake: FakeGoogle) -> None:
    fake.page_size = 1
    for i in range(5):
        fake.put_person(person(f"c{i}", f"P {i}", [f"p{i}@example.com"]))
    source = contacts_source(fake, max_requests=3)
    with pytest.raises(SourceError, match="budget of 3"):
        source.list(source.COLLECTION)
    assert len(fake.log) == 3


def test_disabled_api_names_the_api_to_enable(fake: FakeGoogle) -> None:
    body = error(403, "SERVICE_DISABLED", "People API has not been used in project 123", "people")
    fake.faults = [("contactGroups", 403, body)]
    with pytest.raises(SourceError, match=r"People API is not enabled.*people\.googleapis\.com"):
        contacts_source(fake).list(GoogleContactsSource.COLLECTION)


def test_missing_scope_names_the_scope_and_command(fake: FakeGoogle) -> None:
    body = error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    fake.faults = [("calendarList", 403, body)]
    with pytest.raises(SourceError, match=r"calendar\.readonly.*nudge auth google --account default"):
        calendar_source(fake).collections()


def test_revoked_grant_names_the_command(fake: FakeGoogle) -> None:
    store_token("work", expired=True)
    fake.refresh_error = "invalid_grant"
    with pytest.raises(SourceError) as info:
        calendar_source(fake, account="work").collections()
    assert "`nudge auth google --account work`" in str(info.value)
    assert "refresh-secret" not in str(info.value)


def test_missing_grant_names_the_command(fake: FakeGoogle) -> None:
    with pytest.raises(SourceError, match="not authorised yet; run `nudge auth google --account other`"):
        contacts_source(fake, account="other").list(GoogleContactsSource.COLLECTION)


def test_refreshed_token_is_kept_at_close(fake: FakeGoogle) -> None:
    path = store_token("work", expired=True)
    source = calendar_source(fake, account="work")
    source.collections()
    assert any(line.startswith("POST https://oauth2.googleapis.com/token") for line in fake.log)
    source.close()
    stored = json.loads(path.read_text())
    assert stored["token"] == "ya29.fresh" and stored["refresh_token"] == "1//refresh-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- config and registry ----------------------------------------------------------------------------


def test_registry_and_options() -> None:
    assert source_class("google_contacts") is GoogleContactsSource
    assert source_class("google_calendar") is GoogleCalendarSource
    assert options_problems({"type": "google_calendar", "calendars": ["primary", "Team"]}, "sources[0]") == []
    problems = options_problems({"type": "google_contacts", "account": "../x", "colour": 1}, "sources[1]")
    assert any("sources[1].account" in p for p in problems) and any("colour" in p for p in problems)
    assert SOURCE_SERIES_KIND == SERIES_KIND


def test_load_source_builds_without_touching_the_network() -> None:
    from nudge.config import SourceConfig

    source = load_source(
        SourceConfig.model_validate({"type": "google_contacts", "name": "g", "account": "me"})
    )
    assert isinstance(source, GoogleContactsSource) and source.requests == 0


# --- OAuth token storage and the consent flow ---------------------------------------------------------


def test_token_file_is_private_and_written_atomically(monkeypatch: pytest.MonkeyPatch) -> None:
    path = store_token("work")
    assert path == google_auth.token_path("work")
    assert path.parent.name == "google" and path.name == "work.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_text()

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        google_auth.write_private(path, "half a token")
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["work.json"]


def test_a_token_readable_by_others_is_made_private() -> None:
    path = store_token("work")
    path.chmod(0o644)
    google_auth.load_credentials("work")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_bad_account_names_are_refused() -> None:
    with pytest.raises(UserError, match="account name"):
        google_auth.token_path("../../etc/passwd")


def _secrets(tmp_path: Path, kind: str = "installed") -> Path:
    path = tmp_path / "client_secret.json"
    config = {
        "client_id": "id.apps.googleusercontent.com",
        "client_secret": "client-secret",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
        "redirect_uris": ["http://localhost"],
    }
    path.write_text(json.dumps({kind: config}))
    return path


def _fake_exchange(monkeypatch: pytest.MonkeyPatch, seen: list[str]) -> None:
    from google_auth_oauthlib.flow import Flow

    def fetch_token(self: Flow, **kwargs: Any) -> dict[str, Any]:
        seen.append(kwargs["code"])
        self.oauth2session.token = {
            "access_token": "ya29.new",
            "refresh_token": "1//new-refresh",
            "token_type": "Bearer",
            "expires_in": 3599,
            "expires_at": datetime.now(UTC).timestamp() + 3599,
            "scope": list(google_auth.SCOPES),
        }
        return dict(self.oauth2session.token)

    monkeypatch.setattr(Flow, "fetch_token", fetch_token)


def test_authorize_without_a_browser_takes_the_pasted_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    _fake_exchange(monkeypatch, seen)
    told: list[str] = []

    def ask(prompt: str) -> str:
        url = told[0].split("\n\n")[1]
        state = parse_qs(urlsplit(url).query)["state"][0]
        assert "contacts.readonly" in unquote(url) and "calendar.readonly" in unquote(url)
        return f"{google_auth.PASTE_REDIRECT}?state={state}&code=4/abc&scope=x"

    path = google_auth.authorize("work", _secrets(tmp_path), no_browser=True, ask=ask, tell=told.append)
    assert seen == ["4/abc"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["refresh_token"] == "1//new-refresh"
    assert google_auth.load_credentials("work").refresh_token == "1//new-refresh"


def test_authorize_refuses_a_pasted_address_of_another_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_exchange(monkeypatch, [])
    with pytest.raises(UserError, match="another authorisation attempt"):
        google_auth.authorize(
            "work",
            _secrets(tmp_path),
            no_browser=True,
            ask=lambda _: f"{google_auth.PASTE_REDIRECT}?state=other&code=4/abc",
            tell=lambda _: None,
        )
    assert not google_auth.token_path("work").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.json", "no such client secrets file"),
        (lambda p: _secrets(p, kind="web"), "type 'web'.*Desktop app"),
    ],
)
def test_authorize_explains_bad_client_secrets(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        google_auth.authorize("work", make(tmp_path), no_browser=True, ask=lambda _: "", tell=lambda _: None)


def test_client_secrets_come_from_the_config() -> None:
    from nudge.config import SourceConfig

    sources = [
        SourceConfig.model_validate({"type": "memory", "name": "m"}),
        SourceConfig.model_validate(
            {"type": "google_calendar", "account": "work", "client_secrets": "~/w.json"}
        ),
    ]
    assert google_auth.client_secrets_for(sources, "work") == "~/w.json"
    assert google_auth.client_secrets_for(sources, "default") == ""
