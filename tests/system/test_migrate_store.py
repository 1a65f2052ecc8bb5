"""`nudge migrate-store`: a personal SQLite store moved to a real PostgreSQL answers the same.

The store is made the way a user makes one (sync, log, note, outcome, tier, snooze,
referrals, a digest sent, an undo), copied with the command, and every view is asked
the same questions on both: `contacts`, `show`, `stats`, `digest --dry-run --json`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from nudge.store.db import make_engine
from nudge.store.owner import every_owner
from nudge.store.transfer import tables
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.servers.postgres import Postgres
from tests.system.test_cli import clock, nudge

__all__ = ["clock"]

CONFIG = """timezone = "Europe/Berlin"
database_url = "{url}"
maildir = "{root}/Maildir"
[me]
emails = ["{me}"]
region = "DE"
[[sources]]
type = "files"
name = "files"
paths = ["{root}/contacts.vcf", "{root}/calendar.ics"]
"""

QUESTIONS = [
    ("contacts", "--json", "--archived"),
    ("show", "Ana Ruiz", "--json"),
    ("show", "Ben Ott", "--json"),
    ("show", "zoe", "--json"),
    ("stats", "--json"),
    ("digest", "--dry-run", "--json"),
    ("log", "--list"),
    ("referral", "list"),
]


def config(root: Path, url: str, name: str) -> Path:
    path = root / name
    path.write_text(CONFIG.format(url=url, root=root, me=ME))
    return path


def personal_store(root: Path, clock: time_machine.Coordinates) -> Path:
    """An SQLite store with a bit of everything, made through the CLI."""
    (root / "contacts.vcf").write_text(
        vcard("ana", "Ana Ruiz", ("ana@example.org",), phones=("+49 30 1234567",), categories=("top100",))
        + vcard("anna", "anna berg", ("anna@example.org",), categories=("top100",))
        + vcard("ben", "Ben Ott", ("ben@example.net",), org="Acme", categories=("partner",))
        + vcard("zoe", "Zoë Çelik", ("zoe@example.com",), categories=("top100",))
    )
    (root / "calendar.ics").write_text(
        vcalendar(
            vevent("e1", NOW - timedelta(days=45), ("ana@example.org",), "Coffee"),
            vevent("e2", NOW - timedelta(days=12), ("ben@example.net", "stranger@example.com"), "Lunch"),
            vevent("e3", NOW + timedelta(days=3), ("zoe@example.com",), "Dinner"),
        )
    )
    path = config(root, f"sqlite:///{root / 'nudge.db'}", "sqlite.toml")
    for command in (
        ("sync",),
        ("log", "zoe", "call: new job at Acme, wants intro to a CFO"),
        ("outcome", "zoe", "conversation"),
        ("note", "ana", "moving to Lisbon in spring"),
        ("tier", "anna", "partner"),
        ("snooze", "ben", "1w"),
        ("referral", "given", "ben", "intro to Lee", "--counterpart", "Lee Chan"),
        ("referral", "received", "ben", "a client"),
        ("digest",),
        ("log", "ana", "message: see you soon"),
        ("undo",),  # the message is taken back: an undone journal entry
    ):
        code, out = nudge(*command, config=path)
        assert code == 0, (command, out)
    clock.move_to(NOW + timedelta(days=1))
    return path


def answers(path: Path) -> list[str]:
    out = []
    for question in QUESTIONS:
        code, text = nudge(*question, config=path)
        assert code == 0, (question, text)
        out.append(text)
    return out


def every_row(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = every_owner(make_engine(url))  # every user's rows, as they are
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                for t in tables()
            }
    finally:
        engine.dispose()


@pytest.fixture
def target(postgres_url: str, postgres: Postgres) -> str:
    """An empty PostgreSQL database; its URL without the password (libpq's password file has it)."""
    return postgres_url.replace(f":{postgres.password}@", "@")


def test_a_store_moved_to_postgresql_answers_every_question_the_same(
    tmp_path: Path, clock: time_machine.Coordinates, target: str
) -> None:
    sqlite_config = personal_store(tmp_path, clock)
    source = f"sqlite:///{tmp_path / 'nudge.db'}"
    before = answers(sqlite_config)
    rows_before = every_row(source)
    assert all(rows_before[t] for t in ("contact", "touch", "note", "referral", "suggestion", "useraction"))

    code, out = nudge("migrate-store", source, target)
    assert code == 0, out
    assert f"Copied {sum(map(len, rows_before.values()))} rows from {source} to {target}" in out
    assert f'database_url = "{target}"' in out

    postgres_config = config(tmp_path, target, "postgres.toml")
    assert answers(postgres_config) == before
    assert every_row(target) == rows_before  # every row, with its id
    assert answers(sqlite_config) == before  # the source is left as it was

    # New rows get new ids after the copied ones (the sequences were moved past them).
    code, out = nudge("log", "ana", "call: booked the flat", config=postgres_config)
    assert code == 0, out
    touches = every_row(target)["touch"]
    assert touches[-1][0] == max(t[0] for t in rows_before["touch"]) + 1
    assert json.loads(nudge("show", "Ana Ruiz", "--json", config=postgres_config)[1])["touches"][0][
        "note"
    ] == ("booked the flat")


def test_migrate_store_refuses_a_target_that_holds_nudge_data(
    tmp_path: Path, clock: time_machine.Coordinates, target: str
) -> None:
    personal_store(tmp_path, clock)
    source = f"sqlite:///{tmp_path / 'nudge.db'}"
    assert nudge("migrate-store", source, target)[0] == 0
    copied = every_row(target)
    code, out = nudge("migrate-store", source, target)
    assert code == 1
    assert "already holds nudge data (4 contact" in out and "empty database only" in out
    assert "Traceback" not in out
    assert every_row(target) == copied  # nothing doubled


def test_migrate_store_refuses_the_same_database_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nudge.db'}"
    code, out = nudge("migrate-store", url, url)
    assert code == 1 and "the source and the target are the same database" in out


def test_a_row_postgresql_cannot_hold_is_named_and_nothing_is_copied(
    tmp_path: Path, clock: time_machine.Coordinates, target: str
) -> None:
    """SQLite's text may hold NUL, PostgreSQL's may not: one line naming the table, an empty target."""
    personal_store(tmp_path, clock)
    source = f"sqlite:///{tmp_path / 'nudge.db'}"
    with sqlite3.connect(tmp_path / "nudge.db") as db:  # as a store written by hand might hold
        db.execute("UPDATE note SET text = ?", ("moving\x00 to Lisbon",))
    code, out = nudge("migrate-store", source, target)
    assert code == 1 and "Traceback" not in out
    assert "refused a row of note (ids from 1)" in out and "nothing was copied" in out
    # Empty: a new store's own user 1 ("me") is all it holds.
    assert not any(rows for table, rows in every_row(target).items() if table != "nudge_user")
