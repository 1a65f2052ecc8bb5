"""Follow-ups on PostgreSQL: migration 0017 there, a promise made, planned first, listed, closed by a
later touch, and undone (the same code paths as on SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from nudge import actions, follow, service, undo
from nudge.config import Settings
from nudge.reports.follow_ups import open_follow_ups
from nudge.sources.memory import MemoryOptions, MemorySource
from nudge.store.db import atomic, open_db
from tests.builders import vcard
from tests.servers.postgres import postgres, postgres_store_url

__all__ = ["postgres", "postgres_store_url"]  # fixtures


def test_follow_ups_on_postgresql(
    postgres_store_url: str, make_settings: Callable[..., Settings], now: datetime
) -> None:
    settings = make_settings(database_url=postgres_store_url, sources=[{"type": "memory", "name": "book"}])
    book = MemorySource.store("book")
    book.put(
        "c", "contacts", "a", vcard("a", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",))
    )
    book.put("c", "contacts", "b", vcard("b", "Ben Ott", emails=("ben@example.org",)))
    engine = open_db(settings.database)
    try:
        service.sync_all(engine, settings, now, sources=[MemorySource("book", MemoryOptions())])
        with atomic(engine) as s:
            follow.add_follow_up(s, settings, actions.find(s, "Ben"), "today", "the contract", now)
        plan, _ = service.make_plan(engine, settings, now, now.date())
        assert [k.person.name for k in plan.calls][:1] == ["Ben Ott"]
        with Session(engine) as s:
            assert [(r.name, r.when) for r in open_follow_ups(s, now.date())] == [("Ben Ott", "due today")]
        later = now + timedelta(hours=1)
        with atomic(engine) as s:
            actions.log_touch(s, settings, actions.find(s, "Ben"), later, "call")
        with Session(engine) as s:
            assert open_follow_ups(s, now.date()) == []
        with atomic(engine) as s:
            undo.undo_last(s, settings.touches.half_life_days, later)
        with Session(engine) as s:
            assert [r.name for r in open_follow_ups(s, now.date())] == ["Ben Ott"]
    finally:
        engine.dispose()
