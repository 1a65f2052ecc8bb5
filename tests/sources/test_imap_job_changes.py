"""Job changes seen in mail (issue #15 part 2), through a real IMAP INBOX (Dovecot).

A person writing from a new company's domain, and a bounce (an RFC 3464 delivery report as
Postfix writes it) for an address that used to work, are each one `job_change` moment: the
digest says it once, with the job-change prompts, and `show` keeps it. Free-mail domains and
bounces of addresses that never worked are no news.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib.resources import files

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service
from nudge.config import Settings
from nudge.digest.send import plan_json
from nudge.sources.memory import MemorySource
from nudge.store.models import Contact, Moment
from tests.builders import vcard
from tests.servers.dovecot import Dovecot, dovecot  # noqa: F401
from tests.sources.test_imap_replies import message


def delivery_report(me: str, failed: str, at: datetime, mid: str) -> bytes:
    """A bounce as Postfix sends it: multipart/report with a message/delivery-status part."""
    stamp = at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {me}\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: {stamp}\r\n"
        f"Message-ID: <{mid}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="B1"\r\n\r\n'
        "--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        f"<{failed}>: host mx.oldco.example said: 550 5.1.1 User unknown\r\n\r\n"
        "--B1\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\nArrival-Date: {stamp}\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nOriginal-Recipient: rfc822;{failed}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.oldco.example\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--B1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {me}\r\nTo: {failed}\r\nSubject: Lunch?\r\n\r\n--B1--\r\n"
    ).encode()


def test_a_new_company_domain_and_a_bounce_are_job_changes_told_once(
    dovecot: Dovecot,  # noqa: F811
    make_settings: Callable[..., Settings],
    engine: Engine,
    now: datetime,
) -> None:
    user, _ = dovecot.add_user()
    me = f"{user}@example.com"
    opts = dovecot.options(user).model_dump(exclude_defaults=True)
    settings = make_settings(
        me={"name": "Me", "emails": [me], "region": "DE"},
        sources=[{"type": "memory", "name": "book"}, {"type": "imap", "name": "mail", **opts}],
    )
    store = MemorySource.store("book")
    people = {
        "ana": ("Ana Ruiz", ("ana@oldco.example", "ana@newco.example")),
        "ben": ("Ben Ott", ("ben@bencorp.example", "ben.ott@gmail.com")),
        "cleo": ("Cleo Diaz", ("cleo@cleoco.example",)),
        "dev": ("Dev Patel", ("dev@devco.example",)),
        "eve": ("Eve Stone", ("eve.stone@evecorp.example",)),
        "ben2": ("Ben Okafor", ("ben.okafor@okafor.example",)),
        "ben3": ("Ben Okafor", ("bokafor@bank.example",)),  # another Ben Okafor
    }
    for uid, (name, emails) in people.items():
        store.put("c", "contacts", uid, vcard(uid, name, emails=emails, categories=("top100",)))
    real_now = datetime.now(now.tzinfo)  # the server dates messages by the real clock
    mails = [
        ("INBOX", message("ana@oldco.example", me, "Q3", "a1@x", real_now - timedelta(days=60), "hi")),
        ("INBOX", message("ana@newco.example", me, "News", "a2@x", real_now - timedelta(days=3), "hi")),
        ("INBOX", message("ben@bencorp.example", me, "Q3", "b1@x", real_now - timedelta(days=40), "hi")),
        ("INBOX", message("ben.ott@gmail.com", me, "Pics", "b2@x", real_now - timedelta(days=2), "hi")),
        ("INBOX", message("cleo@cleoco.example", me, "Hi", "c1@x", real_now - timedelta(days=50), "hi")),
        ("Sent", message(me, "cleo@cleoco.example", "Lunch?", "c2@x", real_now - timedelta(days=5), "?")),
        ("INBOX", delivery_report(me, "cleo@cleoco.example", real_now - timedelta(days=5), "d1@x")),
        ("Sent", message(me, "dev@devco.example", "Hello", "d2@x", real_now - timedelta(hours=3), "?")),
        ("INBOX", delivery_report(me, "dev@devco.example", real_now - timedelta(hours=2), "d3@x")),
        # Eve writes from an address her card does not have yet, signed with her name
        (
            "INBOX",
            message("eve.stone@evecorp.example", me, "Q2", "e1@x", real_now - timedelta(days=70), "hi"),
        ),
        (
            "INBOX",
            message(
                "Eve Stone <eve@newstart.example>", me, "Hello", "e2@x", real_now - timedelta(days=4), "hi"
            ),
        ),
        # "Ben Okafor" names two people: no match by name
        (
            "INBOX",
            message("ben.okafor@okafor.example", me, "Q2", "o1@x", real_now - timedelta(days=70), "hi"),
        ),
        (
            "INBOX",
            message(
                "Ben Okafor <ben@elsewhere.example>", me, "Hi", "o2@x", real_now - timedelta(days=4), "hi"
            ),
        ),
    ]
    for folder, raw in mails:
        dovecot.append(user, folder, raw, date=real_now - timedelta(days=1))

    reports = service.sync_all(engine, settings, real_now)

    assert all(r.ok for r in reports), [r.line() for r in reports]
    bounce_day = (real_now - timedelta(days=5)).astimezone(settings.tz)
    with Session(engine) as s:
        moments = s.exec(
            select(Contact.name, Moment.kind, Moment.detail)
            .join(Contact)
            .where(Moment.kind == "job_change")  # Ana's mail of 3 days ago is also unanswered
            .order_by(col(Moment.at))
        ).all()
    assert moments == [
        (
            "Cleo Diaz",
            "job_change",
            f"mail to cleo@cleoco.example bounced on {bounce_day:%a} {bounce_day.day} {bounce_day:%b}; "
            "may have moved on",
        ),
        (
            "Eve Stone",
            "job_change",
            "writes from @newstart.example now (was @evecorp.example), seen in mail from "
            "eve@newstart.example, matched by name",
        ),
        ("Ana Ruiz", "job_change", "writes from @newco.example now (was @oldco.example), seen in mail"),
    ]

    today = real_now.astimezone(settings.tz).date()
    picks = plan_json(service.render_day(engine, settings, real_now, today))
    ana = next(p for p in picks["calls"] if p["name"] == "Ana Ruiz")
    assert "changed jobs: writes from @newco.example now (was @oldco.example), seen in mail" in ana["why"]
    job_prompts = tomllib.loads(files("nudge").joinpath("data/prompts.toml").read_text())["job_change"]
    assert ana["prompt"] in job_prompts["prompts"]

    assert service.send_digest(engine, settings, real_now, force=True).state == "sent"
    again = service.sync_all(engine, settings, real_now + timedelta(minutes=5))
    assert all(r.ok for r in again)
    with Session(engine) as s:
        jobs = s.exec(select(Moment).where(Moment.kind == "job_change")).all()
        assert len(jobs) == 3  # told once: nothing noted again
        shown = [m for m in jobs if m.seen_at is not None]
    assert {m.detail for m in shown} >= {"writes from @newco.example now (was @oldco.example), seen in mail"}
