"""The day's claim and the write lock, on a real SQLite store and on a real PostgreSQL.

The lease in the database (what a PostgreSQL store uses) is exercised on PostgreSQL
and on SQLite through a `file:` URI, for which there is no lock file beside the store.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from nudge import log, service
from nudge.config import Settings
from nudge.digest import claim, send
from nudge.errors import Busy
from nudge.sources.memory import MemorySource
from nudge.store.db import atomic, open_db
from nudge.store.models import Contact, DigestRun
from tests.builders import vcard

DAY = date(2026, 11, 23)


@pytest.fixture
def lease_settings(
    make_settings: Callable[..., Settings], tmp_path: Path, store_kind: str, store_url: str
) -> Settings:
    """A store without a lock file beside it (PostgreSQL, or SQLite by a `file:` URI): a lease."""
    store = MemorySource.store("book")
    store.put(
        "contacts",
        "contacts",
        "ana",
        vcard("ana", "Ana Ruiz", emails=("a@example.org",), categories=("top100",)),
    )
    url = store_url if store_kind == "postgresql" else f"sqlite:///file:{tmp_path / 'nudge.db'}?uri=true"
    return make_settings(database_url=url, sources=[{"type": "memory", "name": "book"}])


def run_row(engine: sa.Engine, day: date = DAY) -> DigestRun | None:
    with Session(engine) as s:
        return s.exec(select(DigestRun).where(DigestRun.date == day)).first()


@pytest.mark.both_stores
def test_a_lease_is_exclusive_names_its_holder_and_is_released(lease_settings: Settings) -> None:
    engine = open_db(lease_settings.database)
    assert claim.lock_path(engine.url, "send") is None
    with claim.hold_day(engine, DAY) as held:
        assert held.owner is not None and held.owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
        busy = pytest.raises(Busy, match=rf"PID {os.getpid()} on {socket.gethostname()}")
        with busy, claim.hold_day(engine, DAY, wait=0.2):
            pass
    row = run_row(engine)
    assert row is not None and row.claimed_by is None  # released
    with claim.hold_day(engine, DAY):  # and free for the next
        pass


@pytest.mark.both_stores
def test_a_lease_of_a_dead_process_is_taken_over_at_once_and_a_lapsed_one_too(
    lease_settings: Settings,
) -> None:
    engine = open_db(lease_settings.database)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    pid = int(dead.stdout)  # a process that has exited: as after kill -9
    far = datetime.now(UTC) + timedelta(hours=1)
    with atomic(engine) as s:
        s.add(DigestRun(date=DAY, claimed_by=f"{socket.gethostname()}:{pid}:dead", claimed_until=far))
        s.add(DigestRun(date=DAY + timedelta(days=1), claimed_by="elsewhere:1:x", claimed_until=far))
        s.add(
            DigestRun(
                date=DAY + timedelta(days=2),
                claimed_by="elsewhere:1:y",
                claimed_until=far - timedelta(hours=2),
            )
        )
    with claim.hold_day(engine, DAY):
        pass
    busy = pytest.raises(Busy, match="PID 1 on elsewhere")  # alive as far as we can know
    with busy, claim.hold_day(engine, DAY + timedelta(days=1)):
        pass
    with claim.hold_day(engine, DAY + timedelta(days=2)):  # lapsed
        pass


@pytest.mark.both_stores
def test_a_lapsed_lease_stops_before_sending(lease_settings: Settings, now: datetime) -> None:
    """planned -> sending is conditional on the lease: a holder that lost it sends nothing."""
    engine = open_db(lease_settings.database)
    service.sync_all(engine, lease_settings, now)
    day = service.local_now(lease_settings, now).date()
    with claim.hold_day(engine, day) as held:
        with atomic(engine) as s:  # another process took the day over after the lease lapsed
            s.execute(sa.update(DigestRun).where(DigestRun.date == day).values(claimed_by="elsewhere:1:z"))  # type: ignore[arg-type]
        with pytest.raises(Busy, match="lapsed"):
            send._send_claimed(engine, lease_settings, now, held, force=False)
    assert not (Path(lease_settings.maildir_path) / "new").exists()
    row = run_row(engine, day)
    assert row is not None and row.state == "planned"


@pytest.mark.both_stores
def test_send_digest_through_the_lease_sends_once(lease_settings: Settings, now: datetime) -> None:
    engine = open_db(lease_settings.database)
    service.sync_all(engine, lease_settings, now)
    assert service.send_digest(engine, lease_settings, now).state == "sent"
    assert service.send_digest(engine, lease_settings, now).state == "already_sent"
    assert len(list((Path(lease_settings.maildir_path) / "new").iterdir())) == 1
    row = run_row(engine, service.local_now(lease_settings, now).date())
    assert row is not None and row.claimed_by is None


@pytest.mark.sqlite_only
def test_a_writer_waits_for_another_instead_of_failing_with_database_is_locked(
    make_settings: Callable[..., Settings],
) -> None:
    """A transaction that reads and then writes, while another process commits in between:
    with a deferred BEGIN SQLite refuses the write at once ("database is locked", its busy
    timeout never consulted); with BEGIN IMMEDIATE the other writer waits its turn."""
    settings = make_settings()
    engine = open_db(settings.database)
    path = sa.engine.make_url(settings.database).database
    assert path is not None
    other_done = threading.Event()
    errors: list[BaseException] = []

    def other_process_writes() -> None:
        try:
            conn = sqlite3.connect(path, timeout=10, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO contact (name, warmth_sum) VALUES ('Other', 0)")
            conn.execute("COMMIT")
            conn.close()
            other_done.set()
        except BaseException as e:
            errors.append(e)

    with atomic(engine) as s:
        assert s.exec(select(Contact)).all() == []
        writer = threading.Thread(target=other_process_writes)
        writer.start()
        other_done.wait(1.0)  # deferred: it commits now; immediate: it is waiting for us
        s.add(Contact(name="Mine", warmth_sum=0))
    writer.join(10)
    assert not errors
    with Session(engine) as s:
        assert sorted(c.name for c in s.exec(select(Contact))) == ["Mine", "Other"]


def test_url_passwords_are_masked_in_every_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup(0)
    logging.getLogger("nudge.test").warning("cannot reach %s", "https://bob:hunter2@dav.example.com/dav/")
    try:
        raise ValueError("postgresql://nudge:db-pw@db.example.com/nudge refused")
    except ValueError:
        logging.getLogger("nudge.test").exception("failed")
    err = capsys.readouterr().err
    assert "https://bob:***@dav.example.com/dav/" in err and "nudge:***@db.example.com" in err
    assert "hunter2" not in err and "db-pw" not in err
