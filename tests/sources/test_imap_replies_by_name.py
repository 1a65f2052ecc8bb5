"""Logging by name from the phone (issue #16 part 5), over a real IMAP INBOX (Dovecot).

`called Ana: moving to Lisbon`, `met Ben Ott`, `texted Cara` in a reply to the digest, or in a
new mail to nudge's address, log the touch with whoever is named, in the digest or not; an
ambiguous or unknown name logs nothing and the next digest says why, with the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import service
from nudge.config import Settings
from nudge.sources.memory import MemorySource
from nudge.store.models import Contact, DigestRun, Reply, Touch
from tests.builders import vcard
from tests.servers.dovecot import Dovecot, dovecot  # noqa: F401
from tests.sources.test_imap_replies import message

# Six people in the top 100, two of them Ben; the digest holds five at most.
PEOPLE = ("Ana Ruiz", "Ben Ott", "Ben Okafor", "Cleo Diaz", "Dev Patel", "Eve Stone")


def touches(engine: Engine) -> set[tuple[str, str, str | None]]:
    """(name, kind, note) of every touch the user logged."""
    with Session(engine) as s:
        rows = s.exec(select(Contact.name, Touch.kind, Touch.note).join(Contact).where(Touch.source == "cli"))
        return set(rows.all())


def setup(
    dovecot: Dovecot,  # noqa: F811
    make_settings: Callable[..., Settings],
    engine: Engine,
    now: datetime,
    **digest: str,
) -> tuple[Settings, str, str]:
    user, _ = dovecot.add_user()
    me = f"{user}@example.com"
    opts = dovecot.options(user).model_dump(exclude_defaults=True)
    settings = make_settings(
        me={"name": "Me", "emails": [me], "region": "DE"},
        sources=[{"type": "memory", "name": "book"}, {"type": "imap", "name": "mail", **opts}],
        digest=digest,
    )
    store = MemorySource.store("book")
    for i, name in enumerate(PEOPLE):
        card = vcard(str(i), name, emails=(f"p{i}@example.org",), categories=("top100",))
        store.put("c", "contacts", str(i), card)
    service.sync_all(engine, settings, now)
    return settings, user, me


def test_a_reply_logs_touches_by_name_and_the_next_digest_names_the_candidates(
    dovecot: Dovecot,  # noqa: F811
    make_settings: Callable[..., Settings],
    engine: Engine,
    now: datetime,
) -> None:
    settings, user, me = setup(dovecot, make_settings, engine, now)
    assert service.send_digest(engine, settings, now).state == "sent"
    with Session(engine) as s:
        run = s.exec(select(DigestRun)).one()
    at = now + timedelta(hours=2)
    body = "called Ana: moving to Lisbon\nmet Ben Ott\nmet Ben\ntexted Cara\n"
    dovecot.append(
        user, "INBOX", message(me, me, "Re: Be curious today", "n1@x", at, body, In_Reply_To=run.message_id)
    )

    report = service.poll_replies(engine, settings, at + timedelta(minutes=1))

    assert report is not None and (report.applied, report.error) == (1, "")
    assert touches(engine) == {("Ana Ruiz", "call", "moving to Lisbon"), ("Ben Ott", "meeting", None)}
    with Session(engine) as s:
        okafor = s.exec(select(Contact).where(Contact.name == "Ben Okafor")).one()
        ott = s.exec(select(Contact).where(Contact.name == "Ben Ott")).one()
    nxt = service.send_digest(engine, settings, now + timedelta(days=1))
    assert "+ logged a call with Ana Ruiz: moving to Lisbon" in nxt.text
    assert "+ logged a meeting with Ben Ott" in nxt.text
    candidates = f"Ben Okafor (#{okafor.id}), Ben Ott (#{ott.id})"
    assert f"? met Ben: 'Ben' matches 2 contacts: {candidates}. Be more specific." in nxt.text
    assert "? texted Cara: no contact matches 'Cara'" in nxt.text


@pytest.mark.parametrize(
    ("subject", "sender", "applied"),
    [
        ("nudge", "", True),  # to the user's own address, under a subject that says it is for nudge
        ("Note to self", "", False),  # the user's own notes are never commands
        ("Note to self", "nudge", True),  # to a dedicated address, any subject
    ],
)
def test_a_new_mail_to_nudge_logs_by_name(
    dovecot: Dovecot,  # noqa: F811
    make_settings: Callable[..., Settings],
    engine: Engine,
    now: datetime,
    subject: str,
    sender: str,
    applied: bool,
) -> None:
    settings, user, me = setup(dovecot, make_settings, engine, now)
    to = me
    if sender:
        to = f"{user}+nudge@example.com"
        settings = settings.model_copy(update={"digest": settings.digest.model_copy(update={"sender": to})})
    at = now + timedelta(hours=2)
    dovecot.append(
        user, "INBOX", message(me, to, subject, "d1@x", at, "called Ana: moving to Lisbon\ndone 1\n")
    )

    report = service.poll_replies(engine, settings, at + timedelta(minutes=1))

    assert report is not None and report.error == ""
    if not applied:
        assert touches(engine) == set()
        with Session(engine) as s:
            assert s.exec(select(Reply)).all() == []
        return
    assert touches(engine) == {("Ana Ruiz", "call", "moving to Lisbon")}
    with Session(engine) as s:
        row = s.exec(select(Reply)).one()
    assert row.problems == "done 1: numbers are a digest's; reply to it, or name the person"
    again = service.poll_replies(engine, settings, at + timedelta(minutes=5))
    assert again is not None and again.applied == 0
    assert len(touches(engine)) == 1
