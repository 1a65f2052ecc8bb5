"""What the store promises on SQLite holds on a real PostgreSQL too (nudge.store.dialect).

Each test runs on both stores (`both_stores`); the PostgreSQL turn uses the session's server
from tests/servers/postgres.py, whose TimeZone is not UTC and whose text order is ICU's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from nudge.config import Settings
from nudge.errors import StoreError
from nudge.reports import contacts as contact_report
from nudge.store import migrations
from nudge.store.db import atomic, make_engine, open_db
from nudge.store.models import Contact, DigestRun

pytestmark = pytest.mark.both_stores

ROUNDS = 15


def test_writers_take_turns_so_no_read_then_write_is_lost(settings: Settings) -> None:
    """Two writers each read a number and write it back plus one, 15 times: 30 in the end.

    SQLite takes its write lock at BEGIN IMMEDIATE; PostgreSQL at READ COMMITTED lets both
    read the same value and one increment is lost, unless `atomic` takes a write lock too.
    """
    open_db(settings.database)
    engines = [make_engine(settings.database) for _ in range(2)]  # two connections, as two processes
    with atomic(engines[0]) as s:
        s.add(Contact(name="Counter", warmth_sum=0))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def bump(engine: sa.Engine) -> None:
        try:
            start.wait(10)
            for _ in range(ROUNDS):
                with atomic(engine) as s:
                    contact = s.exec(select(Contact)).one()
                    seen = contact.warmth_sum
                    time.sleep(0.005)  # the other writer runs here, if it may
                    contact.warmth_sum = seen + 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=bump, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with Session(engines[0]) as s:
        assert s.exec(select(Contact)).one().warmth_sum == 2 * ROUNDS
    for engine in engines:
        engine.dispose()


def test_a_writer_that_waits_past_database_wait_gets_one_line(settings: Settings) -> None:
    open_db(settings.database)
    holder = make_engine(settings.database)
    waiter = make_engine(settings.database, wait=0.5)
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with atomic(holder) as s:
            s.add(Contact(name="Held", warmth_sum=0))
            s.flush()
            holding.set()
            release.wait(20)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(20)
        began = time.monotonic()
        with (
            pytest.raises(StoreError, match=r"stayed locked by another .*more than 0.5 s"),
            atomic(waiter) as s,
        ):
            s.add(Contact(name="Waiter", warmth_sum=0))
        assert time.monotonic() - began < 10
    finally:
        release.set()
        thread.join(20)
    holder.dispose()
    waiter.dispose()


def test_two_processes_opening_a_new_store_apply_each_migration_once(blank_store_url: str) -> None:
    """The daemon and a CLI command starting together on an empty database."""
    start = threading.Barrier(3)
    errors: list[BaseException] = []
    engines: list[sa.Engine] = []

    def open_it() -> None:
        try:
            engine = make_engine(blank_store_url)
            engines.append(engine)
            start.wait(10)
            open_db(blank_store_url)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with engines[0].connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM nudge_migrations")).scalars().all()
    assert sorted(names) == sorted(name for name, _ in migrations.MIGRATIONS)
    for engine in engines:
        engine.dispose()


def test_contacts_are_listed_in_the_same_order_on_every_store(
    make_settings: Callable[..., Settings], now: datetime
) -> None:
    """Byte order, as SQLite has always given it (PostgreSQL's ICU order would put "anna" first)."""
    settings = make_settings()
    engine = open_db(settings.database)
    names = ["anna", "Ben", "Émile", "zoe", "Zoë", "a|b", "a}b"]
    with atomic(engine) as s:
        for name in names:
            s.add(Contact(name=name, warmth_sum=0, created_at=now))
    with Session(engine) as s:
        listed = [row.name for row in contact_report.rows(s, settings, now)]
    assert listed == sorted(names, key=lambda n: n.encode())


def test_a_time_bound_with_its_zone_in_a_typed_query_means_that_instant(postgres_store_url: str) -> None:
    """A timestamp column has no zone: PostgreSQL reads an aware value in the session's zone,
    which nudge sets to UTC, so the server's own zone (not UTC here) never shifts an hour.
    (PostgreSQL only: SQLite has no session zone.)"""
    engine = open_db(postgres_store_url)
    at = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    with atomic(engine) as s:
        s.add(DigestRun(date=at.date()))
    with atomic(engine) as s:
        s.execute(sa.text("UPDATE digestrun SET claimed_until = :at"), {"at": at})
    with Session(engine) as s:
        assert s.exec(select(DigestRun)).one().claimed_until == at
