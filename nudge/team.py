"""A team's users: a row in the store (`nudge_user`) and a file in the team folder each.

`nudge team add/list/remove` and the engines a user's work runs on. A user is
their file: the first command or daemon that opens the store for a file without
a row makes the row (two daemons racing to do it make one). The personal
install (no team folder) is user 1 with the main config, as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from nudge.config import Settings
from nudge.config import team as team_config
from nudge.errors import ConfigError, UserError
from nudge.store import owner
from nudge.store.db import open_db, shown_url
from nudge.store.models import OWNED, PERSONAL

log = logging.getLogger(__name__)

_working = threading.local()  # the user a thread works for now, for the log


class ForUser(logging.Filter):
    """A line logged for a user's sync, replies or digest (by sync, send, ...) names that user,
    in a team daemon's log (a line that already starts with `user ` does itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = getattr(_working, "user", None)
        if name and not str(record.msg).startswith("user ") and not hasattr(record, "nudge_user"):
            record.nudge_user = name
            record.msg = f"user {name}: {record.msg}"
        return True


@contextmanager
def working_for(name: str) -> Iterator[None]:
    """What this thread logs in the block is for user `name` (ForUser)."""
    _working.user = name
    try:
        yield
    finally:
        _working.user = None


def open_team(main: Settings) -> Engine:
    """The store as a team's: an engine that must be bound to a user before it reads anyone's rows.

    On PostgreSQL its sessions give up a transaction left idle for `sync.lease` seconds: a
    daemon frozen (SIGSTOP, a paused VM) inside one would otherwise hold the store's write
    lock, and every other daemon would wait for it instead of taking its work over.
    """
    engine = open_db(main.database, wait=main.database_wait)
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", _abandon_idle(main.sync.lease))
        engine.dispose()  # the connections the migrations opened lack the setting
    return owner.team_engine(engine)


def _abandon_idle(seconds: float) -> Callable[[Any, Any], None]:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True  # a session setting, outside a transaction so that it lasts
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET idle_in_transaction_session_timeout = {int(max(seconds, 1.0) * 1000)}")
        dbapi_conn.autocommit = autocommit

    return connect


def ensure_user(engine: Engine, name: str) -> int:
    """The id of user `name`, making their row if there is none (a file is enough to be a user)."""
    found = owner.user_id(engine, name)
    if found is not None:
        return found
    try:
        made = owner.add_user(engine, name)
    except (UserError, sa.exc.IntegrityError):  # another process made it just now
        again = owner.user_id(engine, name)
        if again is None:
            raise
        return again
    assert made.id is not None
    log.info("user %s: added to the store (id %d) from their file", name, made.id)
    return made.id


def bind(engine: Engine, name: str) -> Engine:
    """`engine` for user `name`: their rows only."""
    return owner.as_owner(owner.team_engine(engine), ensure_user(engine, name))


@dataclass
class Served:
    """A user a team daemon serves: their settings and the engine bound to their rows."""

    name: str
    settings: Settings
    engine: Engine
    owner_id: int


@dataclass(frozen=True)
class Added:
    name: str
    id: int
    path: Path
    new_file: bool


def add(main: Settings, name: str) -> Added:
    """`nudge team add NAME`: the user's row and a starter file (an existing file is kept)."""
    team_config.check_name(name)
    path = team_config.user_file(main, name)
    engine = open_db(main.database, wait=main.database_wait)
    try:
        if owner.user_id(engine, name) is not None:
            raise UserError(f"there is already a user named {name!r} in {shown_url(main.database)}")
        existed = path.exists()
        made = owner.add_user(engine, name)
    finally:
        engine.dispose()
    team_config.write_starter(main, name)
    assert made.id is not None
    return Added(name, made.id, path, new_file=not existed)


@dataclass(frozen=True)
class Listed:
    """One user as `nudge team list` shows them: in the store, in the folder, or both."""

    name: str
    id: int | None
    file: Path | None
    problem: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "id": self.id,
            "file": str(self.file) if self.file else None,
            "ok": not self.problem,
            "problem": self.problem,
        }


def listing(main: Settings) -> list[Listed]:
    """Every user: the store's rows and the folder's files, with what is wrong with each."""
    engine = open_db(main.database, wait=main.database_wait)
    try:
        rows = {u.name: u.id for u in owner.users(engine)}
    finally:
        engine.dispose()
    members = {m.name: m for m in team_config.load_team(main)}
    out = []
    for name in sorted(set(rows) | set(members), key=lambda n: (rows.get(n) is None, rows.get(n) or 0, n)):
        member = members.get(name)
        problem = ""
        if member is not None and member.error is not None:
            problem = "; ".join(member.error.problems)
        elif member is None and rows[name] != PERSONAL:
            problem = "no file in the team folder: it gets no digest (`nudge team add` makes a starter)"
        out.append(Listed(name, rows.get(name), member.path if member else None, problem))
    return out


def row_counts(main: Settings, name: str) -> dict[str, int]:
    """How many rows user `name` holds, per table (the non-zero ones): what `team remove` deletes."""
    engine = open_db(main.database, wait=main.database_wait)
    try:
        uid = owner.user_id(engine, name)
        if uid is None:
            raise UserError(f"there is no user named {name!r} in {shown_url(main.database)}")
        if uid == PERSONAL:
            raise UserError(f"{name!r} is the personal install's user (id 1): it cannot be removed")
        bound = owner.as_owner(engine, uid)
        counts = {}
        with Session(bound) as s:
            for model in OWNED:
                mine = model.owner_id == uid  # type: ignore[attr-defined]
                n = s.exec(select(func.count()).select_from(model).where(mine)).one()
                if n:
                    counts[str(model.__tablename__)] = int(n)
        return counts
    finally:
        engine.dispose()


def remove(main: Settings, name: str) -> tuple[dict[str, int], Path | None]:
    """Delete user `name` and every row they own; their file is kept as NAME.toml.removed."""
    engine = open_db(main.database, wait=main.database_wait)
    try:
        if owner.user_id(engine, name) == PERSONAL:
            raise UserError(f"{name!r} is the personal install's user (id 1): it cannot be removed")
        deleted = owner.remove_user(engine, name)
    finally:
        engine.dispose()
    kept: Path | None = None
    try:
        path = team_config.user_file(main, name)
    except (UserError, ConfigError):
        return deleted, None
    if path.exists():
        kept = path.with_name(path.name + ".removed")
        os.replace(path, kept)
    return deleted, kept
