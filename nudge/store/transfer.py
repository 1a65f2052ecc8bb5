"""`nudge migrate-store`: copy a whole store into an empty database (SQLite to PostgreSQL, or back).

Every table of the models is copied in dependency order (parents before the rows
that refer to them) with its ids kept, so every reference, journal entry and
Message-ID number still points at the same row; the target's id sequences are then
moved past the copied ids. The source is read in one transaction (a consistent
snapshot) and the target written in one, so a copy that fails leaves the target
empty. The source is never changed beyond bringing its schema up to date, as every
nudge command does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from nudge.errors import UserError
from nudge.store import dialect
from nudge.store.db import atomic, make_engine, open_db, shown_url
from nudge.store.models import TABLES, User
from nudge.store.owner import every_owner

BATCH = 1000  # rows read and written at a time


@dataclass(frozen=True)
class Copied:
    source: str  # the URLs, without their passwords
    target: str
    rows: dict[str, int]  # table -> rows copied, in the order copied

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def tables() -> list[sa.Table]:
    """The store's tables, parents first (SQLAlchemy's dependency sort over the foreign keys)."""
    mine = {model.__table__.name for model in TABLES}  # type: ignore[attr-defined]
    return [t for t in SQLModel.metadata.sorted_tables if t.name in mine]


def _rows_in(engine: Engine) -> dict[str, int]:
    """Rows in each store table the database already has (none for a new database)."""
    inspector = sa.inspect(engine)
    counts = {}
    with engine.connect() as conn:
        for table in tables():
            if inspector.has_table(table.name):
                counts[table.name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    # The users a new store is made with (user 1, "me") own nothing yet: not data, and replaced.
    return {name: n for name, n in counts.items() if n and name != User.__tablename__}


def _batches(conn: Connection, table: sa.Table) -> Iterator[list[dict[str, object]]]:
    order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
    result = conn.execution_options(yield_per=BATCH).execute(sa.select(table).order_by(*order))
    for part in result.partitions(BATCH):
        yield [dict(row._mapping) for row in part]


def copy_store(source_url: str, target_url: str) -> Copied:
    """Copy every row of `source_url`'s store into `target_url`, which must hold no nudge data.

    Raises UserError when the two are the same database or the target is not empty.
    """
    source_shown, target_shown = shown_url(source_url), shown_url(target_url)
    if sa.engine.make_url(source_url) == sa.engine.make_url(target_url):
        raise UserError(f"migrate-store: the source and the target are the same database ({source_shown})")
    source = every_owner(open_db(source_url))  # the whole store, every user's rows
    probe = every_owner(make_engine(target_url))
    try:
        held = _rows_in(probe)
    except sa.exc.DBAPIError as e:
        raise UserError(f"cannot open the database {target_shown}: {e.orig}") from e
    finally:
        probe.dispose()
    if held:
        listed = ", ".join(f"{n} {name}" for name, n in held.items())
        raise UserError(
            f"migrate-store: {target_shown} already holds nudge data ({listed}); it copies into an "
            "empty database only: create a new one (createdb) and point the command at it"
        )
    target = every_owner(open_db(target_url))  # each row keeps its owner
    rows: dict[str, int] = {}
    try:
        with source.connect() as reading, reading.begin(), atomic(target) as writing:
            writing.execute(sa.delete(User))  # the new target's own users, replaced by the source's
            for table in tables():
                rows[table.name] = 0
                for batch in _batches(reading, table):
                    try:
                        writing.execute(sa.insert(table), batch)
                    except sa.exc.DBAPIError as e:
                        where = f"{table.name} (ids from {batch[0].get('id', '?')})"
                        raise UserError(
                            f"migrate-store: {target_shown} refused a row of {where}: "
                            f"{str(e.orig).splitlines()[0]}; nothing was copied (the target is left empty)"
                        ) from e
                    rows[table.name] += len(batch)
                dialect.reset_ids(writing.connection(), table)
    finally:
        source.dispose()
        target.dispose()
    return Copied(source_shown, target_shown, rows)
