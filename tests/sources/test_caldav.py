"""CalDAV specifics, options and secrets of both DAV sources, against a real Radicale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import NoKeyringError, PasswordDeleteError
from pydantic import ValidationError

from nudge.errors import SourceError
from nudge.sources import options_problems
from nudge.sources.base import Item
from nudge.sources.caldav import CalDavSource
from nudge.sources.carddav import CardDavSource
from nudge.sources.dav import DavOptions, canonical_path
from tests.builders import vcard, vevent
from tests.servers.fault_proxy import FaultProxy
from tests.servers.radicale import PASSWORD, Radicale, radicale  # noqa: F401

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VTODO = "BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Buy milk\r\nEND:VTODO\r\n"


def caldav(url: str, user: str, **extra: object) -> CalDavSource:
    return CalDavSource(
        "cal", DavOptions.model_validate({"url": url, "username": user, "password": PASSWORD, **extra})
    )


def test_tasks_are_ignored_and_task_lists_are_not_calendars(radicale: Radicale) -> None:  # noqa: F811
    user = radicale.add_user()
    work = radicale.make_calendar(user, "work")
    radicale.put_event(user, work, "e", vevent("e", START))
    radicale.put_event(user, work, "t", VTODO.format(uid="t"))
    body = (
        '<?xml version="1.0"?><C:mkcalendar xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><set><prop>'
        '<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>'
        "</prop></set></C:mkcalendar>"
    )
    radicale.request("MKCALENDAR", f"/{user}/tasks/", user, body, "application/xml")
    src = caldav(radicale.url + "/", user)
    [coll] = src.collections()
    assert coll.name == "work"
    listing = src.list(coll)
    assert len(listing) == 2
    items = list(src.fetch(coll, listing))
    assert [i.href for i in items] == [f"{work}e.ics"]


def test_collections_are_chosen_by_name_or_url(radicale: Radicale) -> None:  # noqa: F811
    user = radicale.add_user()
    work = radicale.make_calendar(user, "work")
    radicale.make_calendar(user, "family")
    assert [c.name for c in caldav(radicale.url + "/", user).collections()] == ["family", "work"]
    assert [c.name for c in caldav(radicale.url + "/", user, collections=["work"]).collections()] == ["work"]
    by_url = caldav(radicale.url + "/", user, collections=[radicale.url + work])
    assert [c.name for c in by_url.collections()] == ["work"]
    with pytest.raises(SourceError, match=r"no events collection 'holidays' \(found: family, work\)"):
        caldav(radicale.url + "/", user, collections=["holidays"]).collections()


def test_hrefs_are_canonical_whatever_the_quoting(radicale: Radicale) -> None:  # noqa: F811
    user = radicale.add_user()
    work = radicale.make_calendar(user, "work")
    radicale.request(
        "PUT",
        f"{work}a%20b%40c.ics",
        user,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + vevent("ab", START) + "END:VCALENDAR\r\n",
        "text/calendar",
    )
    src = caldav(radicale.url + "/", user)
    [coll] = src.collections()
    [href] = src.list(coll)
    assert href == f"{work}a%20b@c.ics" == canonical_path(f"{work}a b%40c.ics")
    [item] = src.fetch(coll, [f"{work}a%20b%40c.ics"])
    assert isinstance(item, Item) and item.href == href


def test_a_multiget_refused_as_too_big_is_split(radicale: Radicale) -> None:  # noqa: F811
    user = radicale.add_user()
    work = radicale.make_calendar(user, "work")
    for uid in "abcd":
        radicale.put_event(user, work, uid, vevent(uid, START))
    proxy = FaultProxy(radicale.url)
    try:
        proxy.fail("REPORT", b"calendar-multiget", status=400, body=b"REPORT occurrences limit of 10000 hit")
        src = caldav(proxy.url + "/", user)
        [coll] = src.collections()
        items = list(src.fetch(coll, src.list(coll)))
        assert len(items) == 4
        assert proxy.count("REPORT", b"calendar-multiget") == 3  # refused, then two halves
    finally:
        proxy.close()


def test_a_server_error_on_multiget_names_the_url_and_status(radicale: Radicale) -> None:  # noqa: F811
    user = radicale.add_user()
    work = radicale.make_calendar(user, "work")
    radicale.put_event(user, work, "a", vevent("a", START))
    proxy = FaultProxy(radicale.url)
    try:
        proxy.fail("REPORT", b"calendar-multiget", status=503)
        src = caldav(proxy.url + "/", user)
        [coll] = src.collections()
        with pytest.raises(SourceError, match=rf"calendar-multiget REPORT on {proxy.url}{work}: HTTP 503"):
            list(src.fetch(coll, src.list(coll)))
    finally:
        proxy.close()


def test_a_url_that_is_no_dav_server_is_a_clear_error(radicale: Radicale) -> None:  # noqa: F811
    user = radicale.add_user()
    with pytest.raises(SourceError, match=r"not found \(HTTP 404\)"):
        caldav(radicale.url + f"/{user}/nothing-here/", user).collections()


# --- options -------------------------------------------------------------------------------------


def test_options_refuse_two_secrets_and_non_http_urls() -> None:
    with pytest.raises(ValidationError, match="give only one of password, password_env"):
        DavOptions(url="https://dav.example.com/", password="x", password_env="Y")
    with pytest.raises(ValidationError, match="http:// or https://"):
        DavOptions(url="dav.example.com")
    problems = options_problems({"type": "carddav", "url": "https://x/", "pasword": "typo"}, "sources[0]")
    assert problems and all(p.startswith("sources[0].") for p in problems)
    assert (
        options_problems({"type": "caldav", "url": "https://x/", "collections": ["work"]}, "sources[1]") == []
    )


# --- keyring ---------------------------------------------------------------------------------------


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.stored.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class NoKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise NoKeyringError("no backend")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


def test_password_from_the_keyring(radicale: Radicale, memory_keyring: MemoryKeyring) -> None:  # noqa: F811
    user = radicale.add_user()
    book = radicale.make_addressbook(user, "contacts")
    radicale.put_contact(user, book, "a", vcard("a", "Ana Ruiz"))
    memory_keyring.set_password("nudge-dav", user, PASSWORD)
    options = DavOptions(url=radicale.url + "/", username=user, keyring_service="nudge-dav")
    src = CardDavSource("book", options)
    [coll] = src.collections()
    assert len(src.list(coll)) == 1
    src.close()
    missing = CardDavSource(
        "book", DavOptions(url=radicale.url + "/", username="nobody", keyring_service="nudge-dav")
    )
    with pytest.raises(SourceError, match=r"no password stored for 'nobody' under 'nudge-dav'"):
        missing.collections()


def test_no_keyring_backend_is_a_clear_error(memory_keyring: MemoryKeyring) -> None:
    keyring.set_keyring(NoKeyring())
    src = CardDavSource("book", DavOptions(url="https://dav.example.com/", username="u", keyring_service="s"))
    with pytest.raises(SourceError, match=r"sources\.book\.keyring_service: no system keyring is available"):
        src.collections()
