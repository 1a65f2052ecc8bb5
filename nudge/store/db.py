"""Engine and sessions: an SQLite file (WAL, foreign keys) or a PostgreSQL server.

Writers wait their turn: `atomic` takes the store's write lock up front (SQLite:
BEGIN IMMEDIATE; PostgreSQL: an advisory lock; dialect.py has every difference),
so two processes (the daemon's sync, a CLI digest) queue on it for up to
`database_wait` seconds instead of failing half-way, and every store error SQLite
can give (locked, not a database, damaged, read-only, disk full) becomes one
StoreError line that names the file and the fix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from nudge.errors import StoreError, UserError
from nudge.store import dialect, migrations, owner
from nudge.store.locks import file_lock, lock_path

WAIT = 60.0  # seconds a writer waits for another process's transaction, unless configured

# (SQLite primary error name, what it means for the user and what to do); {path} is the file.
_PROBLEMS: dict[str, str] = {
    "SQLITE_BUSY": "the database {path} stayed locked by another process for more than {wait:g} s "
    "(a long nudge sync?); run the command again when it is done, or raise database_wait",
    "SQLITE_LOCKED": "the database {path} is locked; run the command again",
    "SQLITE_NOTADB": "{path} is not an SQLite database (or it is encrypted): point database_url "
    "at another file, or move this one away and nudge starts a new store",
    "SQLITE_CORRUPT": "the database {path} is damaged ({reason}): restore it from a backup, or rescue "
    "what is left with `sqlite3 {path} .recover | sqlite3 {path}.recovered` and point database_url there",
    "SQLITE_READONLY": "the database {path} is read-only: make the file and its folder writable by you",
    "SQLITE_CANTOPEN": "cannot open the database {path}: its folder must exist and be writable "
    "(SQLite keeps {name}-wal and {name}-shm beside it)",
    "SQLITE_FULL": "the disk holding the database {path} is full: free some space and run the command "
    "again (the unfinished change was rolled back)",
    "SQLITE_IOERR": "the disk failed while using the database {path} ({reason}): check the disk and "
    "its free space, then run the command again",
    "SQLITE_PERM": "no permission to use the database {path}: check the file's owner and mode",
}


def store_problem(error: BaseException, path: str, wait: float = WAIT) -> str | None:
    """The one line for an SQLite error we can explain, or None for anything else (a bug)."""
    if not isinstance(error, sqlite3.Error) or isinstance(error, sqlite3.IntegrityError):
        return None
    name = getattr(error, "sqlite_errorname", "") or ""
    for code, text in _PROBLEMS.items():
        if name == code or name.startswith(code + "_"):
            return text.format(path=path, name=Path(path).name, wait=wait, reason=error)
    return None


def _server_translator(url: str, wait: float) -> Any:
    def translate(context: sa.engine.ExceptionContext) -> None:
        """handle_error: a database server's lock wait that ran out becomes one StoreError line."""
        if getattr(context.original_exception, "sqlstate", None) == "55P03":  # lock_not_available
            raise StoreError(
                f"the database {shown_url(url)} stayed locked by another nudge process for more than "
                f"{wait:g} s (a long nudge sync?); run the command again when it is done, "
                "or raise database_wait"
            ) from context.original_exception

    return translate


def _translator(path: str, wait: float) -> Any:
    def translate(context: sa.engine.ExceptionContext) -> None:
        """handle_error: SQLite errors the user can act on become one StoreError line."""
        problem = store_problem(context.original_exception, path, wait)
        if problem is not None:
            raise StoreError(problem) from context.original_exception

    return translate


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an invalid URL)"


def make_engine(url: str, wait: float = WAIT) -> Engine:
    """An engine for `url`; SQLite files get their folder created (mode 0700).

    Raises UserError for what the user can fix: a missing driver, a folder that
    cannot be made. `wait` is how long a writer waits for another one.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as e:
        raise UserError(f"database_url: {e}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as e:
                blocker = next((p for p in (folder, *folder.parents) if p.exists()), folder)
                why = f"{blocker} is a file, not a folder" if not blocker.is_dir() else e.strerror
                raise UserError(
                    f"database_url: cannot make the folder {folder} for the database: {why}; "
                    "point database_url at a folder you can write"
                ) from None
        engine = sa.create_engine(parsed)
        path = str(Path(parsed.database or ":memory:").expanduser())
        dialect.configure(engine, wait)
        sa.event.listen(engine, "handle_error", _translator(path, wait))
        owner.install(engine)
        return engine
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except ImportError as e:
        driver = e.name or "its driver"
        package = {"psycopg2": "psycopg2-binary"}.get(driver, driver)
        how = f"install it into nudge's environment (pip install {package})"
        if driver == "psycopg":
            from nudge.extras import install_command

            how = f"add nudge's [postgres] extra: {install_command('postgres')}"
        raise UserError(
            f"database_url: {shown_url(url)} needs the Python package {driver}, which is not installed: {how}"
        ) from None
    dialect.configure(engine, wait)
    sa.event.listen(engine, "handle_error", _server_translator(url, wait))
    owner.install(engine)
    return engine


def open_db(url: str, migrate: bool = True, wait: float = WAIT) -> Engine:
    """Open the store and bring its schema up to date."""
    engine = make_engine(url, wait)
    path = lock_path(engine.url, "migrate")
    # Two processes opening a new store at once (the daemon, a CLI command) would both
    # apply the same migration; the second waits for the first and then finds nothing to do.
    held = (
        file_lock(path, wait, "the database is being upgraded by PID {pid}")
        if path
        else dialect.migration_lock(engine)
    )
    try:
        if migrate:
            with held:
                migrations.migrate(engine)
    except StoreError:
        raise
    except sa.exc.DBAPIError as e:
        raise UserError(f"cannot open the database {shown_url(url)}: {e.orig}") from e
    return engine


@contextmanager
def atomic(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed on success, rolled back on any exception.

    It holds the store's write lock from the start (SQLite: BEGIN IMMEDIATE;
    PostgreSQL: an advisory lock, see dialect.py), so it waits for another
    writer's transaction rather than failing in the middle or interleaving with it.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            session.connection(execution_options={dialect.WRITE: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
