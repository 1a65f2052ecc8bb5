"""A team in one store, end to end through the `nudge` command: `team add/list/remove`, `--user`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from typer.testing import CliRunner

from nudge import unit
from nudge.cli import app
from tests.builders import vcalendar, vcard, vevent
from tests.conftest import NOW

runner = CliRunner()


def nudge(config: Path, *args: str, answer: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args], input=answer, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def main(tmp_path: Path, store_url: str, clock: None) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'timezone = "Europe/Berlin"\ndatabase_url = "{store_url}"\nteam = "users.d"\n')
    return path


def user_file(main: Path, name: str, book: Path, me: str) -> None:
    (main.parent / "users.d" / f"{name}.toml").write_text(
        f"""[me]
name = "{name.title()}"
emails = ["{me}"]
[[sources]]
type = "files"
name = "book"
paths = ["{book}"]
"""
    )


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


@pytest.mark.both_stores
def test_add_list_and_remove_a_user(main: Path, tmp_path: Path, store_url: str) -> None:
    code, out = nudge(main, "team", "add", "ana")
    assert code == 0, out
    path = main.parent / "users.d" / "ana.toml"
    assert f"Added user ana (id 2); wrote a starter {path}" in out
    assert path.stat().st_mode & 0o777 == 0o600
    code, out = nudge(main, "team", "add", "ana")
    assert code == 1 and "already a user named 'ana'" in out
    code, out = nudge(main, "team", "add", "Ana Ruiz")
    assert code == 1 and "not a user name" in out

    book = tmp_path / "ana.vcf"
    book.write_text(
        vcard("c1", "Carla Diaz", emails=("carla@example.org",), categories=("top100",))
        + vcard("c2", "Dan Eze", emails=("dan@example.org",))
    )
    (tmp_path / "ana.ics").write_text(
        vcalendar(vevent("m1", NOW - timedelta(days=3), ("carla@example.org",)))
    )
    user_file(main, "ana", book, "ana@example.com")
    code, out = nudge(main, "--user", "ana", "sync")
    assert code == 0, out
    assert rows(store_url, "SELECT owner_id, name FROM contact ORDER BY name") == [
        (2, "Carla Diaz"),
        (2, "Dan Eze"),
    ]

    (main.parent / "users.d" / "ben.toml").write_text('[digest]\ntime = "7:61"\n')
    code, out = nudge(main, "team", "list", "--json")
    assert code == 0, out
    listed = {u["name"]: u for u in json.loads(out)}
    assert listed["ana"] == {"name": "ana", "id": 2, "file": str(path), "ok": True, "problem": ""}
    assert listed["ben"]["id"] is None and "digest.time" in listed["ben"]["problem"]
    assert listed["me"]["id"] == 1 and listed["me"]["ok"]

    code, out = nudge(main, "team", "remove", "ana", answer="n\n")
    assert code == 1 and "User ana holds" in out and "2 contact" in out and "Nothing deleted" in out
    assert len(rows(store_url, "SELECT id FROM contact")) == 2
    code, out = nudge(main, "team", "remove", "ana", "--yes")
    assert code == 0, out
    assert rows(store_url, "SELECT id FROM contact") == []
    assert rows(store_url, "SELECT name FROM nudge_user") == [("me",)]
    assert not path.exists() and path.with_name("ana.toml.removed").exists()
    code, out = nudge(main, "team", "remove", "me", "--yes")
    assert code == 1 and "personal" in out


ROOT = Path(__file__).resolve().parents[2]


def test_doctor_lists_a_bad_user_file_and_counts_the_good_ones(main: Path) -> None:
    folder = main.parent / "users.d"
    folder.mkdir()
    (folder / "ana.toml").write_text('[me]\nemails = ["ana@example.com"]\n')
    (folder / "ben.toml").write_text('[me]\nemails = ["not-an-address"]\n')
    code, out = nudge(main, "doctor")
    assert code == 1
    assert f"[ok  ] team: {folder}: 1 users" in out
    assert (
        f"[FAIL] user ben: {folder / 'ben.toml'}: me.emails" in out and f"edit {folder / 'ben.toml'}" in out
    )
    code, out = nudge(main, "--user", "ana", "doctor")
    assert "user ben" not in out and "team:" not in out


def test_service_install_team_runs_the_team_daemon(main: Path) -> None:
    result = runner.invoke(app, ["--config", str(main), "service", "install", "--team"])
    assert result.exit_code == 0, result.output
    text = (unit.unit_dir() / unit.UNIT_NAME).read_text()
    assert f"ExecStart={unit.installed_exec(str(main))} --team\n" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_two_server_unit_verifies(tmp_path: Path) -> None:
    """systemd/nudge-team.service, as docs/deployment.md shows it, with this installation's nudge."""
    text = (ROOT / "systemd" / "nudge-team.service").read_text()
    assert "ExecStart=/opt/nudge/bin/nudge --config /etc/nudge/config.toml run --team\n" in text
    assert f"```ini\n{text}```" in (ROOT / "docs" / "deployment.md").read_text()
    path = tmp_path / "nudge-team.service"
    path.write_text(text.replace("/opt/nudge/bin/nudge", unit.installed_exec().removesuffix(" run")))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


@pytest.mark.both_stores
def test_each_user_sees_only_their_own_people(main: Path, tmp_path: Path) -> None:
    """The same person in two users' books, and one of the personal install's: each `--user`
    command (and doctor) shows that user's rows only, and the personal install its own."""
    for name, extra in (("ana", "Ana Only"), ("ben", "Ben Only")):
        book = tmp_path / f"{name}.vcf"
        book.write_text(
            vcard("fran", "Fran Kay", emails=("fran@example.org",), categories=("top100",))
            + vcard(f"{name}-own", extra, emails=(f"own@{name}.example.org",))
        )
        (main.parent / "users.d").mkdir(exist_ok=True)
        user_file(main, name, book, f"{name}@example.com")
        code, out = nudge(main, "--user", name, "sync")
        assert code == 0, out
    code, out = nudge(main, "--user", "ana", "contacts", "--json")
    assert code == 0, out
    assert sorted(c["name"] for c in json.loads(out)) == ["Ana Only", "Fran Kay"]
    code, out = nudge(main, "--user", "ben", "contacts", "--json")
    assert sorted(c["name"] for c in json.loads(out)) == ["Ben Only", "Fran Kay"]
    code, out = nudge(main, "contacts", "--json")
    assert code == 0 and json.loads(out) == []
    code, out = nudge(main, "--user", "ana", "doctor")
    assert ", 2 contacts" in out and "last sync 0 min ago" in out
    code, out = nudge(main, "doctor")
    assert ", 0 contacts" in out


def test_on_sqlite_each_users_day_has_a_lock_file_of_its_own(tmp_path: Path) -> None:
    """Two users' digests may be sent at once; one user's twice may not (the file lock)."""
    from nudge.digest.claim import hold_day
    from nudge.errors import Busy
    from nudge.store import owner
    from nudge.store.db import open_db

    engine = open_db(f"sqlite:///{tmp_path / 'nudge.db'}")
    ana = owner.as_owner(engine, owner.add_user(engine, "ana").id or 0)
    ben = owner.as_owner(engine, owner.add_user(engine, "ben").id or 0)
    day = NOW.date()
    with hold_day(ana, day), hold_day(ben, day), hold_day(engine, day):
        assert {p.name for p in tmp_path.glob("*.send*.lock")} == {
            "nudge.db.send.lock",
            "nudge.db.send-user2.lock",
            "nudge.db.send-user3.lock",
        }
        with pytest.raises(Busy), hold_day(ana, day):
            pass
    engine.dispose()


def test_team_commands_need_a_team_folder(tmp_path: Path, store_url: str) -> None:
    alone = tmp_path / "alone.toml"
    alone.write_text(f'database_url = "{store_url}"\n')
    code, out = nudge(alone, "team", "add", "ana")
    assert code == 1 and f'no team folder: add team = "~/.config/nudge/users.d" to {alone}' in out
    code, out = nudge(alone, "--user", "ana", "contacts")
    assert code == 1 and "no team folder" in out
    code, out = nudge(alone, "run", "--team")
    assert code == 1 and "no team folder" in out
