"""What differs between SQLite and PostgreSQL, in one place: every `if sqlite` of the store is here.

The rest of nudge writes portable SQLAlchemy and gets the same guarantees on both:

- One writer at a time. SQLite's BEGIN IMMEDIATE takes the database's write lock
  up front; on PostgreSQL every write transaction takes one transaction-level
  advisory lock first (`pg_advisory_xact_lock`), its user's (one per user of the
  store, store/owner.py), released at COMMIT or ROLLBACK,
  kill -9 included (the server ends the dead client's session). Readers never wait.
  So a read-then-write (a sync batch, the day's lease) sees no other writer between
  its read and its write on either store.
- How long a writer waits: SQLite's busy_timeout, PostgreSQL's lock_timeout, both
  `database_wait`; then one StoreError line.
- Times are naive UTC in columns without a zone (`TIMESTAMP`) on both, converted at
  the edge by models.UTCDateTime, so the server's TimeZone never shifts an hour.
- Text with a NUL character: SQLite's text can hold one, PostgreSQL's cannot; none
  reaches the store, since core.records drops control characters from what comes in.
- Insert-if-absent: each dialect's own `INSERT ... ON CONFLICT DO NOTHING`.
- Ids after a copy with explicit ids: PostgreSQL's sequences are moved past them.
- Keys matched by prefix (`uid|...` as the range `uid|` to `uid}`) compare byte by
  byte: SQLite's default; on PostgreSQL those columns get the "C" collation, since a
  server's usual ICU or libc order puts '}' before '|' and the range comes out empty.
- Lists ordered by a text column (`bytewise`) come out in byte order on both, as SQLite
  gives them, so a store moved to PostgreSQL answers `nudge contacts` in the same order.
- Dropping a column: ALTER TABLE on PostgreSQL, a table rebuild on old SQLite.
- Migrations of two processes opening a new store at once: a file lock beside an
  SQLite file (db.open_db), a session advisory lock on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

WRITE = "nudge_write"  # execution option: this transaction will write
# Execution options of store/owner.py, named here so that the write lock can be per user.
OWNER = "nudge_owner"  # the user whose rows an engine or connection reads and writes
TEAM = "nudge_team"  # an engine of many users, which has no default owner
ALL = "nudge_all_owners"  # the whole store, every user's rows as they are (copy, migrate)
# pg_advisory locks take a bigint key, or two int keys (a separate key space); these spell
# "nudge:w" and "nudge:m" in ASCII, and "nudw" (the class of the per-user write locks).
WRITE_LOCK = int.from_bytes(b"nudge:w", "big")
MIGRATE_LOCK = int.from_bytes(b"nudge:m", "big")
USER_WRITE_LOCK = int.from_bytes(b"nudw", "big")


def is_sqlite(bind: Engine | Connection | sa.URL) -> bool:
    url = bind if isinstance(bind, sa.URL) else bind.engine.url
    return url.get_backend_name() == "sqlite"


def _sqlite_connect(wait: float) -> Any:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite commits on its own before DDL; take transactions over so that a
        # migration really is all-or-nothing (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return connect


def _sqlite_begin(conn: Any) -> None:
    # A writer takes the write lock up front: SQLite then waits busy_timeout for it.
    # A deferred transaction that reads and later writes fails at once, without
    # waiting, when another process committed in between (SQLITE_BUSY_SNAPSHOT).
    write = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgres_connect(wait: float) -> Any:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy's recipe for session settings: outside a transaction, so it lasts.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {int(wait * 1000)}")
            cur.execute("SET TIME ZONE 'UTC'")  # what `now()` means in a query typed by hand
        dbapi_conn.autocommit = autocommit

    return connect


def _postgres_begin(conn: Any) -> None:
    """A writer takes its user's write lock: one user's sync never waits for another's.

    A store-wide writer (no user: adding one, a copy) takes the store's own lock.
    """
    options = conn.get_execution_options()
    if options.get(WRITE, False):
        owner = options.get(OWNER)
        if owner is None and not options.get(TEAM) and not options.get(ALL):
            owner = 1  # the personal install's only user
        key = f"{USER_WRITE_LOCK}, {int(owner)}" if owner is not None else f"{WRITE_LOCK}"
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({key})")


def configure(engine: Engine, wait: float) -> None:
    """Give a new engine its dialect's connection settings and write lock."""
    if is_sqlite(engine):
        sa.event.listen(engine, "connect", _sqlite_connect(wait))
        sa.event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", _postgres_connect(wait))
        sa.event.listen(engine, "begin", _postgres_begin)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, hold the migration lock (waiting lock_timeout); elsewhere nothing."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATE_LOCK})")
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATE_LOCK})")
            conn.commit()


class _Bytewise(sa.sql.expression.ColumnElement[str]):
    """A text column in byte order: itself on SQLite, `COLLATE "C"` on PostgreSQL."""

    inherit_cache = True

    def __init__(self, column: sa.ColumnElement[str]) -> None:
        self.column = column
        self.type = column.type


@compiles(_Bytewise)
def _bytewise(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_Bytewise, "postgresql")
def _bytewise_postgres(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.collate("C"), **kw)


def bytewise(column: Any) -> sa.ColumnElement[str]:
    """`column` as an ORDER BY key in byte order on every store (SQLite's own order)."""
    return _Bytewise(column)


def insert_or_skip(bind: Engine | Connection | Any, table: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table` (a model or a Table) for the bind's dialect."""
    name = bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name
    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def reset_ids(conn: Connection, table: sa.Table) -> None:
    """After rows came in with their ids: the next id is past the largest (PostgreSQL's sequence).

    SQLite's INTEGER PRIMARY KEY without AUTOINCREMENT takes max(id) + 1 on its own.
    """
    if conn.dialect.name != "postgresql" or "id" not in table.c:
        return
    conn.execute(
        sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table.name}"
        )
    )


def byte_order(conn: Connection, table: str, column: str) -> None:
    """Make a text column compare and sort byte by byte (SQLite's BINARY, PostgreSQL's "C").

    Its indexes then serve prefix ranges again (PostgreSQL rebuilds them). SQLite's
    columns are BINARY unless declared otherwise, so there is nothing to do there.
    """
    if is_sqlite(conn):
        return
    conn.execute(sa.text(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR COLLATE "C"'))


def drop_column(conn: Connection, table: str, column: str) -> None:
    """Drop a column that nothing reads: ALTER TABLE where the database can, else a table rebuild.

    SQLite gained DROP COLUMN only in 3.35 (2021), and Python's sqlite3 uses the
    system's library, so on SQLite the table is rebuilt the documented way: a new
    table without the column, the rows copied, the old one dropped, the new one
    renamed, its indexes made again. No table refers to the ones rebuilt here.
    """
    if not is_sqlite(conn):
        conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        return
    create = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    indexes = (
        conn.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
            ),
            {"t": table},
        )
        .scalars()
        .all()
    )
    columns = [row[1] for row in conn.execute(sa.text(f"PRAGMA table_info({table})")) if row[1] != column]
    without = re.sub(rf"\s*\b{column}\b [^,]*,", "", create, count=1)
    assert without != create, f"{table}.{column} not found in its CREATE TABLE"
    conn.execute(sa.text(without.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}__new (", 1)))
    names = ", ".join(columns)
    conn.execute(sa.text(f"INSERT INTO {table}__new ({names}) SELECT {names} FROM {table}"))
    conn.execute(sa.text(f"DROP TABLE {table}"))
    conn.execute(sa.text(f"ALTER TABLE {table}__new RENAME TO {table}"))
    for index in indexes:
        conn.execute(sa.text(index))


_OWNER_COLUMN = "owner_id INTEGER NOT NULL DEFAULT 1 REFERENCES nudge_user (id)"


def add_owner(conn: Connection, tables: list[str], per_owner: dict[str, tuple[str, ...]]) -> None:
    """Give each table (parents first) `owner_id` = 1; the unique keys of `per_owner` end with it.

    PostgreSQL: ALTER TABLE, and each unique key dropped (found by its columns) and made
    again. SQLite refuses ADD COLUMN with a REFERENCES clause and a default while foreign keys
    are on, and cannot change a constraint, so every table is rebuilt the documented way: all
    new tables made (referring to each other's new names) and filled, parents first; the old
    ones dropped, children first, so no row ever points at a missing parent; the new ones
    renamed (SQLite renames the references with them) and their indexes made again.
    """
    if not is_sqlite(conn):
        inspector = sa.inspect(conn)
        for table in tables:
            name = conn.dialect.identifier_preparer.quote(table)
            conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {_OWNER_COLUMN}"))
            if table in per_owner:
                columns = list(per_owner[table])
                old = next(u for u in inspector.get_unique_constraints(table) if u["column_names"] == columns)
                conn.execute(sa.text(f'ALTER TABLE {name} DROP CONSTRAINT "{old["name"]}"'))
                listed = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in [*columns, "owner_id"])
                conn.execute(sa.text(f"ALTER TABLE {name} ADD UNIQUE ({listed})"))
        return
    empty = not any(conn.execute(sa.text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() for table in tables)
    indexes: list[str] = []
    creates: list[str] = []
    for table in tables:
        create = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
        ).scalar_one()
        indexes += (
            conn.execute(
                sa.text(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
                ),
                {"t": table},
            )
            .scalars()
            .all()
        )
        names = ", ".join(f'"{row[1]}"' for row in conn.execute(sa.text(f'PRAGMA table_info("{table}")')))
        new = re.sub(rf'^CREATE TABLE "?{table}"? \(', f"CREATE TABLE {table}__new (", create, count=1)
        for parent in tables:
            new = new.replace(f"REFERENCES {parent} (", f"REFERENCES {parent}__new (")
        new = new.replace("PRIMARY KEY (id)", f"{_OWNER_COLUMN}, \n\tPRIMARY KEY (id)", 1)
        if table in per_owner:
            key = ", ".join(per_owner[table])
            assert f"UNIQUE ({key})" in new, f"{table}: no UNIQUE ({key}) in its CREATE TABLE"
            new = new.replace(f"UNIQUE ({key})", f"UNIQUE ({key}, owner_id)", 1)
        assert new.startswith(f"CREATE TABLE {table}__new (") and "owner_id" in new, table
        creates.append(new)
        if not empty:
            conn.execute(sa.text(new))
            conn.execute(sa.text(f'INSERT INTO "{table}__new" ({names}) SELECT {names} FROM "{table}"'))
    if empty:
        # A new store: no row to carry over, so the tables are made again under their own
        # names (the same definitions), without the renames that rewrite every reference.
        for table in reversed(tables):
            conn.execute(sa.text(f'DROP TABLE "{table}"'))
        for table, create in zip(tables, creates, strict=True):
            sql = create.replace(f"CREATE TABLE {table}__new (", f'CREATE TABLE "{table}" (', 1)
            for parent in tables:
                sql = sql.replace(f"REFERENCES {parent}__new (", f'REFERENCES "{parent}" (')
            conn.execute(sa.text(sql))
        for index in indexes:
            conn.execute(sa.text(index))
        return
    for table in reversed(tables):
        conn.execute(sa.text(f'DROP TABLE "{table}"'))
    for table in tables:
        conn.execute(sa.text(f'ALTER TABLE "{table}__new" RENAME TO "{table}"'))
    for index in indexes:
        conn.execute(sa.text(index))
