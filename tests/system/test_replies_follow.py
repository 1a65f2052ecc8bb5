"""`follow` in a reply to the digest makes a follow-up, by digest number or by name; the next
digest confirms it and, on its day, lists the person first. Over the real Dovecot too."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import service
from nudge.config import Settings
from nudge.store.models import Contact, DigestRun, FollowUp
from tests.servers.dovecot import Dovecot, dovecot  # noqa: F401
from tests.sources.test_imap_replies import Sent, message
from tests.sources.test_imap_replies import sent as imap_sent  # noqa: F401
from tests.system.test_replies import apply, numbered, reply_bytes, sent  # noqa: F401


def _follow_ups(engine: Engine) -> list[tuple[str, str, str, str]]:
    with Session(engine) as s:
        return [
            (s.get(Contact, f.contact_id).name, f.due.isoformat(), f.text, f.how)  # type: ignore[union-attr]
            for f in s.exec(select(FollowUp).order_by(FollowUp.id))  # type: ignore[arg-type]
        ]


def test_follow_by_number_and_by_name(
    sent: tuple[Settings, DigestRun],  # noqa: F811
    engine: Engine,
    now: datetime,
) -> None:
    settings, run = sent
    n = numbered(engine, run.date)
    body = f"follow 3 fri: send the deck\nfollow {n[1].split()[0]} 2w\nfollow Nobody 2w\nfollow 2 whenever"
    row = apply(engine, settings, reply_bytes(body, run.message_id), now + timedelta(hours=3))
    assert row is not None and row.state == "applied"
    assert _follow_ups(engine) == [(n[3], "2026-11-27", "send the deck", ""), (n[1], "2026-12-07", "", "")]
    assert row.applied.splitlines() == [
        f"follow-up with {n[3]} on Fri 27 Nov: send the deck",
        f"follow-up with {n[1]} on Mon 7 Dec",
    ]
    problems = row.problems.splitlines()
    assert problems[0] == "not understood: “follow 2 whenever”"
    assert problems[1].startswith("follow Nobody 2w: no contact matches 'Nobody'")

    friday = now + timedelta(days=4)
    nxt = service.send_digest(engine, settings, friday)
    assert "+ follow-up with " + n[3] + " on Fri 27 Nov: send the deck" in nxt.text
    assert nxt.plan is not None and nxt.plan.calls[0].person.name == n[3]
    assert f"1. {n[3]}" in nxt.text and "- follow-up: send the deck (due today)" in nxt.text


def test_done_in_a_reply_closes_the_follow_up_it_listed(
    sent: tuple[Settings, DigestRun],  # noqa: F811
    engine: Engine,
    now: datetime,
) -> None:
    settings, run = sent
    n = numbered(engine, run.date)
    apply(
        engine,
        settings,
        reply_bytes("follow 2 tomorrow: the offer", run.message_id),
        now + timedelta(hours=1),
    )
    tuesday = now + timedelta(days=1)
    nxt = service.send_digest(engine, settings, tuesday)
    assert nxt.plan is not None and nxt.plan.calls[0].person.name == n[2]
    with Session(engine) as s:
        run2 = s.exec(select(DigestRun).where(DigestRun.date == tuesday.date())).one()
    late = tuesday + timedelta(hours=2)
    row = apply(engine, settings, reply_bytes("done 1", run2.message_id, mid="r2@x", when=late), late)
    assert row is not None and row.problems == ""
    assert _follow_ups(engine) == [(n[2], "2026-11-24", "the offer", "touch")]


def test_follow_over_the_real_mailbox(
    imap_sent: Sent,  # noqa: F811
    dovecot: Dovecot,  # noqa: F811
    engine: Engine,
    now: datetime,
) -> None:
    settings, user, me, run = imap_sent.settings, imap_sent.user, imap_sent.me, imap_sent.run
    at = now + timedelta(hours=2)
    body = "follow Ben 12 dec: intro to Lee\n"
    dovecot.append(
        user,
        "INBOX",
        message(me, me, "Re: Be curious today", "f1@x", at, body, In_Reply_To=run.message_id),
        date=at,
    )
    report = service.poll_replies(engine, settings, at + timedelta(minutes=1))
    assert report is not None and (report.applied, report.error) == (1, "")
    assert _follow_ups(engine) == [("Ben Ott", "2026-12-12", "intro to Lee", "")]
    service.poll_replies(engine, settings, at + timedelta(minutes=5))
    assert len(_follow_ups(engine)) == 1  # applied once
