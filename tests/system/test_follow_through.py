"""The capacity warning counts the suggestions the user acts on, read from the digests they got."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from nudge import config, service
from nudge.digest.plan import follow_through
from nudge.store.models import Contact, DigestRun, Suggestion

TODAY = date(2026, 12, 3)


def settings(tmp_path: Path) -> config.Settings:
    return config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp_path / 'n.db'}",
            "me": {"emails": ["me@example.com"]},
            "sources": [{"type": "memory", "name": "m"}],
        }
    )


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def test_follow_through_is_the_share_acted_on_within_a_week_of_delivered_digests(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    engine = service.open_store(cfg)
    with Session(engine) as s:
        people = [Contact(name=f"P{i}", created_at=noon(TODAY), warmth_at=noon(TODAY)) for i in range(5)]
        s.add_all(people)
        s.flush()
        # ten delivered digests, 14 to 23 days ago, three calls each: 30 suggestions
        for n in range(10):
            day = TODAY - timedelta(days=14 + n)
            s.add(DigestRun(date=day, state="sent"))
            for pos, person in enumerate(people[:3], start=1):
                k = n * 3 + pos  # 1..30
                acted = None
                if k <= 21:
                    acted = noon(day + timedelta(days=2))  # within the week: counts
                elif k <= 24:
                    acted = noon(day + timedelta(days=10))  # too late to be the suggestion's doing
                s.add(
                    Suggestion(
                        digest_date=day, contact_id=person.id, slot="call", acted_at=acted, position=pos
                    )
                )
            s.add(Suggestion(digest_date=day, contact_id=people[4].id, slot="partner", acted_at=None))
        # a digest that never went out, and one too recent to judge: neither counts
        for day, state in ((TODAY - timedelta(days=30), "failed"), (TODAY - timedelta(days=3), "sent")):
            s.add(DigestRun(date=day, state=state))
            for person in people[:3]:
                s.add(Suggestion(digest_date=day, contact_id=person.id, slot="call", acted_at=None))
        s.commit()
        assert follow_through(s, cfg, TODAY) == 0.7


def test_a_new_install_has_no_follow_through_yet(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    engine = service.open_store(cfg)
    with Session(engine) as s:
        person = Contact(name="Ana", created_at=noon(TODAY), warmth_at=noon(TODAY))
        s.add(person)
        s.flush()
        for n in range(19):  # 19 suggestions, all acted on: too few to say anything
            day = TODAY - timedelta(days=10 + n)
            s.add(DigestRun(date=day, state="sent"))
            s.add(Suggestion(digest_date=day, contact_id=person.id, slot="call", acted_at=noon(day)))
        s.commit()
        assert follow_through(s, cfg, TODAY) is None
