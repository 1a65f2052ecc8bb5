"""SIGTERM during a sync: the daemon's stop flag ends it between batches, losing nothing.

Real parts: a memory source (the contract's own backend) and SQLite on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlmodel import Session, func, select

from nudge import service, sync
from nudge.config import Settings
from nudge.sources.memory import MemorySource
from nudge.store.db import open_db
from nudge.store.models import Contact, SyncState
from tests.builders import vcard


def test_a_stop_ends_the_sync_between_batches_and_the_next_sync_finishes_it(
    make_settings: Callable[..., Settings], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "BATCH", 10)
    store = MemorySource.store("book")
    for i in range(35):
        store.put(
            "contacts", "contacts", f"p{i}", vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.org",))
        )
    settings = make_settings(
        sources=[{"type": "memory", "name": "book"}, {"type": "memory", "name": "later"}]
    )
    engine = open_db(settings.database)
    batches: list[int] = []

    def stop() -> bool:  # SIGTERM arrives while the second batch is applied
        return len(batches) >= 2

    def progress(source: str, done: int, total: int) -> None:
        batches.append(done)

    reports = service.sync_all(engine, settings, now, progress=progress, stop=stop)
    assert batches == [10, 20] and reports == []  # no third batch, no second source
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Contact)).one() == 20  # both batches kept
        assert s.exec(select(SyncState).where(SyncState.source == "later")).first() is None
    reports = service.sync_all(engine, settings, now)
    assert [r.added for r in reports] == [15, 0] and all(r.ok for r in reports)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Contact)).one() == 35
