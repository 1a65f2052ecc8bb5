"""`store.bulk.insert_rows` stores what SQLAlchemy's own executemany stores, on SQLite and PostgreSQL.

Rows are touches as the event ingest builds them (aware datetimes through the UTC column type,
one `created_at` shared by the batch), in groups that name different columns; read back, the
rows inserted both ways are the same, column for column.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from nudge.config import Settings
from nudge.store.bulk import insert_rows
from nudge.store.db import atomic, make_engine, open_db
from nudge.store.models import Contact, Touch
from nudge.store.owner import every_owner

pytestmark = pytest.mark.both_stores


def touch_rows(contact_id: int, prefix: str) -> list[dict[str, Any]]:
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    rows: list[dict[str, Any]] = []
    for i in range(40):
        row: dict[str, Any] = {
            "contact_id": contact_id,
            "kind": "meeting",
            "source": "caldav",
            "external_id": f"{prefix}{i}",
            "at": datetime(2025, 3, 30, 1, 30, tzinfo=berlin) + timedelta(hours=i),  # across the DST change
            "weight": 1.0 if i % 3 else 0.5,
            "direction": "both",
            "summary": None if i % 5 == 0 else f"Weekly 1:1 – Zoë #{i}",
            "created_at": now,
        }
        if i % 4 == 0:
            del row["direction"]  # another set of columns: its own statement
        rows.append(row)
    return rows


def read_back(engine: sa.Engine, prefix: str) -> list[tuple[Any, ...]]:
    t = Touch.__table__  # type: ignore[attr-defined]
    columns = [c for c in t.c if c.name not in ("id", "external_id")]
    query = sa.select(*columns).where(t.c.external_id.like(f"{prefix}%")).order_by(t.c.at)
    with every_owner(engine).connect() as connection:  # a Core read of the whole store
        return [tuple(r) for r in connection.execute(query)]


def test_bulk_rows_read_back_like_sqlalchemys(settings: Settings) -> None:
    open_db(settings.database)
    engine = make_engine(settings.database)
    with atomic(engine) as s:
        contact = Contact(name="Ana Ruiz")
        s.add(contact)
        s.flush()
        cid = contact.id
    assert cid is not None
    table = Touch.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        reference = touch_rows(cid, "sa-")
        for keys in {
            tuple(r) for r in reference
        }:  # SQLAlchemy takes one executemany's columns from its first row
            connection.execute(table.insert(), [r for r in reference if tuple(r) == keys])
        insert_rows(connection, Touch, touch_rows(cid, "bulk-"))
    ours, theirs = read_back(engine, "bulk-"), read_back(engine, "sa-")
    assert len(ours) == 40
    assert ours == theirs
    assert ours[0][1] == datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # 01:30 CET, stored and read as UTC
    assert ours[0][3] == "out" and ours[1][3] == "both"  # a missing column takes the model's default


def test_bulk_rows_belong_to_the_connections_user(settings: Settings) -> None:
    """The driver-level executemany skips the engine's INSERT hook; the rows still get their owner."""
    from sqlmodel import Session, select

    from nudge.store import owner

    engine = open_db(settings.database)
    ben = owner.add_user(engine, "ben").id
    assert ben is not None and ben != owner.PERSONAL
    bens = owner.as_owner(engine, ben)
    with atomic(bens) as s:
        contact = Contact(name="Ana Ruiz")
        s.add(contact)
        s.flush()
        cid = contact.id
    assert cid is not None
    with bens.begin() as connection:
        insert_rows(connection, Touch, touch_rows(cid, "bulk-"))
    with Session(every_owner(engine)) as s:
        owners = set(s.exec(select(Touch.owner_id)))  # type: ignore[attr-defined]
    assert owners == {ben}
    with Session(engine) as s:  # the personal user sees none of them
        assert s.exec(select(Touch)).first() is None
