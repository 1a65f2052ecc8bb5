"""The morning digest opens with today's meetings with people nudge knows, each briefed; the day
after a meeting with someone in a tier it asks how it went (answered with one reply word), and
after a touch that led to a meeting or a referral it offers to set a follow-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nudge import actions, service
from nudge.config import Settings
from nudge.sources.memory import MemoryOptions, MemorySource
from nudge.store.db import atomic
from nudge.store.models import DigestRun, Touch
from tests.builders import vcalendar, vcard, vevent
from tests.system.test_replies import apply, reply_bytes

PEOPLE = (  # uid, name, tier
    ("ana", "Ana Ruiz", "top100"),
    ("ben", "Ben Ott", ""),
    ("cleo", "Cleo Diaz", "top100"),
    ("dev", "Dev Patel", ""),
    ("eve", "Eve Stone", "top100"),
    ("finn", "Finn Berg", "partner"),
)


def _book(now: datetime, today: bool = True) -> None:
    store = MemorySource.store("book")
    for uid, name, tier in PEOPLE:
        bday = "--1125" if uid == "ana" else None  # Wednesday, two days after this Monday
        cats = (tier,) if tier else ()
        store.put(
            "c", "contacts", uid, vcard(uid, name, emails=(f"{uid}@example.org",), categories=cats, bday=bday)
        )
    events = [
        vevent("sun", now - timedelta(hours=20), ("cleo@example.org",), "Lunch"),  # Sunday 11:00
        vevent("sat", now - timedelta(days=2), ("dev@example.org",), "Brunch"),  # not in a tier
        vevent("fri", now - timedelta(days=3), ("eve@example.org",), "Walk"),  # outcome logged below
    ]
    if today:
        events.append(
            vevent("today", now + timedelta(hours=3), ("ana@example.org", "ben@example.org"), "Coffee")
        )
    store.put("cal", "events", "cal", vcalendar(*events))


@pytest.fixture
def settings_(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        sources=[
            {"type": "memory", "name": "book"},
            {"type": "imap", "name": "mail", "host": "h", "username": "u", "password_env": "NUDGE_TEST_IMAP"},
        ],
        replies={"source": "mail"},
    )


def _prepare(engine: Engine, settings: Settings, now: datetime) -> None:
    service.sync_all(engine, settings, now, sources=[MemorySource("book", MemoryOptions())])
    with atomic(engine) as s:
        ana = actions.find(s, "Ana Ruiz")
        actions.log_touch(
            s, settings, ana, now - timedelta(days=9), "call", "moving to Lisbon", at=now - timedelta(days=40)
        )
        actions.add_follow_up(
            s, settings, ana, "fri", "send the deck", now - timedelta(days=9)
        ) if False else None
        eve = actions.find(s, "Eve")
        actions.set_outcome(s, settings, eve, "conversation", now - timedelta(days=2))


def test_the_digest_opens_with_todays_meetings_briefed(
    settings_: Settings, engine: Engine, now: datetime
) -> None:
    _book(now)
    _prepare(engine, settings_, now)
    from nudge import follow

    with atomic(engine) as s:
        follow.add_follow_up(s, settings_, actions.find(s, "Ana Ruiz"), "fri", "send the deck", now)
    result = service.render_day(engine, settings_, now, now.date())
    text = result.text
    body = text.split("\n\n", 1)[1]
    assert body.startswith("Today's meeting\n")
    block = body.split("\n\n", 1)[0]
    assert "10:00  Coffee" in block  # 09:00 UTC is 10:00 in Berlin
    ana = block.split("Ana Ruiz: ", 1)[1].split("Ben Ott: ", 1)[0]
    assert ana.startswith("last: call on 14 Oct (40 days ago)")
    assert "- birthday Wednesday" in ana
    assert "- follow-up: send the deck (due Fri 27 Nov)" in ana
    assert "you noted: “moving to Lisbon”" in ana
    assert "Ben Ott: no contact logged yet" in block
    assert result.view is not None
    prompts = [b.prompt for m in result.view.meetings for b in m.people]
    prompts += [e.prompt for e in (*result.view.entries, *result.view.partners)]
    assert len(prompts) == len(set(prompts)) == 3  # nobody in one digest gets another's question
    assert block.count("ask: ") == 2
    assert "<h2" in result.html and "Today's meeting" in result.html and "send the deck" in result.html


def test_no_block_without_a_meeting_today(settings_: Settings, engine: Engine, now: datetime) -> None:
    _book(now, today=False)
    _prepare(engine, settings_, now)
    result = service.render_day(engine, settings_, now, now.date())
    assert "Today's meeting" not in result.text and "Today's meeting" not in result.html


def test_the_day_after_a_meeting_it_asks_for_the_outcome_once(
    settings_: Settings, engine: Engine, now: datetime
) -> None:
    _book(now)
    _prepare(engine, settings_, now)
    result = service.send_digest(engine, settings_, now)
    asks = [line for line in result.text.splitlines() if line.startswith("? How did")]
    assert asks == [
        "? How did Lunch with Cleo Diaz yesterday go? Reply `outcome Cleo Diaz conversation` "
        "(or meeting, referral, opportunity)."
    ]  # Dev is in no tier; Eve's walk already has an outcome
    with Session(engine) as s:
        run = s.exec(select(DigestRun)).one()
    later = now + timedelta(hours=2)
    row = apply(engine, settings_, reply_bytes("outcome Cleo Diaz meeting", run.message_id), later)
    assert row is not None and row.problems == "", row
    with Session(engine) as s:
        lunch = s.exec(select(Touch).where(Touch.summary == "Lunch")).one()
        assert lunch.outcome == "meeting"
    nxt = service.send_digest(engine, settings_, now + timedelta(days=1))
    assert "? How did" not in nxt.text
    assert "the Lunch with Cleo Diaz on Sun 22 Nov led to meeting" in nxt.text
    assert (
        "> Your meeting with Cleo Diaz on Sun 22 Nov led to a meeting: to come back to it on a day, "
        "reply `follow Cleo Diaz 2w: what you promised`."
    ) in nxt.text
    third = service.send_digest(engine, settings_, now + timedelta(days=2))
    assert "Your meeting with Cleo Diaz" not in third.text  # offered once


def test_a_call_logged_with_a_referral_offers_a_follow_up_unless_one_is_set(
    settings_: Settings, engine: Engine, now: datetime
) -> None:
    _book(now, today=False)
    _prepare(engine, settings_, now)
    assert service.send_digest(engine, settings_, now).state == "sent"
    later = now + timedelta(hours=4)
    with atomic(engine) as s:
        finn, ben = actions.find(s, "Finn"), actions.find(s, "Ben")
        actions.log_touch(s, settings_, finn, later, "call", "intro to Lee", outcome="referral")
        actions.log_touch(s, settings_, ben, later, "call", outcome="meeting")
    from nudge import follow

    with atomic(engine) as s:
        follow.add_follow_up(s, settings_, actions.find(s, "Ben"), "2w", "", later + timedelta(minutes=1))
    text = service.render_day(
        engine, settings_, now + timedelta(days=1), (now + timedelta(days=1)).date()
    ).text
    offers = [line for line in text.splitlines() if line.startswith("> ")]
    assert offers == [
        "> Your call with Finn Berg on Mon 23 Nov led to a referral: to come back to it on a day, "
        "reply `follow Finn Berg 2w: what you promised`."
    ]


def test_a_job_change_is_news_at_the_meeting(settings_: Settings, engine: Engine, now: datetime) -> None:
    _book(now)
    _prepare(engine, settings_, now - timedelta(days=1))
    book = MemorySource.store("book")
    book.put(
        "c", "contacts", "ben", vcard("ben", "Ben Ott", emails=("ben@example.org",), org="Acme", title="CTO")
    )
    service.sync_all(
        engine, settings_, now - timedelta(hours=12), sources=[MemorySource("book", MemoryOptions())]
    )
    book.put(
        "c", "contacts", "ben", vcard("ben", "Ben Ott", emails=("ben@example.org",), org="Bolt", title="CEO")
    )
    service.sync_all(
        engine, settings_, now - timedelta(hours=1), sources=[MemorySource("book", MemoryOptions())]
    )
    text = service.render_day(engine, settings_, now, now.date()).text
    block = text.split("Today's meeting\n", 1)[1].split("\n\n", 1)[0]
    ben = block.split("Ben Ott: ", 1)[1]
    assert "- changed jobs:" in ben and "Bolt" in ben, block
