"""The `nudge` command end to end on a temp config, store and Maildir."""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import typer
from typer.testing import CliRunner

from nudge.cli import app
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW

runner = CliRunner()


def nudge(*args: str, config: Path | None = None) -> tuple[int, str]:
    argv = (["--config", str(config)] if config else []) + list(args)
    result = runner.invoke(app, argv, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def cfg(tmp_path: Path, clock: time_machine.Coordinates, store_url: str) -> Path:
    people = [
        vcard(
            "ana", "Ana Ruiz", emails=("ana@example.org",), phones=("+49 30 1234567",), categories=("top100",)
        ),
        vcard("anna", "Anna Berg", emails=("anna@example.org",), categories=("top100",)),
        vcard("ben", "Ben Ott", emails=("ben@example.net",), org="Acme", categories=("partner",)),
        vcard("zoe", "Zoë Çelik", emails=("zoe@example.com",), categories=("top100",)),
    ]
    (tmp_path / "contacts.vcf").write_text("".join(people))
    (tmp_path / "calendar.ics").write_text(
        vcalendar(vevent("e1", NOW - timedelta(days=45), ("ana@example.org",), "Coffee"))
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""timezone = "Europe/Berlin"
database_url = "{store_url}"
maildir = "{tmp_path / "Maildir"}"
[me]
emails = ["{ME}"]
region = "DE"
[[sources]]
type = "files"
name = "files"
paths = ["{tmp_path / "contacts.vcf"}", "{tmp_path / "calendar.ics"}"]
"""
    )
    code, out = nudge("sync", config=path)
    assert code == 0, out
    return path


def all_commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every (sub)command path; typer ships its own click, so test by shape."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help() -> None:
    group = typer.main.get_command(app)
    names = list(all_commands(group))
    assert {
        ("init",),
        ("sync",),
        ("digest",),
        ("log",),
        ("snooze",),
        ("tier",),
        ("contacts",),
        ("show",),
        ("demo",),
        ("referral", "given"),
    } <= set(names)
    for path in names:
        code, out = nudge(*path, "--help")
        assert code == 0, path
        command = group
        for part in path:
            command = command.commands[part]  # type: ignore[attr-defined]
        assert command.help or command.short_help, f"{' '.join(path)} has no help text"
        assert "Usage:" in out


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from nudge.cli import app; "
        "heavy = [m for m in ('googleapiclient', 'caldav', 'sqlalchemy', 'icalendar', 'vobject', 'jinja2') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
    help_run = subprocess.run(
        [sys.executable, "-m", "nudge", "--help"], capture_output=True, text=True, check=True
    )
    assert "digest" in help_run.stdout


def test_init_writes_a_private_starter_config(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    code, out = nudge("init", config=path)
    assert code == 0, out
    assert path.stat().st_mode & 0o777 == 0o600
    assert "timezone" in path.read_text()
    code, out = nudge("init", config=path)
    assert code == 1 and "exists" in out
    code, _ = nudge("init", "--force", config=path)
    assert code == 0
    code, out = nudge("digest", "--dry-run", config=path)
    assert code == 0, out


def test_bad_config_lists_every_problem_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[digest]\ndaily_size = 0\ntime = "25:00"\n[me]\nregion = "Germany"\n')
    code, out = nudge("contacts", config=path)
    assert code == 1
    assert "digest.daily_size" in out and "digest.time" in out and "me.region" in out
    assert "Traceback" not in out


def test_sync_prints_a_line_per_source_and_fails_when_one_does(cfg: Path, tmp_path: Path) -> None:
    code, out = nudge("sync", config=cfg)
    assert code == 0
    assert "files: 0 added, 0 changed" in out
    (tmp_path / "calendar.ics").unlink()
    code, out = nudge("sync", config=cfg)
    assert code == 1 and "FAILED" in out and "calendar.ics" in out


@pytest.mark.both_stores
def test_digest_dry_run_json_and_send_once(cfg: Path, tmp_path: Path) -> None:
    code, out = nudge("digest", "--dry-run", config=cfg)
    assert code == 0 and out.startswith("Be curious today:")
    assert not (tmp_path / "Maildir").exists()
    code, out = nudge("digest", "--json", config=cfg)
    plan = json.loads(out)
    assert {c["name"] for c in plan["calls"]} == {"Ana Ruiz", "Anna Berg", "Zoë Çelik"}
    assert [p["name"] for p in plan["partners"]] == ["Ben Ott"]
    assert plan["calls"][0]["why"] and plan["capacity"]["ok"] is True
    code, out = nudge("digest", config=cfg)
    assert code == 0 and "Sent" in out
    code, out = nudge("digest", config=cfg)
    assert code == 0 and "already sent" in out
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=False)
    assert len(box) == 1
    code, out = nudge("digest", "--force", config=cfg)
    assert code == 0 and len(box) == 2


def test_digest_on_a_day_off(cfg: Path, clock: time_machine.Coordinates, tmp_path: Path) -> None:
    clock.move_to(NOW + timedelta(days=5))  # Saturday
    code, out = nudge("digest", config=cfg)
    assert code == 0 and "not one of digest.workdays" in out
    assert not (tmp_path / "Maildir").exists()


def test_digest_preview_of_another_day(cfg: Path) -> None:
    code, out = nudge("digest", "--date", "2026-11-28", config=cfg)
    assert code == 0 and "not one of your digest workdays" in out
    code, out = nudge("digest", "--date", "28.11.2026", config=cfg)
    assert code == 1 and "--date: use YYYY-MM-DD" in out


@pytest.mark.both_stores
def test_log_with_forgiving_names(cfg: Path) -> None:
    code, out = nudge("log", "zoe", "call: new job at Acme, wants intro to a CFO", config=cfg)
    assert code == 0 and "Logged call with Zoë Çelik" in out
    code, out = nudge("show", "ZOË ç", "--json", config=cfg)
    info = json.loads(out)
    assert info["touches"][0]["note"] == "new job at Acme, wants intro to a CFO"
    assert info["touches"][0]["kind"] == "call"
    code, out = nudge("log", "ben", "message: thanks", "--at", "2026-11-20", config=cfg)
    assert code == 0
    info = json.loads(nudge("show", "ben@example.net", "--json", config=cfg)[1])
    assert info["touches"][0]["kind"] == "message" and info["touches"][0]["at"].startswith("2026-11-20")


@pytest.mark.both_stores
def test_unknown_or_ambiguous_name_changes_nothing(cfg: Path) -> None:
    before = nudge("contacts", "--json", config=cfg)[1]
    code, out = nudge("log", "an", "call: hi", config=cfg)
    assert code == 1 and "Ana Ruiz" in out and "Anna Berg" in out and "matches 2 contacts" in out
    code, out = nudge("log", "nobody", "call: hi", config=cfg)
    assert code == 1 and "no contact matches 'nobody'" in out
    assert nudge("contacts", "--json", config=cfg)[1] == before


def test_log_rejects_future_and_bad_kinds(cfg: Path) -> None:
    code, out = nudge("log", "ana r", "hello", "--at", "2030-01-01", config=cfg)
    assert code == 1 and "future" in out
    code, out = nudge("log", "ana r", "hello", "--kind", "fax", config=cfg)
    assert code == 1 and "kind must be one of" in out


@pytest.mark.both_stores
def test_snooze_tier_and_referrals(cfg: Path) -> None:
    code, out = nudge("snooze", "ana r", "2w", config=cfg)
    assert code == 0 and "snoozed until" in out
    plan = json.loads(nudge("digest", "--json", config=cfg)[1])
    assert "Ana Ruiz" not in {c["name"] for c in plan["calls"]}
    code, out = nudge("snooze", "ana r", "someday", config=cfg)
    assert code == 1 and "duration" in out
    assert nudge("snooze", "ana r", "off", config=cfg)[0] == 0
    code, out = nudge("tier", "anna", "partner", config=cfg)
    assert code == 0 and "tier partner" in out
    code, out = nudge("tier", "anna", "vip", config=cfg)
    assert code == 1 and "unknown tier" in out
    assert nudge("tier", "anna", "none", config=cfg)[0] == 0
    rows = json.loads(nudge("contacts", "--json", "--tier", "partner", config=cfg)[1])
    assert [r["name"] for r in rows] == ["Ben Ott"]
    assert nudge("referral", "given", "ben", "intro to Lee", "--counterpart", "Lee Chan", config=cfg)[0] == 0
    assert nudge("referral", "received", "ben", "a client", config=cfg)[0] == 0
    assert nudge("referral", "received", "ben", "another client", config=cfg)[0] == 0
    info = json.loads(nudge("show", "ben", "--json", config=cfg)[1])
    assert sorted(r["direction"] for r in info["referrals"]) == ["given", "received", "received"]
    text = nudge("digest", "--dry-run", config=cfg)[1]
    assert "ledger: given 1, received 2" in text
    assert "think of one introduction you can make for Ben" in text


@pytest.mark.both_stores
def test_contacts_table_and_json(cfg: Path) -> None:
    code, out = nudge("contacts", config=cfg)
    assert code == 0 and "Ana Ruiz" in out and "4 contacts" in out
    rows = json.loads(nudge("contacts", "--json", "--tier", "top100", config=cfg)[1])
    assert {r["name"] for r in rows} == {"Ana Ruiz", "Anna Berg", "Zoë Çelik"}
    ana = next(r for r in rows if r["name"] == "Ana Ruiz")
    assert ana["due"] == 1.5 and ana["last_touch_at"].startswith("2026-10-09")


@pytest.mark.both_stores
def test_show_text(cfg: Path) -> None:
    code, out = nudge("show", "ana ruiz", config=cfg)
    assert code == 0
    assert "Ana Ruiz" in out and "+49301234567" in out and "meeting" in out and "Coffee" in out


def test_demo_runs_without_config(tmp_path: Path, clock: time_machine.Coordinates) -> None:
    code, out = nudge("demo", "--dir", str(tmp_path / "demo"))
    assert code == 0, out
    assert out.startswith("Be curious today:")
    assert "changed jobs" in out and "Referral partner" in out and "Top 100 at a glance" in out
    box = mailbox.Maildir(str(tmp_path / "demo" / "Maildir"), create=False)
    messages = list(box)
    assert len(messages) == 1
    parts = [p.get_content_type() for p in messages[0].walk()]
    assert parts == ["multipart/alternative", "text/plain", "text/html"]
    assert str(tmp_path / "demo" / "Maildir") in out


def test_version() -> None:
    code, out = nudge("--version")
    assert code == 0 and out.startswith("nudge ")


def test_when_now_is_pinned(clock: time_machine.Coordinates) -> None:
    """The fixtures above rely on the CLI reading the (travelled) wall clock."""
    from nudge.cli import common as cli

    assert cli.now() == NOW
    assert isinstance(cli.now(), datetime)


def test_auth_google_needs_a_client_secrets_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    code, out = nudge("auth", "google", "--account", "work", config=path)
    assert code == 1 and "no client_secrets for the Google account 'work'" in out
    code, out = nudge("auth", "google", "--client-secrets", str(tmp_path / "missing.json"), config=path)
    assert code == 1 and "missing.json" in out
