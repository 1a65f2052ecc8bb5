"""Who syncs a team user's source now: a lease in the store that expires, and a fence on every write.

Daemons of one team (`nudge run --team`, on one machine or several) share the
syncs: a (user, source) is synced by the daemon that takes its row of
`synclease` (migration 0020) by compare-and-set, when the row is free (no
holder, a lapsed lease, or a holder that is a dead process on this machine) and
its last sync is `every` seconds old. The holder renews the lease while it
works; a daemon killed with kill -9 stops renewing, so its sync is taken over
within the lease.

A daemon frozen (SIGSTOP, a stalled VM) past its lease may wake in the middle of
a sync. So the sync runs on an engine carrying a fence: every transaction made
from it checks, just before it commits and holding the user's write lock (which
whoever takes the lease over must take too), that the lease is still its own,
and rolls back otherwise. Two daemons never both write one source's sync.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.engine import Engine

from nudge.errors import Interrupted
from nudge.store.db import atomic
from nudge.store.dialect import insert_or_skip
from nudge.store.locks import alive
from nudge.store.models import UTCDateTime

log = logging.getLogger(__name__)

FENCE = "nudge_sync_fence"  # execution option: (owner_id, source, holder) every commit checks

synclease = sa.Table(
    "synclease",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("holder", sa.String, nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("synced_at", UTCDateTime(), nullable=True),
)


class LeaseLost(Interrupted):
    """This daemon's lease on a sync was taken over (it was frozen or cut off past it): write nothing."""


def _row(owner_id: int, source: str) -> sa.ColumnElement[bool]:
    return sa.and_(synclease.c.owner_id == owner_id, synclease.c.source == source)


def take(
    engine: Engine, owner_id: int, source: str, holder: str, lease: float, every: float, now: datetime
) -> bool:
    """Take the (user, source) sync if it is free and due; whether it is now `holder`'s.

    `engine` is the user's (bound to `owner_id`), so this waits for their write
    lock like any of their syncs' transactions.
    """
    with atomic(engine) as s:
        found = s.execute(sa.select(synclease.c.holder).where(_row(owner_id, source))).first()
        if found is None:
            s.execute(insert_or_skip(s, synclease).values(owner_id=owner_id, source=source))
            current = None
        else:
            current = found[0]
        free = sa.or_(
            synclease.c.holder.is_(None),
            synclease.c.lease_until <= now,
            synclease.c.holder == holder,
        )
        if current and not alive(current):
            free = sa.or_(free, synclease.c.holder == current)
        due = sa.or_(synclease.c.synced_at.is_(None), synclease.c.synced_at <= now - timedelta(seconds=every))
        done = s.execute(
            sa.update(synclease)
            .where(_row(owner_id, source), free, due)
            .values(holder=holder, lease_until=now + timedelta(seconds=lease))
        )
        taken = bool(done.rowcount == 1)  # type: ignore[attr-defined]
    if taken and current and current != holder:
        log.info("source %s of user %d: taken over from %s", source, owner_id, current)
    return taken


def renew(engine: Engine, owner_id: int, source: str, holder: str, lease: float) -> bool:
    """Extend `holder`'s lease; False when it is no longer theirs (taken over)."""
    until = datetime.now(UTC) + timedelta(seconds=lease)
    with atomic(engine) as s:
        done = s.execute(
            sa.update(synclease)
            .where(_row(owner_id, source), synclease.c.holder == holder)
            .values(lease_until=until)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def release(engine: Engine, owner_id: int, source: str, holder: str, synced: datetime | None) -> bool:
    """Give the sync back; `synced` (when it finished) makes the next one due an interval later.
    False when it was no longer `holder`'s."""
    values: dict[str, object] = {"holder": None, "lease_until": None}
    if synced is not None:
        values["synced_at"] = synced
    with atomic(engine) as s:
        done = s.execute(
            sa.update(synclease).where(_row(owner_id, source), synclease.c.holder == holder).values(**values)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def fenced(engine: Engine, owner_id: int, source: str, holder: str) -> Engine:
    """`engine` whose every commit first checks that `holder` still holds the (user, source) lease."""
    return engine.execution_options(**{FENCE: (owner_id, source, holder)})


@sa.event.listens_for(orm.Session, "before_commit")
def _check_fence(session: orm.Session) -> None:
    bind = session.bind
    if not isinstance(bind, Engine):
        return
    fence = bind.get_execution_options().get(FENCE)
    if fence is None:
        return
    owner_id, source, holder = fence
    current = session.execute(sa.select(synclease.c.holder).where(_row(owner_id, source))).scalar()
    if current != holder:
        raise LeaseLost(
            f"the sync of {source} (user {owner_id}) was taken over by {current or 'another daemon'}; "
            "this daemon stops it without writing"
        )


Row = tuple[str | None, datetime | None, datetime | None]  # holder, lease_until, synced_at


def rows(engine: Engine, owner_id: int | None = None) -> dict[tuple[int, str], Row]:
    """Every lease of the store (or of one user) by (user, source), read at once: most looks
    find nothing due."""
    t = synclease
    query = sa.select(t.c.owner_id, t.c.source, t.c.holder, t.c.lease_until, t.c.synced_at)
    if owner_id is not None:
        query = query.where(t.c.owner_id == owner_id)
    with engine.connect() as conn:
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in conn.execute(query)}


def stale(rows: dict[tuple[int, str], Row], owner_id: int, source: str, every: float) -> bool:
    """Whether (user, source) was not synced, by any daemon, in the last `every` seconds."""
    found = rows.get((owner_id, source))
    synced = found[2] if found else None
    return synced is None or (datetime.now(UTC) - synced).total_seconds() >= every


def looks_free(rows: dict[tuple[int, str], Row], owner_id: int, source: str, every: float) -> bool:
    """Whether (user, source) looks free and due in `rows` (`take`'s compare-and-set decides)."""
    found = rows.get((owner_id, source))
    if found is None:
        return True
    holder, until, synced = found
    now = datetime.now(UTC)
    if synced is not None and (now - synced).total_seconds() < every:
        return False
    return holder is None or until is None or until <= now or not alive(holder)
