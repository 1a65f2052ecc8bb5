"""An export imported into a CardDAV server twice: the server gives every card a new UID.

Radicale, like other servers, gives a card without UID one of its own when a whole .vcf is
PUT to the collection, and a second import replaces the collection: every card vanishes and
comes back under another UID and href. Cards with an address or a phone find their contact
again by it; cards with only a name, or a number that does not parse, can only be paired
with the card that vanished beside them in the same collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service, sync
from nudge.actions import find, log_touch
from nudge.config import Settings
from nudge.store.db import atomic
from nudge.store.models import Contact, Touch
from tests.servers.radicale import PASSWORD, Radicale, radicale  # noqa: F401
from tests.system.test_dav_sync import ENV, dav_sources

EXPORT = (  # no UIDs, as Google and Apple export
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz\r\nN:Ruiz;Ana;;;\r\nEMAIL:ana@example.org\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Pat Lee\r\nN:Lee;Pat;;;\r\nNOTE:met at the fair\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Tomás Silva\r\nN:Silva;Tomás;;;\r\nTEL:+999 123\r\nEND:VCARD\r\n"
)


@dataclass
class Book:
    server: Radicale
    user: str
    settings: Settings
    engine: Engine

    def import_export(self, text: str) -> None:
        self.server.put_bulk(self.user, f"/{self.user}/contacts/", text, "contacts")

    def sync(self, now: datetime) -> sync.Report:
        [report, _] = service.sync_all(self.engine, self.settings, now)
        assert report.ok, report.line()
        return report


@pytest.fixture
def book(
    radicale: Radicale,  # noqa: F811
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Book]:
    monkeypatch.setenv(ENV, PASSWORD)
    user = radicale.add_user()
    radicale.make_calendar(user, "work")
    settings = make_settings(sources=dav_sources(radicale.url + "/", user))
    yield Book(radicale, user, settings, service.open_store(settings))


def people(engine: Engine) -> list[tuple[int, str, bool]]:
    """(id, name, archived) of every contact."""
    with Session(engine) as s:
        return [
            (c.id or 0, c.name, c.archived_at is not None)
            for c in s.exec(select(Contact).order_by(col(Contact.id)))
        ]


def test_importing_the_same_export_again_keeps_every_contact(book: Book, now: datetime) -> None:
    book.import_export(EXPORT)
    first = book.sync(now)
    assert (first.contacts, first.skipped) == (3, [])
    with atomic(book.engine) as s:
        log_touch(
            s, book.settings, find(s, "Pat Lee"), now - timedelta(days=1), "call", "asked about the fair"
        )
    before = people(book.engine)

    book.import_export(EXPORT)  # the server gives each card a new UID and href
    again = book.sync(now + timedelta(hours=1))
    assert people(book.engine) == before  # nobody archived, nobody new
    assert (again.added, again.archived) == (0, 0), again.line()
    with Session(book.engine) as s:
        pat = find(s, "Pat Lee").id
        assert [t.note for t in s.exec(select(Touch).where(Touch.contact_id == pat))] == [
            "asked about the fair"
        ]


def test_a_new_card_with_another_contacts_address_is_that_contacts_not_the_vanished_namesakes(
    book: Book, now: datetime
) -> None:
    """Pairing by name yields to an identity: the new "Pat Lee" card carries Ana's address."""
    book.import_export(EXPORT)
    book.sync(now)
    ids = {name: cid for cid, name, _ in people(book.engine)}
    book.import_export(EXPORT.replace("NOTE:met at the fair", "EMAIL:ana@example.org"))
    report = book.sync(now + timedelta(hours=1))
    assert (report.contacts, report.merged, report.archived) == (0, 1, 1), report.line()
    archived = {cid for cid, _, gone in people(book.engine) if gone}
    assert archived == {ids["Pat Lee"]}  # the old Pat's card is gone; the new one is Ana's
    with Session(book.engine) as s:
        assert find(s, "ana@example.org").id == ids["Ana Ruiz"]
