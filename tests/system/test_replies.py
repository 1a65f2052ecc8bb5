"""Replies to the digest applied to the store on disk, and confirmed by the next digest.

These start from a digest really sent (to a Maildir) and a reply as the
user's mail client writes it; tests/sources/test_imap_replies.py finds the
same replies in a real IMAP INBOX.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import service
from nudge.config import Settings
from nudge.digest import replies
from nudge.sources.memory import MemorySource
from nudge.store.models import Contact, DigestRun, Note, Reply, Suggestion, Touch
from tests.builders import ME, vcard

pytestmark = pytest.mark.both_stores  # the dialect matters here: run on SQLite and PostgreSQL

NAMES = ("Ana Ruiz", "Ben Ott", "Cleo Diaz", "Dev Patel", "Eve Stone", "Finn Berg")


@pytest.fixture
def sent(make_settings: Callable[..., Settings], engine: Engine, now: datetime) -> tuple[Settings, DigestRun]:
    """A Monday digest with five calls and one partner, delivered to the Maildir."""
    settings = make_settings(
        sources=[
            {"type": "memory", "name": "book"},
            {"type": "imap", "name": "mail", "host": "h", "username": "u", "password_env": "NUDGE_TEST_IMAP"},
        ],
        replies={"source": "mail"},
    )
    store = MemorySource.store("book")
    for i, name in enumerate(NAMES):
        tier = "partner" if i == 5 else "top100"
        store.put(
            "c", "contacts", str(i), vcard(str(i), name, emails=(f"p{i}@example.org",), categories=(tier,))
        )
    service.sync_all(engine, settings, now, sources=[_memory("book")])
    result = service.send_digest(engine, settings, now)
    assert result.state == "sent"
    with Session(engine) as s:
        run = s.exec(select(DigestRun)).one()
    return settings, run


def _memory(name: str) -> MemorySource:
    from nudge.sources.memory import MemoryOptions

    return MemorySource(name, MemoryOptions())


def numbered(engine: Engine, day: date) -> dict[int, str]:
    with Session(engine) as s:
        rows = s.exec(select(Suggestion).where(Suggestion.digest_date == day)).all()
        return {r.position: s.get(Contact, r.contact_id).name for r in rows if r.position}  # type: ignore[misc, union-attr]


WROTE = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)  # the reply's own Date: 09:15 in Berlin


def reply_bytes(
    body: str,
    in_reply_to: str,
    sender: str = ME,
    mid: str | None = "r1@mail.example.com",
    extra: dict[str, str] | None = None,
    when: datetime = WROTE,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Me <{sender}>"
    msg["To"] = ME
    msg["Subject"] = "Re: Be curious today"
    msg["Date"] = format_datetime(when)
    if mid is not None:
        msg["Message-ID"] = f"<{mid}>"
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = in_reply_to
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body)
    return bytes(msg)


def apply(engine: Engine, settings: Settings, raw: bytes, now: datetime) -> Reply | None:
    with Session(engine) as s:
        row = replies.apply_reply(s, settings, replies.read_reply(raw, now), now)
        s.commit()
        if row is not None:
            s.refresh(row)
        return row


def test_the_digest_numbers_its_people_and_remembers_the_numbers(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    numbers = numbered(engine, run.date)
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]
    assert numbers[6] == "Finn Berg"  # the partner comes last
    text = service.render_day(engine, settings, now, run.date).text
    for n, name in numbers.items():
        assert f"{n}. {name}" in text
    assert "Reply to this email to act on it: `done 1 3`" in text


def test_every_command_is_applied(sent: tuple[Settings, DigestRun], engine: Engine, now: datetime) -> None:
    settings, run = sent
    n = numbered(engine, run.date)
    body = "\n".join(
        [
            "done 1 3",
            "called 2: moving to Berlin in May",
            "snooze 4 2w",
            "skip 5",
            "note 1: loves climbing",
            "partner done",
        ]
    )
    later = now + timedelta(hours=3)
    row = apply(engine, settings, reply_bytes(body, run.message_id), later)
    assert row is not None and row.state == "applied", row
    assert row.problems == ""
    with Session(engine) as s:
        by_name = {c.name: c for c in s.exec(select(Contact))}
        touches = {
            (by_name_id, t.kind, t.note)
            for t in s.exec(select(Touch).where(Touch.source == "cli"))
            for by_name_id in [next(k for k, c in by_name.items() if c.id == t.contact_id)]
        }
        assert touches == {
            (n[1], "call", None),
            (n[3], "call", None),
            (n[2], "call", "moving to Berlin in May"),
            (n[6], "call", None),
        }
        assert by_name[n[4]].snoozed_until == date(2026, 12, 7)
        assert by_name[n[5]].snoozed_until == date(2026, 11, 30)
        [note] = s.exec(select(Note)).all()
        assert (note.contact_id, note.text) == (by_name[n[1]].id, "loves climbing")
    assert row.applied.splitlines() == [
        f"logged a call with {n[1]}",
        f"logged a call with {n[3]}",
        f"logged a call with {n[2]}: moving to Berlin in May",
        f"snoozed {n[4]} until Mon 7 Dec",
        f"skipped {n[5]}: back after Mon 30 Nov",
        f"noted for {n[1]}: loves climbing",
        f"logged a call with {n[6]}",
    ]


def test_the_same_reply_twice_is_applied_once(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    raw = reply_bytes("done 1", run.message_id)
    assert apply(engine, settings, raw, now) is not None
    assert apply(engine, settings, raw, now + timedelta(minutes=5)) is None
    with Session(engine) as s:
        assert len(s.exec(select(Touch).where(Touch.source == "cli")).all()) == 1


def test_a_reply_from_a_stranger_is_ignored(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    row = apply(
        engine,
        settings,
        reply_bytes("done 1 2 3\nsnooze 4 3m", run.message_id, sender="eve@evil.example"),
        now,
    )
    assert row is not None and row.state == "ignored"
    assert "eve@evil.example" in row.problems
    with Session(engine) as s:
        assert s.exec(select(Touch).where(Touch.source == "cli")).all() == []
        assert all(c.snoozed_until is None for c in s.exec(select(Contact)))


def test_a_reply_that_failed_sender_authentication_is_ignored(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    auth = {"Authentication-Results": "mx.example.com; spf=fail smtp.mailfrom=example.com; dmarc=fail"}
    row = apply(engine, settings, reply_bytes("done 1", run.message_id, extra=auth), now)
    assert row is not None and row.state == "ignored"
    with Session(engine) as s:
        assert s.exec(select(Touch).where(Touch.source == "cli")).all() == []


def test_a_reply_to_no_digest_of_ours_is_ignored(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, _ = sent
    row = apply(engine, settings, reply_bytes("done 1", "<something@else>"), now)
    assert row is not None and (row.state, row.digest_date) == ("ignored", None)


def test_the_next_digest_confirms_and_lists_what_was_not_understood(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    n = numbered(engine, run.date)
    apply(
        engine, settings, reply_bytes("done 2\ndone 9\nsnooze 3 soon\nlunch on friday?", run.message_id), now
    )
    tomorrow = now + timedelta(days=1)
    result = service.send_digest(engine, settings, tomorrow)
    assert result.state == "sent"
    assert "From your reply of Mon 23 Nov:" in result.text
    assert f"+ logged a call with {n[2]}" in result.text
    assert "? done 9: the digest of Mon 23 Nov has no number 9" in result.text
    assert "? snooze 3 soon: use a duration like 10d, 2w, 3m" in result.text
    assert "? not understood: “lunch on friday?”" in result.text
    assert "From your reply" in result.html and "lunch on friday?" in result.html
    with Session(engine) as s:
        [row] = s.exec(select(Reply)).all()
        assert row.reported_on == tomorrow.date()
    day_after = service.render_day(
        engine, settings, now + timedelta(days=2), (now + timedelta(days=2)).date()
    )
    assert "From your reply" not in day_after.text  # told once


def test_without_an_imap_source_the_digest_does_not_offer_replies(
    make_settings: Callable[..., Settings], engine: Engine, now: datetime
) -> None:
    settings = make_settings()
    text = service.render_day(engine, settings, now, now.date()).text
    assert "Reply to this email" not in text
    assert 'nudge log NAME "call: what you talked about"' in text


def test_replies_can_be_turned_off(make_settings: Callable[..., Settings]) -> None:
    imap = {"type": "imap", "name": "mail", "host": "h", "username": "u", "password_env": "NUDGE_TEST_IMAP"}
    assert make_settings(sources=[imap]).reply_source is not None
    assert make_settings(sources=[imap], replies={"enabled": False}).reply_source is None
    assert make_settings(sources=[imap | {"enabled": False}]).reply_source is None
    chosen = make_settings(sources=[imap | {"enabled": False}], replies={"source": "mail"}).reply_source
    assert chosen is not None and chosen.name == "mail"


def test_replies_source_must_name_an_imap_source(make_settings: Callable[..., Settings]) -> None:
    from nudge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"replies\.source: no imap source is named 'nope'"):
        make_settings(replies={"source": "nope"})


def test_untold_replies_skip_what_answered_nothing(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    apply(engine, settings, reply_bytes("done 1", "<x@y>", mid="a@x"), now)
    apply(engine, settings, reply_bytes("done 1", run.message_id, mid="b@x"), now)
    with Session(engine) as s:
        told = replies.untold(s, settings)
        assert [t.applied for t in told] == [(f"logged a call with {numbered(engine, run.date)[1]}",)]
        assert s.exec(select(Reply).where(col(Reply.reported_on).is_(None))).all()


def test_a_logged_touch_is_dated_by_the_reply(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    apply(engine, settings, reply_bytes("done 1", run.message_id), now + timedelta(hours=6))
    with Session(engine) as s:
        [touch] = s.exec(select(Touch).where(Touch.source == "cli")).all()
    assert touch.at == WROTE  # when the user wrote it, not when nudge read it


def test_a_guessed_digest_id_without_its_token_answers_nothing(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    guessed = f"<nudge.digest.{run.date}@example.com>"
    forged = f"<nudge.digest.{run.date}.{'0' * 16}@example.com>"
    for mid, ref in (("g1@x", guessed), ("g2@x", forged)):
        row = apply(engine, settings, reply_bytes("snooze 1 2 3 3m", ref, mid=mid), now)
        assert row is not None and (row.state, row.digest_date) == ("ignored", None)
    with Session(engine) as s:
        assert all(c.snoozed_until is None for c in s.exec(select(Contact)))


def test_a_reply_to_the_first_copy_still_counts_after_a_forced_resend(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    first_id = run.message_id
    service.send_digest(engine, settings, now + timedelta(minutes=5), force=True)
    with Session(engine) as s:
        assert s.exec(select(DigestRun)).one().message_id != first_id
    row = apply(engine, settings, reply_bytes("done 1", first_id), now + timedelta(minutes=10))
    assert row is not None and row.state == "applied" and row.digest_date == run.date


def test_numbers_follow_a_re_plan_of_the_day(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    before = numbered(engine, run.date)
    with Session(engine) as s:  # number 1 gets in touch by herself: her suggestion counts as acted on
        first = s.exec(select(Contact).where(Contact.name == before[1])).one()
        assert first.id is not None
        s.add(Touch(contact_id=first.id, at=now + timedelta(minutes=1), kind="email", direction="in"))
        for sug in s.exec(select(Suggestion).where(Suggestion.contact_id == first.id)):
            sug.acted_at = now + timedelta(minutes=1)
            s.add(sug)
        first.last_touch_at = now + timedelta(minutes=1)
        s.add(first)
        s.commit()
    resent = service.send_digest(engine, settings, now + timedelta(minutes=5), force=True)
    after = numbered(engine, run.date)
    assert after[1] != before[1], "the re-plan should give number 1 to someone else"
    assert f"1. {after[1]}" in resent.text
    row = apply(engine, settings, reply_bytes("done 1", run.message_id), now + timedelta(minutes=10))
    assert row is not None and row.applied == f"logged a call with {after[1]}"


def test_replies_without_a_message_id_are_each_applied_once(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    one = reply_bytes("done 1", run.message_id, mid=None)
    two = reply_bytes("done 2", run.message_id, mid=None, when=WROTE + timedelta(minutes=3))
    assert apply(engine, settings, one, now) is not None
    assert apply(engine, settings, two, now) is not None
    assert apply(engine, settings, one, now) is None
    with Session(engine) as s:
        assert len(s.exec(select(Touch).where(Touch.source == "cli")).all()) == 2


def test_a_poisoned_reply_is_recorded_not_raised(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    raw = (
        f"From: eve@evil.example\r\nTo: {ME}\r\nMessage-ID: <@x>\r\nIn-Reply-To: {run.message_id}\r\n"
        'Content-Type: text/plain; charset="no-such-charset"\r\nDate: garbage\r\n\r\ndone 1\r\n'
    ).encode()
    row = apply(engine, settings, raw, now)
    assert row is not None and row.state == "ignored"
    mine = raw.replace(b"eve@evil.example", ME.encode()).replace(b"<@x>", b"<m@x>")
    row = apply(engine, settings, mine, now)
    assert row is not None and row.digest_date == run.date
    assert (
        row.applied == f"logged a call with {numbered(engine, run.date)[1]}"
    )  # an unknown charset: read anyway


def test_an_impossible_snooze_is_a_problem_line_not_a_crash(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime
) -> None:
    settings, run = sent
    row = apply(engine, settings, reply_bytes("snooze 1 99999m\ndone 2", run.message_id), now)
    assert row is not None and row.state == "applied"
    assert "snooze 1 99999m: 99999m is more than ten years" in row.problems
    assert row.applied.startswith("logged a call with")
    with Session(engine) as s:
        assert all(c.snoozed_until is None for c in s.exec(select(Contact)))
