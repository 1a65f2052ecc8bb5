"""Who may send a day's digest, and who is `nudge run`: claims that die with their process.

With an SQLite store the claims are OS file locks (flock) on files beside the
database: the kernel drops them when the holder exits, kill -9 included, so a
claim is never stale and nothing needs cleaning up. The file names the holder's
PID so the one that waits can say who it waits for.

A store without a file beside it (PostgreSQL) gets the same guarantee from the
database: a lease on the day's DigestRun row (`claimed_by`, `claimed_until`),
taken by compare-and-set. A lease whose holder is a dead process on this
machine is taken over at once; one held elsewhere lapses after LEASE.

Each user of a store claims their own days (a lock file per user, the lease on
their own DigestRun row): one user's digest never waits for another's.

`hold_day` is the only way in: service.send_digest renders, claims and
delivers a day inside it, so two processes can never both move it to `sending`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from nudge.errors import Busy
from nudge.store.db import atomic
from nudge.store.dialect import insert_or_skip
from nudge.store.locks import POLL, alive, file_lock, holder_id, lock_path
from nudge.store.models import DigestRun
from nudge.store.owner import PERSONAL, owner_of

LEASE = timedelta(minutes=30)  # longer than any send: connect, TLS, login and DATA each time out sooner


@dataclass(frozen=True)
class Claim:
    """The right to send one day; `owner` is set when it is a lease in the database."""

    day: date
    owner: str | None = None

    def guard(self, now: datetime) -> sa.ColumnElement[bool]:
        """A WHERE clause true only while this claim holds (always, under a file lock)."""
        if self.owner is None:
            return sa.true()
        return sa.and_(col(DigestRun.claimed_by) == self.owner, col(DigestRun.claimed_until) > now)


def _busy_day(day: date, pid: int | str | None) -> str:
    return (
        f"the digest for {day} is being sent by another nudge process (PID {pid}); "
        "not sending it twice (it is sent once that one is done)"
    )


@contextmanager
def hold_day(engine: Engine, day: date, wait: float = 0.0, use_lease: bool | None = None) -> Iterator[Claim]:
    """Hold the right to send `day` for the block; Busy (naming the holder) after `wait` seconds.

    `use_lease` forces the database lease even beside an SQLite file (for tests
    of the PostgreSQL path); by default a file lock is used where there can be one.
    """
    user = owner_of(engine)  # each user's day is claimed on its own
    path = lock_path(engine.url, "send" if user == PERSONAL else f"send-user{user}")
    if path is not None and not use_lease:
        with file_lock(path, wait, _busy_day(day, "{pid}")):
            yield Claim(day)
        return
    owner = holder_id()
    deadline = time.monotonic() + wait
    while (holder := _take_lease(engine, day, owner)) is not None:
        if time.monotonic() >= deadline:
            host, _, rest = holder.partition(":")
            raise Busy(_busy_day(day, f"{rest.partition(':')[0]} on {host}"))
        time.sleep(POLL * 4)
    try:
        yield Claim(day, owner)
    finally:
        with atomic(engine) as s:
            s.execute(
                sa.update(DigestRun)
                .where(_mine(user, day), col(DigestRun.claimed_by) == owner)
                .values(claimed_by=None, claimed_until=None)
            )


def _mine(user: int, day: date) -> sa.ColumnElement[bool]:
    """The user's row of `day` (the store's owner filter says so too; a claim says it itself)."""
    return sa.and_(col(DigestRun.owner_id) == user, col(DigestRun.date) == day)


def _take_lease(engine: Engine, day: date, owner: str) -> str | None:
    """Compare-and-set the day's lease to `owner`; None when taken, else who holds it."""
    now = datetime.now(UTC)
    user = owner_of(engine)
    with atomic(engine) as s:
        row = sa.select(col(DigestRun.id), col(DigestRun.claimed_by)).where(_mine(user, day))
        found = s.execute(row).first()
        if found is None:
            fresh = DigestRun(date=day, owner_id=user).model_dump(exclude={"id"})
            s.execute(insert_or_skip(s, DigestRun).values(**fresh))
            found = s.execute(row).first()
        current = found[1] if found else None
        free = sa.or_(
            col(DigestRun.claimed_by).is_(None),
            col(DigestRun.claimed_until) <= now,
            col(DigestRun.claimed_by) == owner,
        )
        if current and not alive(current):
            free = sa.or_(free, col(DigestRun.claimed_by) == current)
        done = s.execute(
            sa.update(DigestRun)
            .where(_mine(user, day), free)
            .values(claimed_by=owner, claimed_until=now + LEASE)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            return None
    return current or "unknown:?"
