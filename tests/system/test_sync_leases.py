"""The sync lease of a team user's source (nudge/leases.py) on a real store: taken by one daemon,
taken over only when it lapses or its holder is dead, and a writer that lost it writes nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from nudge import leases
from nudge.store import owner
from nudge.store.db import atomic, open_db
from nudge.store.models import Contact


@pytest.fixture
def engines(store_url: str) -> Iterator[tuple[Engine, Engine, int, int]]:
    base = open_db(store_url)
    ana, ben = owner.add_user(base, "ana").id, owner.add_user(base, "ben").id
    assert ana is not None and ben is not None
    yield owner.as_owner(base, ana), owner.as_owner(base, ben), ana, ben
    base.dispose()


def dead_holder() -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return f"{socket.gethostname()}:{done.stdout.strip()}:dead"


@pytest.mark.both_stores
def test_one_holder_at_a_time_until_the_lease_lapses(engines: tuple[Engine, Engine, int, int]) -> None:
    ana_engine, _, ana, ben = engines
    now = datetime.now(UTC)
    assert leases.take(ana_engine, ana, "book", "h:1:a", lease=60, every=0, now=now)
    assert not leases.take(
        ana_engine, ana, "book", "h:2:b", lease=60, every=0, now=now + timedelta(seconds=59)
    )
    assert leases.take(ana_engine, ana, "cal", "h:2:b", lease=60, every=0, now=now)  # another source
    later = now + timedelta(seconds=61)
    assert leases.take(ana_engine, ana, "book", "h:2:b", lease=60, every=0, now=later)
    assert not leases.renew(ana_engine, ana, "book", "h:1:a", lease=60)
    assert not leases.release(ana_engine, ana, "book", "h:1:a", synced=later)
    assert leases.release(ana_engine, ana, "book", "h:2:b", synced=later)
    assert not leases.take(
        ana_engine, ana, "book", "h:1:a", lease=60, every=300, now=later + timedelta(seconds=299)
    )
    assert leases.take(
        ana_engine, ana, "book", "h:1:a", lease=60, every=300, now=later + timedelta(seconds=300)
    )
    # ben's source of the same name is his own
    assert leases.take(ana_engine, ben, "book", "h:2:b", lease=60, every=0, now=now)


@pytest.mark.both_stores
def test_a_dead_holder_on_this_machine_is_taken_over_at_once(
    engines: tuple[Engine, Engine, int, int],
) -> None:
    ana_engine, _, ana, _ = engines
    now = datetime.now(UTC)
    assert leases.take(ana_engine, ana, "book", dead_holder(), lease=600, every=0, now=now)
    assert leases.take(ana_engine, ana, "book", "h:2:b", lease=600, every=0, now=now)


@pytest.mark.both_stores
def test_a_writer_that_lost_its_lease_commits_nothing(engines: tuple[Engine, Engine, int, int]) -> None:
    ana_engine, _, ana, _ = engines
    now = datetime.now(UTC)
    assert leases.take(ana_engine, ana, "book", "h:1:a", lease=1, every=0, now=now)
    fenced = leases.fenced(ana_engine, ana, "book", "h:1:a")
    with atomic(fenced) as s:
        s.add(Contact(name="Written while holding"))
    assert leases.take(ana_engine, ana, "book", "h:2:b", lease=60, every=0, now=now + timedelta(seconds=2))
    with pytest.raises(leases.LeaseLost, match="taken over by h:2:b"), atomic(fenced) as s:
        s.add(Contact(name="Written after losing it"))
    with atomic(ana_engine) as s:
        names = list(s.exec(select(Contact.name)))
    assert names == ["Written while holding"]
