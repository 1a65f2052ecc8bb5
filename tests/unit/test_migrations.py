"""Migrations: ordered, recorded, idempotent, and upgrading keeps the data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from nudge.store import migrations, models
from nudge.store.db import make_engine, open_db

pytestmark = pytest.mark.both_stores


def test_fresh_database_gets_every_migration_once(blank_store_url: str) -> None:
    engine = make_engine(blank_store_url)
    applied = migrations.migrate(engine)
    assert applied == [name for name, _ in migrations.MIGRATIONS]
    assert migrations.migrate(engine) == []
    assert migrations.applied(engine) == applied


def test_migrated_schema_matches_the_models(blank_store_url: str) -> None:
    engine = open_db(blank_store_url)
    inspector = sa.inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        assert table in [t.__table__ for t in models.TABLES]  # type: ignore[attr-defined]
        migrated = {c["name"]: c for c in inspector.get_columns(table.name)}
        declared = {c.name: c for c in table.columns}
        assert set(migrated) == set(declared), table.name
        for name, column in declared.items():
            if not column.primary_key:
                assert bool(migrated[name]["nullable"]) == bool(column.nullable), f"{table.name}.{name}"
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                assert tuple(c.name for c in constraint.columns) in uniques, table.name


def test_upgrade_from_first_migration_keeps_data(blank_store_url: str) -> None:
    url = blank_store_url
    engine = make_engine(url)
    assert migrations.migrate(engine, upto="0001_initial") == ["0001_initial"]
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO contact (id, name, tier, warmth_sum) VALUES (1, 'Ana Ruiz', 'top100', 0.5)")
        )
        conn.execute(
            sa.text(
                "INSERT INTO touch (contact_id, at, kind, direction, weight, source, note) "
                "VALUES (1, '2026-01-02 10:00:00', 'call', 'out', 0.8, 'cli', 'moving to Berlin')"
            )
        )
    engine.dispose()

    upgraded = open_db(url)
    assert migrations.applied(upgraded) == [name for name, _ in migrations.MIGRATIONS]
    with upgraded.connect() as conn:
        row = conn.execute(sa.text("SELECT name, tier FROM contact WHERE id = 1")).one()
        touch = conn.execute(sa.text("SELECT note, outcome, summary FROM touch")).one()
        assert conn.execute(sa.text("SELECT count(*) FROM sighting")).scalar() == 0
    assert tuple(row) == ("Ana Ruiz", "top100")
    assert tuple(touch) == ("moving to Berlin", None, None)


def test_failed_migration_rolls_back_and_is_not_recorded(
    blank_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(blank_store_url)
    migrations.migrate(engine, upto="0001_initial")

    def broken(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE half_done (id INTEGER)"))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS[:1], ("0002_broken", broken)])
    with pytest.raises(RuntimeError):
        migrations.migrate(engine)
    assert migrations.applied(engine) == ["0001_initial"]
    assert not sa.inspect(engine).has_table("half_done")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = open_db(f"sqlite:///{tmp_path / 'sub' / 'a.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "sub").stat().st_mode & 0o777 == 0o700


def test_naive_datetimes_are_refused(blank_store_url: str) -> None:
    from sqlmodel import Session

    engine = open_db(blank_store_url)
    with Session(engine) as s, pytest.raises(sa.exc.StatementError, match="naive datetime"):
        s.add(models.Contact(name="x", created_at=datetime(2026, 1, 1)))
        s.commit()


def test_card_aliases_have_grouped_sources_read_their_cards_again(blank_store_url: str) -> None:
    """0011: cards stored before aliases existed are fetched once more where groups may need them."""
    url = blank_store_url
    engine = make_engine(url)
    migrations.migrate(engine, upto="0009_first_sync_tiers")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO contact (id, name, warmth_sum) VALUES (1, 'Ana Ruiz', 0)"))
        rows = [  # source, href, kind, contact
            ("book", "/a.vcf", "contact", 1),
            ("book", "/g.vcf", "group", None),
            ("plain", "/b.vcf", "contact", 1),
            ("book", "/e.ics", "event", None),
        ]
        for source, href, kind, cid in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO sourcerecord (source, collection, href, kind, uid, etag, contact_id, "
                    "raw_hash, format) VALUES (:s, 'c', :h, :k, 'u', 'etag-1', :c, '', '')"
                ),
                {"s": source, "h": href, "k": kind, "c": cid},
            )
        conn.execute(
            sa.text("INSERT INTO groupmember (source, group_href, member) VALUES ('book', '/g.vcf', 'x')")
        )
        for source in ("book", "plain"):
            conn.execute(
                sa.text("INSERT INTO syncstate (source, collection, token) VALUES (:s, 'c', 't-1')"),
                {"s": source},
            )
    engine.dispose()

    upgraded = open_db(url)
    with upgraded.connect() as conn:
        etags = dict(conn.execute(sa.text("SELECT source || href, etag FROM sourcerecord")).all())
        tokens = dict(conn.execute(sa.text("SELECT source, token FROM syncstate")).all())
        aliases = set(conn.execute(sa.text("SELECT alias FROM sourcerecord")).scalars())
    assert etags == {
        "book/a.vcf": "",
        "book/g.vcf": "etag-1",
        "plain/b.vcf": "etag-1",
        "book/e.ics": "etag-1",
    }
    assert tokens == {"book": None, "plain": "t-1"}
    assert aliases == {""}


def test_event_keys_are_found_by_their_prefix_range(blank_store_url: str) -> None:
    """0018: `uid|...` lies between `uid|` and `uid}` only in byte order, which PostgreSQL's
    usual collations are not ('}' sorts before '|' there): the range must still find it."""
    engine = open_db(blank_store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO contact (id, name, warmth_sum) VALUES (1, 'Ana Ruiz', 0)"))
        for table, extra in (
            ("touch", ", kind, direction, weight, source"),
            ("planned", ", source, event_uid, summary"),
        ):
            values = ", 'call', 'out', 1, 'cal'" if table == "touch" else ", 'cal', 'e1', 'Coffee'"
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} (contact_id, at, external_id{extra}) "
                    f"VALUES (1, '2026-11-02 09:00:00', 'e1|20261102T090000Z'{values})"
                )
            )
    with engine.connect() as conn:
        for table in ("touch", "planned"):
            found = conn.execute(
                sa.text(
                    f"SELECT external_id FROM {table} WHERE external_id >= 'e1|' AND external_id < 'e1}}'"
                )
            ).scalars()
            assert list(found) == ["e1|20261102T090000Z"], table
