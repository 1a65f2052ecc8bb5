"""Engine and sessions. SQLite gets WAL and foreign keys; any SQLAlchemy URL works."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from nudge import migrations
from nudge.errors import UserError


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite commits on its own before DDL; take transactions over so that a
    # migration really is all-or-nothing (SQLAlchemy's documented recipe).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created (mode 0700)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = sa.create_engine(parsed)
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


def open_db(url: str, migrate: bool = True) -> Engine:
    """Open the store and bring its schema up to date."""
    try:
        engine = make_engine(url)
        if migrate:
            migrations.migrate(engine)
    except sa.exc.ArgumentError as e:
        raise UserError(f"database_url: {e}") from e
    except sa.exc.OperationalError as e:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise UserError(f"cannot open the database {shown}: {e.orig}") from e
    return engine


@contextmanager
def atomic(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
